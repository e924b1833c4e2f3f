import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { RedisService } from '../../redis/redis.service';
import { ProviderError } from '../provider-error';

/** The live providers a breaker guards; offline providers cannot have an outage. */
export type GuardedProvider = 'openrouter' | 'runware';

export const PROVIDER_LABELS: Record<GuardedProvider, string> = {
  openrouter: 'OpenRouter',
  runware: 'Runware',
};

export function isGuardedProvider(name: string): name is GuardedProvider {
  return name === 'openrouter' || name === 'runware';
}

/** What a caller may do now: send (breaker closed), send as the one probe of this interval, or wait. */
export type Permit = { kind: 'closed' } | { kind: 'probe' } | { kind: 'wait'; waitMs: number };

/** A breaker as Redis holds it; times are Redis's clock (ms), so every machine reads the same. */
export interface BreakerState {
  now: number;
  open: boolean;
  /** Retryable failures in a row, cluster-wide; any answer resets it. */
  failures: number;
  /** When the provider last answered (0: not since the breaker's key was created). */
  lastAnsweredAt: number;
  nextProbeAt: number | null;
  /** The last retryable failure's message (written for users). */
  lastError: string | null;
}

/**
 * A request that was not sent because the provider's breaker is open. Retryable by nature; it never costs
 * a job attempt (see ProviderOutages).
 */
export class ProviderOutageError extends ProviderError {
  constructor(
    readonly provider: GuardedProvider,
    waitMs: number,
  ) {
    super(`${PROVIDER_LABELS[provider]} is unavailable; waiting for it to recover`, true, waitMs);
    this.name = 'ProviderOutageError';
  }
}

// Every script reads Redis's clock (allowed before writes: Redis 7 replicates scripts by effects), so the
// workers of many machines agree on when the next probe is due.
const NOW = `
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// Closed: go. Open: the first caller at or after next_probe_at claims the probe (and moves next_probe_at on
// by one interval, so the cluster sends at most one per interval); the others get the time to wait.
const ACQUIRE = `${NOW}
if redis.call('hexists', KEYS[1], 'opened_at') == 0 then return {1, 0} end
local next_probe = tonumber(redis.call('hget', KEYS[1], 'next_probe_at') or '0')
if now >= next_probe then
  redis.call('hset', KEYS[1], 'next_probe_at', now + tonumber(ARGV[1]))
  return {2, 0}
end
return {0, next_probe - now}`;

// The provider answered (successfully, or with an error retrying cannot fix): the streak ends and the
// breaker closes. Returns 1 when it was open.
const ANSWERED = `${NOW}
local was_open = redis.call('hexists', KEYS[1], 'opened_at')
redis.call('hset', KEYS[1], 'failures', 0, 'last_answered_at', now)
redis.call('hdel', KEYS[1], 'opened_at', 'next_probe_at')
redis.call('pexpire', KEYS[1], ARGV[1])
return was_open`;

// A retryable failure: the streak grows and opens the breaker at the threshold; a failure while open (the
// probe's, or a request sent before it opened) puts the next probe a full interval away. Returns 1 when
// this failure opened it.
const FAILED = `${NOW}
local failures = redis.call('hincrby', KEYS[1], 'failures', 1)
redis.call('hset', KEYS[1], 'last_error', ARGV[4])
local opened = 0
if redis.call('hexists', KEYS[1], 'opened_at') == 1 then
  redis.call('hset', KEYS[1], 'next_probe_at', now + tonumber(ARGV[2]))
elseif failures >= tonumber(ARGV[1]) then
  redis.call('hset', KEYS[1], 'opened_at', now, 'next_probe_at', now + tonumber(ARGV[2]))
  opened = 1
