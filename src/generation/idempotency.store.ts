import { BadRequestException, Inject, Injectable, UnprocessableEntityException } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';
import { SessionStore } from '../sessions/session.store';

const VALID_KEY = /^[\x21-\x7e]{1,200}$/;

/** How long a key is held for a request whose session does not exist yet. */
const PENDING_CLAIM_SECONDS = 30;

const RELEASE_IF_OWNED = `
local value = redis.call('get', KEYS[1])
if value and string.find(value, ARGV[1], 1, true) then redis.call('del', KEYS[1]) end
return 0`;

// Marks the claim as backing a session that exists, for as long as it may be repeated.
const CONFIRM_IF_OWNED = `
local value = redis.call('get', KEYS[1])
if not value then return 0 end
local record = cjson.decode(value)
if record.session_id ~= ARGV[1] then return 0 end
record.confirmed = true
redis.call('set', KEYS[1], cjson.encode(record), 'EX', ARGV[2])
return 1`;

/** The session an earlier request claimed a key for; `confirmed` once that session was created. */
export interface EarlierClaim {
  sessionId: string;
  confirmed: boolean;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * `Idempotency-Key` on POST /generate: the first request with a key claims it (SET NX) for the session it
 * creates; a repeat with the same body gets that session back, a repeat with another body is a 422.
 * Keys are scoped per client (the API key's tenant) so two clients cannot collide. A key lives no longer
 * than the session it names: a repeat after the session expired starts a new one instead of returning a
 * dead id, even if the record outlived the session by a moment.
 */
@Injectable()
export class IdempotencyStore {
  private readonly releaseIfOwned;
  private readonly confirmIfOwned;

  constructor(
    private readonly redis: RedisService,
    private readonly sessions: SessionStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.releaseIfOwned = redis.defineScript('idempotencyRelease', RELEASE_IF_OWNED, 1);
    this.confirmIfOwned = redis.defineScript('idempotencyConfirm', CONFIRM_IF_OWNED, 1);
  }

  /**
   * Claims `key` of `client` (its API key, or '' without one) for `sessionId`. Returns null when this
   * request owns the key, or the id an earlier identical request claimed it for. That id may not exist yet
   * (its request is still creating it) or ever (its request failed and will release the key).
   */
  async claim(key: string, client: string, body: unknown, sessionId: string): Promise<EarlierClaim | null> {
    if (!VALID_KEY.test(key)) {
      throw new BadRequestException('Idempotency-Key must be 1 to 200 visible ASCII characters');
    }
    const redisKey = this.redisKey(key, client);
    const bodyHash = sha256(JSON.stringify(body));
    const record = JSON.stringify({ body: bodyHash, session_id: sessionId });
    // Claimed briefly until the session exists (confirm() extends it): a request that dies in between
    // leaves a key that lapses in seconds, not one that answers 409 for a day.
    const pendingTtl = Math.min(PENDING_CLAIM_SECONDS, this.ttlSeconds);
    // The key can vanish between SET NX and GET (released, or expired): then claim it again.
    for (;;) {
      if ((await this.redis.commands.set(redisKey, record, 'EX', pendingTtl, 'NX')) === 'OK') return null;
      const existing = await this.redis.commands.get(redisKey);
      if (!existing) continue;
      const earlier = JSON.parse(existing) as { body: string; session_id: string; confirmed?: boolean };
      if (earlier.body !== bodyHash) {
        throw new UnprocessableEntityException(
          'Idempotency-Key was already used with a different request body',
        );
      }
      return { sessionId: earlier.session_id, confirmed: earlier.confirmed === true };
    }
  }

  /** The session exists: the key is remembered for as long as it may be repeated. */
  async confirm(key: string, client: string, sessionId: string): Promise<void> {
    await this.confirmIfOwned(this.redisKey(key, client), sessionId, this.ttlSeconds);
  }

  /**
   * Frees a key whose request failed before its session existed, so the client can retry with it; only
   * while it still names that session (a twin may have claimed it since it lapsed).
   */
  async release(key: string, client: string, sessionId: string): Promise<void> {
    await this.releaseIfOwned(this.redisKey(key, client), `"session_id":"${sessionId}"`);
  }

  /** As long as the session it names lives, and no longer than IDEMPOTENCY_TTL_SECONDS. */
  private get ttlSeconds(): number {
    return Math.min(this.config.idempotencyTtlSeconds, this.sessions.ttlSeconds);
  }

  /** One hash of client and key: neither the API key nor the client's key text is stored. */
  private redisKey(key: string, client: string): string {
    return `${this.config.redisPrefix}:idem:${sha256(`${client}\n${key}`)}`;
  }
}
