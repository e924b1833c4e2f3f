import type { MinimalJob } from 'bullmq';
import { ProviderError } from '../../src/providers/provider-error';
import { providerBackoff } from '../../src/queue/retry-backoff';

const job = (delay: number) => ({ opts: { backoff: { type: 'provider', delay } } }) as unknown as MinimalJob;

describe('providerBackoff', () => {
  it('grows exponentially with up to 50% jitter below each step', () => {
    for (const attempt of [1, 2, 3, 4]) {
      const step = 100 * 2 ** (attempt - 1);
      const delays = Array.from({ length: 50 }, () =>
        providerBackoff(attempt, 'provider', new Error('x'), job(100)),
      );
      for (const delay of delays) {
        expect(delay).toBeGreaterThanOrEqual(step / 2);
        expect(delay).toBeLessThanOrEqual(step);
      }
      // Jittered: not every retry of a burst lands at the same moment.
      expect(new Set(delays).size).toBeGreaterThan(1);
    }
  });

  it("waits at least the provider's Retry-After", () => {
    const rateLimited = new ProviderError('OpenRouter rate limit reached', true, 7_000);
    expect(providerBackoff(1, 'provider', rateLimited, job(100))).toBe(7_000);
  });

  it('never waits more than ten minutes', () => {
    const rateLimited = new ProviderError('slow down', true, 3_600_000);
    expect(providerBackoff(1, 'provider', rateLimited, job(100))).toBe(600_000);
  });
});
