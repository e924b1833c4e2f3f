import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import { crc32 } from 'node:zlib';
import { AddressInfo, isIPv6 } from 'node:net';
import sharp from 'sharp';
import { BehaviourControl, behaviourControl } from './fake-behaviour';

export type FakeImageFormat = 'png' | 'jpg' | 'webp';

export const CONTENT_TYPES: Record<FakeImageFormat, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  webp: 'image/webp',
};

const cache = new Map<string, Promise<Buffer>>();

/**
 * A real, decodable image. Small requests get a 64×64 gradient; with `approxBytes` the image is random
 * noise sized so an uncompressed-ish PNG is about that big (noise does not compress), for benchmarks.
 * Results are cached per format and size.
 */
export function fakeImage(format: FakeImageFormat, approxBytes?: number): Promise<Buffer> {
  const key = `${format}:${approxBytes ?? 0}`;
  let image = cache.get(key);
  if (!image) {
    image = render(format, approxBytes);
    cache.set(key, image);
  }
  return image;
}

async function render(format: FakeImageFormat, approxBytes?: number): Promise<Buffer> {
  const side = approxBytes ? Math.max(64, Math.ceil(Math.sqrt(approxBytes / 3))) : 64;
  const pixels = approxBytes ? randomBytes(side * side * 3) : gradient(side);
  const image = sharp(pixels, { raw: { width: side, height: side, channels: 3 } });
  if (format === 'jpg') return image.jpeg({ quality: 90 }).toBuffer();
  if (format === 'webp') return image.webp({ quality: 90 }).toBuffer();
  return image.png({ compressionLevel: approxBytes ? 0 : 6 }).toBuffer();
}

function gradient(side: number): Buffer {
  const pixels = Buffer.alloc(side * side * 3);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const i = (y * side + x) * 3;
      pixels[i] = (x * 255) / side;
      pixels[i + 1] = (y * 255) / side;
      pixels[i + 2] = 160;
    }
  }
  return pixels;
}

export interface FakeImageHostBehaviour {
  /** HTTP status to answer with; anything but 200 gets a short text body instead of an image. */
  status: number;
  /** Hold the answer until `release()` is called: a slow host, without a timer to race. */
  held: boolean;
  /** Send the image without Content-Length (chunked), so its size shows only while it streams. */
  lengthHidden: boolean;
}

export interface FakeImageHostOptions {
  /** Address to listen on: 127.0.0.1 (default) or ::1. */
  address?: string;
  port?: number;
  /** As `fakeImage`'s approxBytes. */
  imageBytes?: number;
  behaviour?: Partial<FakeImageHostBehaviour>;
}

/** How the host answers: standing and one-shot behaviours, for every path or for one path only. */
export interface FakeImageHostControl {
  set(behaviour: Partial<FakeImageHostBehaviour>): void;
  enqueue(...behaviours: Partial<FakeImageHostBehaviour>[]): void;
}

export interface FakeImageHost extends FakeImageHostControl {
  /** host:port as it appears in a URL and in IMAGE_DOWNLOAD_ALLOWED_HOSTS (`[::1]:port` for IPv6). */
  host: string;
  port: number;
  /** GET requests received so far for `path` (counted on arrival, before any hold). */
  requestsFor(path: string): number;
  /** The bytes the host serves at `path` (a URL's pathname, e.g. `/image/x.png`), without a request. */
  bytesFor(path: string): Promise<Buffer>;
  /** Behaviours for one path, merged over those of the whole host. */
  forPath(path: string): FakeImageHostControl;
  /** Sends every held answer. */
  release(): void;
  /** Back to the initial behaviour, with no per-path behaviours, held answers or counts. */
  reset(): void;
  close(): Promise<void>;
}

/**
 * An image host as a provider's CDN: GET `/<anything>.png|jpg|webp` answers that image, anything else 404.
 * Faults (status, holds) can be set for the whole host or for one image path.
 */
