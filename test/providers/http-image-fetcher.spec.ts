import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { accessFor, isPrivateAddress, parseHostRules } from '../../src/providers/http/host-policy';
import { FetcherConfig, HttpImageFetcher, sniffImageType } from '../../src/providers/http/http-image-fetcher';
import { ImageDownload } from '../../src/providers/image-fetcher';
import { downloadKey } from '../../src/storage/image-keys';
import { LocalImageStorage } from '../../src/storage/local/local-image-storage';
import { providerErrorOf } from '../support/provider-errors';
import { fakeImage } from '../support/fake-images';

const MAX_BYTES = 50_000;
const SESSION_ID = '0b9a3c1e-5f2d-4c7a-9e8b-1d2f3a4b5c6d';
let server: http.Server;
let port: number;
let png: Buffer;
let jpg: Buffer;
let dir: string;
let storage: LocalImageStorage;
/** The server side of the last /stalls response, to see whether the fetcher let go of it. */
let stalled: http.ServerResponse | undefined;

beforeAll(async () => {
  png = await fakeImage('png');
  jpg = await fakeImage('jpg');
  server = http.createServer(route);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fetcher-'));
  storage = new LocalImageStorage(dir);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function route(req: http.IncomingMessage, res: http.ServerResponse): void {
  const send = (status: number, type: string, body: Buffer | string): void => {
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) }).end(body);
  };
  switch (req.url) {
    case '/image.png':
      return send(200, 'image/png', png);
    case '/photo':
      return send(200, 'image/jpeg; charset=binary', jpg);
    case '/page':
      return send(200, 'text/html', '<html>not an image</html>');
    case '/svg':
      return send(200, 'image/svg+xml', '<svg xmlns="http://www.w3.org/2000/svg"/>');
    case '/lying':
      return send(200, 'image/jpeg', png);
    case '/declared-huge':
      res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': String(MAX_BYTES * 10) });
      return void res.end(png);
    case '/streamed-huge': {
      res.writeHead(200, { 'Content-Type': 'image/png' }); // chunked, no Content-Length
      res.write(png);
      const filler = Buffer.alloc(16_384, 7);
      const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(filler)), 1);
      return;
    }
    case '/stalls':
      stalled = res;
      res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': String(png.length) });
      return void res.write(png.subarray(0, 20)); // never ends
    case '/dropped':
      res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': String(png.length) });
      res.write(png.subarray(0, 100));
      return void setTimeout(() => res.socket?.destroy(), 20); // the connection breaks mid-body
    case '/redirect-same':
      return void res.writeHead(302, { Location: '/image.png' }).end();
    case '/redirect-other':
      return void res.writeHead(302, { Location: `http://localhost:${port}/image.png` }).end();
    case '/redirect-loop':
      return void res.writeHead(307, { Location: '/redirect-loop' }).end();
    case '/gone':
      return send(404, 'text/plain', 'not found');
    case '/broken':
      return send(503, 'text/plain', 'try later');
    default:
      return send(404, 'text/plain', 'no route');
  }
}

function fetcher(
  overrides: Partial<FetcherConfig> = {},
  resolve?: () => Promise<{ address: string; family: number }[]>,
) {
  return new HttpImageFetcher(
    {
      imageDownloadAllowedHosts: [`127.0.0.1:${port}`],
      imageDownloadMaxBytes: MAX_BYTES,
      imageDownloadTimeoutMs: 1000,
      ...overrides,
    },
    resolve ? { resolve } : {},
  );
}

const url = (p: string) => `http://127.0.0.1:${port}${p}`;

/** Opens the image and reads its whole body, as a reader that keeps it in memory would. */
async function download(
  f: HttpImageFetcher,
  rawUrl: string,
): Promise<Omit<ImageDownload, 'body' | 'cancel'> & { data: Buffer }> {
  const { ext, contentType, body } = await f.open(rawUrl);
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return { ext, contentType, data: Buffer.concat(chunks) };
}

/** Opens the image and streams it into the image storage, as the download worker does. */
async function store(f: HttpImageFetcher, rawUrl: string) {
  const image = await f.open(rawUrl);
  const key = downloadKey(SESSION_ID, `scene_01.${image.ext}`);
  return {
    key,
    contentType: image.contentType,
    stored: await storage.write(key, image.body, image.contentType),
  };
}

/** Every file left under the temp dir (a failed download must leave none, temp files included). */
function leftovers(): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name);
}

