import * as dns from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import { LookupFunction } from 'node:net';
import { AppConfig } from '../../config/app-config';
import { sniffed } from '../image-body';
import { ImageDownload } from '../image-fetcher';
import { ProviderError, shownDuration } from '../provider-error';
import { accessFor, HostRule, isPrivateAddress, parseHostRules } from './host-policy';
import { ImageKind, kindOfContentType, MIME_TYPES } from '../../common/image-sniff';

export { sniffImageType } from '../../common/image-sniff';

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
 * Downloads a provider image defensively: http(s) only, allowlisted hosts only, redirects followed by hand
 * and only on the same host, one deadline for the whole download, a size cap checked before and while
 * streaming, and a format taken from the magic bytes (which must agree with the announced Content-Type).
 * The body streams on into the image storage, which keeps nothing of a body that fails.
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

  /**
   * Opens the image: the request, redirects, status and header checks and the format check of the first
   * bytes happen here; the size cap, the length check and the deadline go on applying while the body is
   * read, so a body that breaks a rule fails its reader and never becomes a stored image.
   */
  async open(url: string): Promise<ImageDownload> {
    const controller = new AbortController();
    let deadlineHit = false;
    const timer = setTimeout(() => {
      deadlineHit = true;
      controller.abort();
    }, this.config.imageDownloadTimeoutMs);
    let response: http.IncomingMessage | undefined;
    const cancel = () => {
      clearTimeout(timer);
      response?.destroy();
    };
    const explain = (err: unknown): ProviderError => {
      if (err instanceof ProviderError) return err;
      if (deadlineHit) {
        return new ProviderError(
          `Image download did not finish within ${shownDuration(this.config.imageDownloadTimeoutMs)}`,
          true,
        );
      }
      return new ProviderError(`Image download failed${errorCode(err)}`, true);
    };
    try {
      let current = parseHttpUrl(url);
      for (let redirects = 0; ; redirects++) {
        response = await this.get(current, controller.signal);
        if (!REDIRECTS.has(response.statusCode ?? 0)) break;
        response.resume();
        current = this.redirectTarget(current, response.headers.location, redirects);
      }
      const announced = this.checkHeaders(response);
      const { kind, chunks } = await sniffed(response);
      if (!kind) throw refused('The download is not a PNG, JPEG, WebP or GIF image');
      if (kind !== announced) throw refused(`The image content (${kind}) does not match its Content-Type`);
      const body = guarded(chunks, response, this.config.imageDownloadMaxBytes, explain, cancel);
      return { ext: kind, contentType: MIME_TYPES[kind], body, cancel };
    } catch (err) {
      cancel();
      throw explain(err);
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

  /** Status, type and declared size, before any of the body is read; returns the announced format. */
  private checkHeaders(response: http.IncomingMessage): ImageKind {
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      const retryable = status >= 500 || status === 408 || status === 429;
      throw new ProviderError(`The image host answered HTTP ${status}`, retryable);
    }
    const contentType = (response.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const announced = kindOfContentType(contentType);
    if (!contentType.startsWith('image/'))
      throw refused(`The download is not an image (Content-Type ${contentType || 'missing'})`);
    if (!announced) throw refused(`Unsupported image type ${contentType}`);
    const maxBytes = this.config.imageDownloadMaxBytes;
    const declared = Number(response.headers['content-length']);
    if (response.headers['content-length'] !== undefined && declared > maxBytes) {
      throw refused(`The image is larger than the ${maxBytes}-byte limit`);
    }
    return announced;
  }
}

/**
 * The body with the download's rules applied while it is read: at most `maxBytes`, exactly the declared
 * Content-Length, within the deadline (its timer is cleared when the body ends, however it ends).
 */
async function* guarded(
  chunks: AsyncIterable<Buffer>,
  response: http.IncomingMessage,
  maxBytes: number,
  explain: (err: unknown) => ProviderError,
  release: () => void,
): AsyncGenerator<Buffer> {
  let bytes = 0;
  try {
    for await (const chunk of chunks) {
      bytes += chunk.length;
      if (bytes > maxBytes) throw refused(`The image is larger than the ${maxBytes}-byte limit`);
      yield chunk;
    }
    const declared = Number(response.headers['content-length']);
    if (response.headers['content-length'] !== undefined && declared !== bytes) {
      throw new ProviderError('The image download was cut short', true);
    }
  } catch (err) {
    throw explain(err);
  } finally {
    release();
  }
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
