import { Counter, register } from 'prom-client';

export type ProviderOperation = 'plan' | 'render';
/**
 * `short_circuited`: not sent, because the provider's circuit breaker is open. `retryable_error`: failed in
 * a way a retry may fix (5xx, 429, timeout, unreachable); `fatal_error`: in a way it cannot (key, credit,
 * moderation, invalid output).
 */
export type ProviderOutcome = 'success' | 'retryable_error' | 'fatal_error' | 'short_circuited';

const NAME = 'provider_requests_total';

/**
 * Every planner and renderer call, on prom-client's global registry (which GET /metrics serves). One
 * counter per process: Jest runs many applications in one process, and prom-client refuses a second
 * metric with the same name, so an existing one is reused.
 */
export function providerRequests(): Counter<'provider' | 'operation' | 'outcome'> {
  const existing = register.getSingleMetric(NAME);
  if (existing) return existing as Counter<'provider' | 'operation' | 'outcome'>;
  return new Counter({
    name: NAME,
    help: 'Requests to the scene planner and image renderer providers, by outcome',
    labelNames: ['provider', 'operation', 'outcome'] as const,
    registers: [register],
  });
}

export function countProviderRequest(
  provider: string,
  operation: ProviderOperation,
  outcome: ProviderOutcome,
): void {
  providerRequests().inc({ provider, operation, outcome });
}
