import { UrlSigner } from '../../src/auth/url-signer';

const KEY = Buffer.alloc(32, 7);
const PATH = '/static/9f906177-55d1-45a4-b376-b601314fdaa3/renders/scene_01.png';

describe('UrlSigner', () => {
  let now = Date.UTC(2026, 10, 28, 12, 0, 30);
  const signer = new UrlSigner(KEY, 3600, () => now);
  const parts = (url: string) => new URL(url, 'http://x').searchParams;

  it('signs for at least the TTL, rounded up to a tenth of it, so reads within a step sign alike', () => {
    const first = signer.sign(PATH);
    const expires = Number(parts(first).get('expires'));
    expect(expires * 1000 - now).toBeGreaterThanOrEqual(3600_000);
    expect(expires * 1000 - now).toBeLessThanOrEqual(3960_000);
    expect(expires % 360).toBe(0);
    now += 1000;
    expect(signer.sign(PATH)).toBe(first);
    now += 360_000;
    expect(signer.sign(PATH)).not.toBe(first);
  });

  it('accepts its own signature until it expires, then says expired', () => {
    const url = parts(signer.sign(PATH));
    expect(signer.check(PATH, url.get('expires'), url.get('signature'))).toBe('valid');
    now += 4000_000;
    expect(signer.check(PATH, url.get('expires'), url.get('signature'))).toBe('expired');
  });

  it.each([
    ['another path', (e: string, s: string) => ['/static/other/scene_01.png', e, s]],
    ['a later expiry', (e: string, s: string) => [PATH, String(Number(e) + 60), s]],
    [
      'a changed signature',
      (e: string, s: string) => [PATH, e, `${s.slice(0, -1)}${s.endsWith('A') ? 'B' : 'A'}`],
    ],
    ['no signature', (e: string) => [PATH, e, undefined]],
    ['an expiry that is no number', (_e: string, s: string) => [PATH, '1e12', s]],
    ['repeated parameters', (e: string, s: string) => [PATH, e, [s, s]]],
  ])('refuses %s as invalid', (_name, change) => {
    const url = parts(signer.sign(PATH));
    const [path, expires, signature] = change(url.get('expires') ?? '', url.get('signature') ?? '') as [
      string,
      unknown,
      unknown,
    ];
    expect(signer.check(path, expires, signature)).toBe('invalid');
  });

  it('signs every path of one answer with the same expiry', () => {
    const sign = signer.signing();
    const other = '/static/9f906177-55d1-45a4-b376-b601314fdaa3/scene_01.png';
    const [first, second] = [sign(PATH), sign(other)].map((url) => parts(url));
    expect(first.get('expires')).toBe(second.get('expires'));
    expect(signer.check(other, second.get('expires'), second.get('signature'))).toBe('valid');
  });

  it('does not accept a signature made with another key', () => {
    const other = new UrlSigner(Buffer.alloc(32, 8), 3600, () => now);
    const url = parts(other.sign(PATH));
    expect(signer.check(PATH, url.get('expires'), url.get('signature'))).toBe('invalid');
  });
});