describe('HttpImageFetcher', () => {
  it('downloads from an allowlisted host and takes the format from the magic bytes', async () => {
    const fetched = await store(fetcher(), url('/image.png'));
    expect(fetched).toEqual({
      key: `${SESSION_ID}/scene_01.png`,
      contentType: 'image/png',
      stored: { bytes: png.length, crc32: crc32(png) },
    });
    expect(fs.readFileSync(path.join(dir, fetched.key)).equals(png)).toBe(true);
    expect(leftovers()).toEqual(['scene_01.png']);
  });

  it('yields exactly the bytes the host sent', async () => {
    const fetched = await download(fetcher(), url('/image.png'));
    expect(fetched.ext).toBe('png');
    expect(fetched.data.equals(png)).toBe(true);
  });

  it('accepts a Content-Type with parameters and a JPEG body', async () => {
    const fetched = await download(fetcher(), url('/photo'));
    expect(fetched.ext).toBe('jpg');
    expect(fetched.contentType).toBe('image/jpeg');
    expect(fetched.data.equals(jpg)).toBe(true);
  });

  it('matches allowlist entries by host and port, case-insensitively', async () => {
    const f = fetcher({ imageDownloadAllowedHosts: ['images.example.test', `LocalHost:${port}`] });
    const fetched = await download(f, `http://localhost:${port}/image.png`);
    expect(fetched.data.length).toBe(png.length);
  });

  it('allows only the standard ports for an entry without a port', async () => {
    const error = await providerErrorOf(
      fetcher({ imageDownloadAllowedHosts: ['127.0.0.1'] }).open(url('/image.png')),
    );
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/not in IMAGE_DOWNLOAD_ALLOWED_HOSTS/);
  });

  it.each([
    ['a host that is not allowlisted', `http://localhost:PORT/image.png`, [`127.0.0.1:PORT`]],
    ['an allowlisted host on another port', `http://127.0.0.1:PORT/image.png`, ['127.0.0.1:1']],
    ['a scheme other than http(s)', 'file:///etc/passwd', ['127.0.0.1']],
  ])('refuses %s', async (_label, rawUrl, hosts) => {
    const f = fetcher({ imageDownloadAllowedHosts: hosts.map((h) => h.replace('PORT', String(port))) });
    const error = await providerErrorOf(store(f, rawUrl.replace('PORT', String(port))));
    expect(error.retryable).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  it('refuses a wildcard-matched host that resolves to a private address', async () => {
    const f = fetcher({ imageDownloadAllowedHosts: [`*.images.test:${port}`] }, async () => [
      { address: '127.0.0.1', family: 4 },
    ]);
    const error = await providerErrorOf(f.open(`http://cdn.images.test:${port}/image.png`));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/private address/);
  });

  it('follows a redirect on the same host', async () => {
    const fetched = await download(fetcher(), url('/redirect-same'));
    expect(fetched.data.equals(png)).toBe(true);
  });

  it('refuses a redirect to another host', async () => {
    const f = fetcher({ imageDownloadAllowedHosts: [`127.0.0.1:${port}`, `localhost:${port}`] });
    const error = await providerErrorOf(f.open(url('/redirect-other')));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/redirected to another host/);
  });

  it('stops after three redirects', async () => {
    const error = await providerErrorOf(fetcher().open(url('/redirect-loop')));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/more than 3 times/);
  });

  it('refuses a body whose Content-Length is over the limit before reading it', async () => {
    const error = await providerErrorOf(fetcher().open(url('/declared-huge')));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/larger than/);
  });

  it('fails the body of a stream that grows over the limit, and nothing of it is stored', async () => {
    const image = await fetcher().open(url('/streamed-huge'));
    const received: Buffer[] = [];
    const error = await providerErrorOf(
      (async () => {
        for await (const chunk of image.body) received.push(chunk);
      })(),
    );
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/larger than/);
    expect(Buffer.concat(received).length).toBeLessThanOrEqual(MAX_BYTES);

    const stored = await providerErrorOf(store(fetcher(), url('/streamed-huge')));
    expect(stored.message).toMatch(/larger than/);
    expect(leftovers()).toEqual([]);
  });

  it.each([
    ['/page', /not an image/],
    ['/svg', /Unsupported image type image\/svg\+xml/],
    ['/lying', /does not match its Content-Type/],
  ])('refuses %s', async (p, message) => {
    const error = await providerErrorOf(fetcher().open(url(p)));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(message);
  });

  it('treats 4xx as final and 5xx as retryable', async () => {
    expect((await providerErrorOf(fetcher().open(url('/gone')))).retryable).toBe(false);
    expect((await providerErrorOf(fetcher().open(url('/broken')))).retryable).toBe(true);
  });

  it('times out a stalled body as retryable and stores nothing', async () => {
    const error = await providerErrorOf(store(fetcher({ imageDownloadTimeoutMs: 300 }), url('/stalls')));
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/did not finish/);
    expect(leftovers()).toEqual([]);
  });

  it('fails a body whose connection breaks as retryable and stores nothing', async () => {
    const error = await providerErrorOf(store(fetcher(), url('/dropped')));
    expect(error.retryable).toBe(true);
    expect(leftovers()).toEqual([]);
  });

  it('closes the connection when a body that will not be read is cancelled', async () => {
    stalled = undefined;
    const image = await fetcher({ imageDownloadTimeoutMs: 60_000 }).open(url('/stalls'));
    const response = stalled as http.ServerResponse | undefined;
    expect(response).toBeDefined();
    const closed = new Promise<void>((resolve) => response!.once('close', resolve));
    image.cancel();
    image.cancel(); // safe to repeat
    await closed;
  });

  it('reports a refused connection as retryable', async () => {
    const f = fetcher({ imageDownloadAllowedHosts: ['127.0.0.1:9'] });
    const error = await providerErrorOf(f.open('http://127.0.0.1:9/image.png'));
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/ECONNREFUSED/);
  });
});

