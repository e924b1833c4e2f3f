import { OutageTrack } from '../../domain/jobs';
import { ProviderError, shownDuration } from '../provider-error';
import { BreakerState, ProviderOutageError } from './provider-breaker';

/** What a job does after a provider call failed. */
export type OutageDecision =
  /** The provider is down: wait (without spending an attempt) and try again. */
  | { kind: 'wait'; delayMs: number; track: OutageTrack }
  /** Apply the usual policy (retry while attempts last) to the error; `track` is the job's new record. */
  | { kind: 'usual'; track: OutageTrack | undefined }
  /** Waited past the tolerance: fail for good with this error. */
  | { kind: 'give-up'; error: ProviderError };

export interface FailureFacts {
  err: unknown;
  /** The provider's breaker, read after this failure was recorded. */
  state: BreakerState;
  track: OutageTrack | undefined;
  /** Whether the usual policy would make this failure final (its last attempt). */
  lastAttempt: boolean;
  label: string;
  toleranceMs: number;
  probeIntervalMs: number;
  random?: () => number;
}

/** A floor on every wait, so a permit that expired while it travelled does not spin. */
const MIN_WAIT_MS = 50;

/** The most a waiting job's wake is spread past the next probe, so they do not all wake at once. */
export function maxJitterMs(probeIntervalMs: number): number {
  return Math.min(1000, probeIntervalMs / 4);
}

/**
 * Whether a failed provider call means the provider is down, and so the job waits for it instead of
 * failing. It is down when:
 * - the call was not even sent (its breaker is open), or the breaker is open now; or
 * - the job is on its last attempt and the provider has answered nobody since the job's first failure:
 *   with little traffic the breaker may never reach its threshold, and a lone session must ride out an
 *   outage too. When it answered others meanwhile, the fault is this request's, which fails as before.
 * Errors retrying cannot fix never wait. The wait lasts until the next probe is due (plus jitter, so the
 * waiting jobs do not all wake at once), and never past the tolerance, counted from when this job started
 * waiting; a job that wakes past it gives up with an error that says so.
 */
export function decideOnFailure(facts: FailureFacts): OutageDecision {
  const { err, state, track, toleranceMs, probeIntervalMs } = facts;
  if (!(err instanceof ProviderError) || !err.retryable) return { kind: 'usual', track: undefined };
  const failingSince = track?.failingSince ?? state.now;
  const down =
    err instanceof ProviderOutageError ||
    state.open ||
    (facts.lastAttempt && state.lastAnsweredAt < failingSince);
  // A job that waited before keeps counting from then: a provider that keeps failing and recovering must
  // not give it a fresh tolerance each time.
  if (!down) return { kind: 'usual', track: { failingSince, waitingSince: track?.waitingSince } };

  const waitingSince = track?.waitingSince ?? state.now;
  const waited = state.now - waitingSince;
  const left = toleranceMs - waited;
  if (left <= 0) {
    const cause = state.lastError ?? err.message;
    return {
      kind: 'give-up',
      error: new ProviderError(
        `${facts.label} was unavailable for ${shownDuration(waited)}, longer than the outage tolerance; last error: ${cause}`,
        false,
      ),
    };
  }
  const base = state.open
    ? Math.max((state.nextProbeAt ?? state.now) - state.now, err.retryAfterMs ?? 0)
    : err instanceof ProviderOutageError
      ? 0 // refused while open, closed since: go again at once
      : Math.max(probeIntervalMs, err.retryAfterMs ?? 0);
  const jitter = Math.floor((facts.random ?? Math.random)() * maxJitterMs(probeIntervalMs));
  // Wakes at the tolerance's end at the latest, to give up on time rather than one interval late.
  const delayMs = Math.max(MIN_WAIT_MS, Math.min(base + jitter, left));
  return { kind: 'wait', delayMs, track: { failingSince, waitingSince } };
}