export async function startFakeImageHost(options: FakeImageHostOptions = {}): Promise<FakeImageHost> {
  const initial: FakeImageHostBehaviour = {
    status: 200,
    held: false,
    lengthHidden: false,
    ...options.behaviour,
  };
  const host = behaviourControl<FakeImageHostBehaviour>(initial);
  let paths = new Map<string, BehaviourControl<Partial<FakeImageHostBehaviour>>>();
  const requests = new Map<string, number>();
  let held: (() => void)[] = [];

  const release = () => {
    const waiting = held;
    held = [];
    waiting.forEach((send) => send());
  };
  const forPath = (path: string) => {
    let control = paths.get(path);
    if (!control) paths.set(path, (control = behaviourControl<Partial<FakeImageHostBehaviour>>({})));
    return control;
  };

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const match = /\.(png|jpg|webp)$/.exec(path);
    if (req.method !== 'GET' || !match) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    requests.set(path, (requests.get(path) ?? 0) + 1);
    const behaviour = { ...host.next(), ...paths.get(path)?.next() };
    const answer = () => void answerWith(res, behaviour, match[1] as FakeImageFormat, path);
    if (behaviour.held) held.push(answer);
    else answer();
  });

  async function answerWith(
    res: http.ServerResponse,
    { status, lengthHidden }: FakeImageHostBehaviour,
    format: FakeImageFormat,
    path: string,
  ) {
    if (res.destroyed) return;
    if (status !== 200) {
      res.writeHead(status, { 'Content-Type': 'text/plain' }).end(`fake image host: ${status}`);
      return;
    }
    try {
      const bytes = markedWith(await fakeImage(format, options.imageBytes), format, path);
      const length = lengthHidden ? {} : { 'Content-Length': bytes.length };
      res.writeHead(200, { 'Content-Type': CONTENT_TYPES[format], ...length }).end(bytes);
    } catch {
      res.writeHead(500).end();
    }
  }

  const address = options.address ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, address, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  // Warm the cache so the first download is not slowed by image generation.
  await fakeImage('png', options.imageBytes);

  return {
    host: `${isIPv6(address) ? `[${address}]` : address}:${port}`,
    port,
    set: host.set,
    enqueue: host.enqueue,
    requestsFor: (path) => requests.get(path) ?? 0,
    bytesFor: async (path) => {
      const format = (/\.(png|jpg|webp)$/.exec(path)?.[1] ?? 'png') as FakeImageFormat;
      return markedWith(await fakeImage(format, options.imageBytes), format, path);
    },
    forPath: (path) => {
      const control = forPath(path);
      return { set: control.set, enqueue: control.enqueue };
    },
    release,
    reset: () => {
      host.reset();
      paths = new Map();
      requests.clear();
      release(); // nothing is left waiting for a test that has ended
    },
    close: async () => {
      held = [];
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The image with `marker` (its path) embedded where decoders ignore it, so every image the host serves has
 * bytes of its own and a test can tell one scene's image from another's: a PNG tEXt chunk after IHDR, a
 * JPEG comment after SOI. WebP images are served as they are.
 */
function markedWith(image: Buffer, format: FakeImageFormat, marker: string): Buffer {
  const text = Buffer.from(`fake\0${marker}`, 'latin1');
  if (format === 'png') {
    const type = Buffer.from('tEXt', 'latin1');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(text.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([type, text])));
    const afterHeader = 8 + 25; // signature, then the IHDR chunk
    return Buffer.concat([
      image.subarray(0, afterHeader),
      length,
      type,
      text,
      crc,
      image.subarray(afterHeader),
    ]);
  }
  if (format === 'jpg') {
    const comment = Buffer.alloc(4);
    comment.writeUInt16BE(0xfffe);
    comment.writeUInt16BE(text.length + 2, 2);
    return Buffer.concat([image.subarray(0, 2), comment, text, image.subarray(2)]);
  }
  return image;
}
