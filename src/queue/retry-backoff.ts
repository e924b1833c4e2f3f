import type { MinimalJob } from 'bullmq';
import { ProviderError } from '../providers/provider-error';

/** Name of the backoff type that honours a provider's Retry-After. */
export const PROVIDER_BACKOFF = 'provider';

const JITTER = 0.5;
const MAX_DELAY_MS = 10 * 60_000;

/**
 * Exponential backoff with jitter (as BullMQ's built-in one), stretched to the provider's Retry-After
 * when it sent one (OpenRouter 429s do): retrying before then would only burn an attempt.
 */
export function providerBackoff(attemptsMade: number, _type?: string, err?: Error, job?: MinimalJob): number {
  const backoff = job?.opts.backoff;
  const base = typeof backoff === 'object' && backoff.delay !== undefined ? backoff.delay : 1000;
  const exponential = Math.pow(2, Math.max(0, attemptsMade - 1)) * base;
  const jittered = Math.floor(exponential * (1 - JITTER) + Math.random() * exponential * JITTER);
  const retryAfter = err instanceof ProviderError && err.retryAfterMs !== undefined ? err.retryAfterMs : 0;
  return Math.min(MAX_DELAY_MS, Math.max(jittered, retryAfter));
}