end
redis.call('pexpire', KEYS[1], ARGV[3])
return opened`;

const STATE = `${NOW}
local v = redis.call('hmget', KEYS[1], 'opened_at', 'failures', 'last_answered_at', 'next_probe_at', 'last_error')
return {now, v[1] or false, v[2] or '0', v[3] or '0', v[4] or false, v[5] or false}`;

/** A breaker's key outlives any outage worth remembering, and is gone a day after its last use. */
const KEY_TTL_MS = 24 * 3600_000;

/**
 * How long a process trusts a closed breaker it saw, and a success it wrote, before asking Redis again.
 * Without it every render paid two scripts (about ten Redis commands, a fifth of a session's): measured
 * with `BENCH_ONLY=per-scene npm run bench`. The cost: a breaker another process opened is seen up to this
 * much later, and this process's own failure clears the trust at once.
 */
const TRUST_MS = 1000;

/**
 * A circuit breaker per live provider, shared by every process through Redis (one small hash per provider
 * under the app's prefix, changed only by atomic scripts). PROVIDER_BREAKER_THRESHOLD retryable failures
 * in a row open it; while open, callers get a `wait` permit except one probe per PROVIDER_PROBE_INTERVAL_MS,
 * cluster-wide; the first answer closes it. Off when PROVIDER_OUTAGE_TOLERANCE_SECONDS is 0: nothing waits
 * for a provider then, as before outages were ridden out.
 */
@Injectable()
export class ProviderBreaker {
  private readonly logger = new Logger('ProviderBreaker');
  private readonly acquireScript;
  private readonly answeredScript;
  private readonly failedScript;
  private readonly stateScript;
  private readonly closeListeners: ((provider: GuardedProvider) => void)[] = [];
  /** Until when this process takes the breaker as closed without asking, per provider. */
  private readonly closedUntil = new Map<GuardedProvider, number>();
  /** When this process last wrote a success, per provider. */
  private readonly answeredAt = new Map<GuardedProvider, number>();

  constructor(
    private readonly redis: RedisService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.acquireScript = redis.defineScript('breakerAcquire', ACQUIRE, 1);
    this.answeredScript = redis.defineScript('breakerAnswered', ANSWERED, 1);
    this.failedScript = redis.defineScript('breakerFailed', FAILED, 1);
    this.stateScript = redis.defineScript('breakerState', STATE, 1);
  }

  /** Whether calls to this provider go through a breaker (a live provider, with outages ridden out). */
  guards(provider: string): provider is GuardedProvider {
    return this.config.providerOutage.toleranceMs > 0 && isGuardedProvider(provider);
  }

  async acquire(provider: GuardedProvider): Promise<Permit> {
    if ((this.closedUntil.get(provider) ?? 0) > Date.now()) return { kind: 'closed' };
    const [kind, waitMs] = (await this.acquireScript(
      this.key(provider),
      this.config.providerOutage.probeIntervalMs,
    )) as [number, number];
    if (kind === 1) {
      this.closedUntil.set(provider, Date.now() + TRUST_MS);
      return { kind: 'closed' };
    }
    this.closedUntil.delete(provider);
    if (kind === 2) return { kind: 'probe' };
    return { kind: 'wait', waitMs: Number(waitMs) };
  }

  /**
   * The provider answered (an error retrying cannot fix is an answer too): the breaker closes. The process
   * whose call closed it tells its listeners, so jobs waiting for the next probe need not wait for it.
   */
  async answered(provider: GuardedProvider): Promise<void> {
    // Closed, and a success written a moment ago: the streak is already 0, and "last answered" is fresh.
    const now = Date.now();
    if ((this.closedUntil.get(provider) ?? 0) > now && now - (this.answeredAt.get(provider) ?? 0) < TRUST_MS)
      return;
    this.answeredAt.set(provider, now);
    const wasOpen = await this.answeredScript(this.key(provider), KEY_TTL_MS);
    if (Number(wasOpen) !== 1) return;
    this.logger.log(`${PROVIDER_LABELS[provider]} answers again; breaker closed`);
    for (const listener of this.closeListeners) listener(provider);
  }

  /** Called in this process when a call of this process closes a breaker. */
  onClose(listener: (provider: GuardedProvider) => void): void {
    this.closeListeners.push(listener);
  }

  async failed(provider: GuardedProvider, error: string): Promise<void> {
    this.closedUntil.delete(provider);
    this.answeredAt.delete(provider);
    const { breakerThreshold, probeIntervalMs } = this.config.providerOutage;
    const opened = await this.failedScript(
      this.key(provider),
      breakerThreshold,
      probeIntervalMs,
      KEY_TTL_MS,
      error,
    );
    if (Number(opened) === 1) {
      this.logger.warn(
        `${PROVIDER_LABELS[provider]} failed ${breakerThreshold} times in a row; breaker open, one probe every ${probeIntervalMs} ms (${error})`,
      );
    }
  }

  async state(provider: GuardedProvider): Promise<BreakerState> {
    const [now, openedAt, failures, lastAnsweredAt, nextProbeAt, lastError] = (await this.stateScript(
      this.key(provider),
    )) as [number, string | null, string, string, string | null, string | null];
    return {
      now: Number(now),
      open: openedAt !== null,
      failures: Number(failures),
      lastAnsweredAt: Number(lastAnsweredAt),
      nextProbeAt: nextProbeAt === null ? null : Number(nextProbeAt),
      lastError,
    };
  }

  /** For /health: whether the breaker is open now; false when it is off or Redis cannot say. */
  async isOpen(provider: string): Promise<boolean> {
    if (!this.guards(provider)) return false;
    try {
      return (await this.state(provider)).open;
    } catch {
      return false;
    }
  }

  private key(provider: GuardedProvider): string {
    return `${this.config.redisPrefix}:breaker:${provider}`;
  }
}
