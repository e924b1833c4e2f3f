import { createHmac, timingSafeEqual } from 'node:crypto';

export type SignatureCheck = 'valid' | 'expired' | 'invalid';

/**
 * Signed image URLs, so an `<img>` tag (which cannot send a header) can load a session's images: an
 * HMAC-SHA256 over the path and the expiry time. Expiry times are rounded up to a step (a tenth of the
 * TTL, at least a minute), so every status read within one step signs the same URLs: the status body and
 * its ETag stay cacheable, and a URL always works for at least the TTL.
 */
export class UrlSigner {
  private readonly stepSeconds: number;

  constructor(
    private readonly key: Buffer,
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {
    this.stepSeconds = Math.max(60, Math.ceil(ttlSeconds / 10));
  }

  /** The expiry (Unix seconds) of URLs signed now. */
  currentExpiry(): number {
    const earliest = Math.floor(this.now() / 1000) + this.ttlSeconds;
    return Math.ceil(earliest / this.stepSeconds) * this.stepSeconds;
  }

  /**
   * A signer of paths for one answer: every URL in it gets the same expiry, so a body built within one
   * step is byte-identical (its cache entry and ETag hold).
   */
  signing(expires = this.currentExpiry()): (path: string) => string {
    return (path) => this.sign(path, expires);
  }

  /** `path` with `expires` and `signature` query parameters. */
  sign(path: string, expires = this.currentExpiry()): string {
    return `${path}?expires=${expires}&signature=${this.signature(path, expires)}`;
  }

  check(path: string, expires: unknown, signature: unknown): SignatureCheck {
    if (typeof expires !== 'string' || typeof signature !== 'string' || !/^\d{1,12}$/.test(expires))
      return 'invalid';
    const expected = Buffer.from(this.signature(path, Number(expires)));
    const given = Buffer.from(signature);
    // A valid signature of an expired URL says "expired"; anything else is just invalid.
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
    return Number(expires) * 1000 < this.now() ? 'expired' : 'valid';
  }

  private signature(path: string, expires: number): string {
    return createHmac('sha256', this.key).update(`${path}\n${expires}`).digest('base64url');
  }
}
