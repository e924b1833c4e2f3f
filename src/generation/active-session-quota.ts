import { Inject, Injectable } from '@nestjs/common';
import { Tenant } from '../auth/tenant';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';
import { SessionStore } from '../sessions/session.store';

/** Longer than creating and queueing a session takes (a few Redis round trips). */
const CREATION_GRACE_MS = 10_000;

// Check and add in one step, so concurrent requests of one tenant cannot all slip under the limit.
const RESERVE = `
if redis.call('zcard', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('zadd', KEYS[1], ARGV[2], ARGV[3])
redis.call('expire', KEYS[1], ARGV[4])
return 1`;

/**
 * MAX_ACTIVE_SESSIONS_PER_KEY: the sessions a tenant has processing, as a sorted set of ids per tenant.
 * Sessions leave it lazily: before each check, members that are no longer processing (completed,
 * failed, expired) are pruned, so no worker has to report back and nothing can leak a slot for good.
 * Without API_KEYS there are no tenants, and no quota.
 */
@Injectable()
export class ActiveSessionQuota {
  private readonly reserveScript;

  constructor(
    private readonly redis: RedisService,
    private readonly sessions: SessionStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.reserveScript = redis.defineScript('quotaReserve', RESERVE, 1);
  }

  private get limit(): number {
    return this.config.maxActiveSessionsPerKey;
  }

  /** Takes a slot of `tenant` for `sessionId`; false when the tenant is at its limit. */
  async reserve(tenant: Tenant, sessionId: string): Promise<boolean> {
    if (tenant === null || this.limit === 0) return true;
    const key = this.key(tenant);
    await this.prune(key);
    const reserved = await this.reserveScript(
      key,
      this.limit,
      Date.now(),
      sessionId,
      this.sessions.ttlSeconds,
    );
    return reserved === 1;
  }

  /** Gives the slot back: the session could not be created or queued. */
  async release(tenant: Tenant, sessionId: string): Promise<void> {
    if (tenant === null || this.limit === 0) return;
    await this.redis.commands.zrem(this.key(tenant), sessionId);
  }

  private async prune(key: string): Promise<void> {
    const members = await this.redis.commands.zrange(key, '0', '-1', 'WITHSCORES');
    const ids = members.filter((_, i) => i % 2 === 0);
    const reservedAt = members.filter((_, i) => i % 2 === 1).map(Number);
    const statuses = await this.sessions.statuses(ids);
    // A slot reserved a moment ago may not have its session written yet: missing is not ended then.
    const settled = Date.now() - CREATION_GRACE_MS;
    const ended = ids.filter(
      (_, i) => statuses[i] !== 'processing' && (statuses[i] !== null || reservedAt[i] < settled),
    );
    if (ended.length > 0) await this.redis.commands.zrem(key, ...ended);
  }

  private key(tenant: string): string {
    return `${this.config.redisPrefix}:active:${tenant}`;
  }
}
