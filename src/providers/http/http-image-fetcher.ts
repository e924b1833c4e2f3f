import { randomBytes } from 'node:crypto';
import * as dns from 'node:dns';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { LookupFunction } from 'node:net';
import * as path from 'node:path';
import { finished } from 'node:stream/promises';
import { AppConfig } from '../../config/app-config';
import { FetchedImage } from '../image-fetcher';
import { ProviderError, shownDuration } from '../provider-error';
import { accessFor, HostRule, isPrivateAddress, parseHostRules } from './host-policy';
import { ImageKind, kindOfContentType, MIME_TYPES, SNIFF_BYTES, sniffImageType } from './image-sniff';

export { sniffImageType } from './image-sniff';

const MAX_REDIRECTS = 3;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export type FetcherConfig = Pick<
  AppConfig,
  'imageDownloadAllowedHosts' | 'imageDownloadMaxBytes' | 'imageDownloadTimeoutMs'
>;

export interface ResolvedAddress {
  address: string;
  family: number;
}

export interface HttpImageFetcherOptions {
  /** DNS resolution for hosts that must be checked; replaceable in tests. */
  resolve?: (hostname: string) => Promise<ResolvedAddress[]>;
}

/** A download refused by policy: retrying cannot help. */
const refused = (message: string) => new ProviderError(message, false);

/**
 * Downloads a provider image into the image directory, defensively: http(s) only, allowlisted hosts only,
 * redirects followed by hand and only on the same host, one deadline for the whole download, a size cap
 * checked before and while streaming, and a file extension taken from the magic bytes (which must agree
 * with the announced Content-Type). The body is streamed to a temporary file that is renamed into place
 * only when complete, so a reader never sees a partial image and a failure leaves no file behind.
 */
export class HttpImageFetcher {
  private readonly rules: HostRule[];
  private readonly resolve: (hostname: string) => Promise<ResolvedAddress[]>;

  constructor(
    private readonly config: FetcherConfig,
    options: HttpImageFetcherOptions = {},
  ) {
    this.rules = parseHostRules(config.imageDownloadAllowedHosts);
    this.resolve =
      options.resolve ?? ((hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true }));
  }

  async fetchRemote(url: string, targetBase: string): Promise<FetchedImage> {
    const controller = new AbortController();
    let deadlineHit = false;
    const timer = setTimeout(() => {
      deadlineHit = true;
      controller.abort();
    }, this.config.imageDownloadTimeoutMs);
    try {
      let current = parseHttpUrl(url);
      for (let redirects = 0; ; redirects++) {
        const response = await this.get(current, controller.signal);
        const status = response.statusCode ?? 0;
        if (!REDIRECTS.has(status)) return await this.save(response, targetBase);
        response.resume();
        current = this.redirectTarget(current, response.headers.location, redirects);
      }
    } catch (err) {
      if (err instanceof ProviderError) throw err;
      if (deadlineHit) {
        throw new ProviderError(
          `Image download did not finish within ${shownDuration(this.config.imageDownloadTimeoutMs)}`,
          true,
        );
      }
      throw new ProviderError(`Image download failed${errorCode(err)}`, true);
    } finally {
      clearTimeout(timer);
    }
  }

  private redirectTarget(from: URL, location: string | undefined, redirects: number): URL {
    if (!location) throw new ProviderError('The image host sent a redirect without a location', true);
    if (redirects >= MAX_REDIRECTS)
      throw refused(`The image host redirected more than ${MAX_REDIRECTS} times`);
    const next = parseHttpUrl(new URL(location, from).toString());
    // Same host, scheme and port only: a redirect must not reach another service on the same machine.
    if (next.host.toLowerCase() !== from.host.toLowerCase() || next.protocol !== from.protocol) {
      throw refused(
        `The image host redirected to another host or port (${next.protocol}//${next.host}); refused`,
      );
    }
    return next;
  }

  /** One GET, after the host policy check; a wildcard-matched host is pinned to its vetted address. */
  private async get(url: URL, signal: AbortSignal): Promise<http.IncomingMessage> {
    const access = accessFor(url, this.rules);
    if (!access.allowed) throw refused(`Image host ${url.host} is not in IMAGE_DOWNLOAD_ALLOWED_HOSTS`);
    const pinned = access.trusted ? undefined : await this.publicAddress(url.hostname, signal);
    const client = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const request = client.get(url, {
        signal,
        headers: { accept: 'image/png,image/jpeg,image/webp,image/gif;q=0.9,*/*;q=0.1' },
        ...(pinned ? { lookup: pinnedLookup(pinned) } : {}),
      });
      request.once('response', resolve);
      request.once('error', reject);
    });
  }

  private async publicAddress(hostname: string, signal: AbortSignal): Promise<ResolvedAddress> {
    const aborted = new Promise<never>((_, reject) => {
      signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
    });
    const addresses = await Promise.race([this.resolve(hostname.replace(/^\[|\]$/g, '')), aborted]);
    if (addresses.length === 0) throw new ProviderError(`Image host ${hostname} did not resolve`, true);
    if (addresses.some((a) => isPrivateAddress(a.address))) {
      throw refused(`Image host ${hostname} resolves to a private address; refused`);
    }
    return addresses[0];
  }

  private async save(response: http.IncomingMessage, targetBase: string): Promise<FetchedImage> {
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      response.destroy();
      const retryable = status >= 500 || status === 408 || status === 429;
      throw new ProviderError(`The image host answered HTTP ${status}`, retryable);
    }
    const contentType = (response.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const announced = kindOfContentType(contentType);
    if (!contentType.startsWith('image/')) {
      response.destroy();
      throw refused(`The download is not an image (Content-Type ${contentType || 'missing'})`);
    }
    if (!announced) {
      response.destroy();
      throw refused(`Unsupported image type ${contentType}`);
    }
    const maxBytes = this.config.imageDownloadMaxBytes;
    const declared = Number(response.headers['content-length']);
    if (response.headers['content-length'] !== undefined && declared > maxBytes) {
      response.destroy();
      throw refused(`The image is larger than the ${maxBytes}-byte limit`);
    }
    await fs.promises.mkdir(path.dirname(targetBase), { recursive: true });
    return streamToFile(response, targetBase, announced, maxBytes);
  }
}