describe('sniffImageType', () => {
  it('recognises PNG, JPEG, GIF and WebP and nothing else', () => {
    expect(sniffImageType(png)).toBe('png');
    expect(sniffImageType(jpg)).toBe('jpg');
    expect(sniffImageType(Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1'))).toBe('gif');
    expect(sniffImageType(Buffer.from('RIFF\x24\x00\x00\x00WEBPVP8 ', 'latin1'))).toBe('webp');
    expect(sniffImageType(Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt ', 'latin1'))).toBeNull();
    expect(sniffImageType(Buffer.from('<html>'))).toBeNull();
    expect(sniffImageType(png.subarray(0, 4))).toBeNull();
  });
});

describe('accessFor', () => {
  it.each([
    ['[::1]:8080', 'http://[::1]:8080/a.png'],
    ['[0:0:0:0:0:0:0:1]:8080', 'http://[::1]:8080/a.png'],
    ['[::FFFF:127.0.0.1]:8080', 'http://[::ffff:7f00:1]:8080/a.png'],
    ['::1', 'https://[::1]/a.png'],
  ])('matches the IPv6 entry %s whatever way the address is written (%s)', (entry, url) => {
    expect(accessFor(new URL(url), parseHostRules([entry]))).toEqual({ allowed: true, trusted: true });
  });

  it('refuses an IPv6 entry on another port', () => {
    expect(accessFor(new URL('http://[::1]:8081/a.png'), parseHostRules(['[::1]:8080']))).toEqual({
      allowed: false,
    });
  });
});

describe('isPrivateAddress', () => {
  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.20.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '0.0.0.0',
    '::1',
    'fe80::1',
    'fd00::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::127.0.0.1',
    '64:ff9b::10.0.0.1',
    '64:ff9b::a9fe:a9fe',
    '2002:c0a8:101::1',
    '[::1]',
    'not-an-address',
    // Translation prefixes are refused whole, whatever IPv4 address they carry: a gateway decides where
    // they lead.
    '64:ff9b::808:808', // NAT64 of a public address
    '64:ff9b:1::a00:1', // local-use NAT64
    '2002:808:808::1', // 6to4 of a public address
    '::8.8.8.8', // IPv4-compatible (::/96)
    '::',
    'fec0::1', // site-local
    '2001:0:4136:e378:8000:63bf:3fff:fdd2', // Teredo
    '::ffff:0:7f00:1', // IPv4-translated 127.0.0.1
    'fefe::1',
  ])('treats %s as private', (address) => expect(isPrivateAddress(address)).toBe(true));
  it.each([
    '8.8.8.8',
    '104.18.2.3',
    '2606:4700::1111',
    '::ffff:8.8.8.8',
    '2001:4860:4860::8888',
    '::1:0:0:1',
  ])('treats %s as public', (address) => expect(isPrivateAddress(address)).toBe(false));
});