/**
 * Streams the body to `<targetBase>.<ext>.tmp-<random>` and renames it to `<targetBase>.<ext>`. The first
 * bytes are held back until the format is known, since the extension is part of the file name.
 */
async function streamToFile(
  body: http.IncomingMessage,
  targetBase: string,
  announced: ImageKind,
  maxBytes: number,
): Promise<FetchedImage> {
  let head = Buffer.alloc(0);
  let bytes = 0;
  let file: fs.WriteStream | undefined;
  let tempPath: string | undefined;
  let kind: ImageKind | undefined;

  const open = async (): Promise<fs.WriteStream> => {
    kind = sniffImageType(head) ?? undefined;
    if (!kind) throw refused('The download is not a PNG, JPEG, WebP or GIF image');
    if (kind !== announced) throw refused(`The image content (${kind}) does not match its Content-Type`);
    tempPath = `${targetBase}.${kind}.tmp-${randomBytes(6).toString('hex')}`;
    const stream = fs.createWriteStream(tempPath, { flags: 'wx' });
    await write(stream, head);
    return stream;
  };

  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > maxBytes) throw refused(`The image is larger than the ${maxBytes}-byte limit`);
      if (file) {
        await write(file, chunk);
        continue;
      }
      head = Buffer.concat([head, chunk]);
      if (head.length >= SNIFF_BYTES) file = await open();
    }
    file ??= await open();
    const declared = Number(body.headers['content-length']);
    if (body.headers['content-length'] !== undefined && declared !== bytes) {
      throw new ProviderError('The image download was cut short', true);
    }
    file.end();
    await finished(file);
    const finalPath = path.resolve(`${targetBase}.${kind}`);
    await fs.promises.rename(tempPath as string, finalPath);
    return { path: finalPath, bytes, contentType: MIME_TYPES[kind as ImageKind] };
  } catch (err) {
    body.destroy();
    file?.destroy();
    if (tempPath) await fs.promises.rm(tempPath, { force: true });
    throw err;
  }
}

async function write(stream: fs.WriteStream, chunk: Buffer): Promise<void> {
  if (!stream.write(chunk)) await once(stream, 'drain');
}

function parseHttpUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refused('The image URL is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw refused(`Image URLs must use http or https, not ${url.protocol.replace(/:$/, '')}`);
  }
  return url;
}

/** Connects to the address that passed the private-address check, so a second DNS answer cannot differ. */
function pinnedLookup(pinned: ResolvedAddress): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) callback(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  };
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z_]+$/.test(code) ? ` (${code})` : '';
}
