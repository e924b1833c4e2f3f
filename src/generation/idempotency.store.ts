import { BadRequestException, Inject, Injectable, UnprocessableEntityException } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';

const VALID_KEY = /^[\x21-\x7e]{1,200}$/;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * `Idempotency-Key` on POST /generate: the first request with a key claims it (SET NX) for the session it
 * creates; a repeat with the same body gets that session back, a repeat with another body is a 422.
 * Keys are scoped per client API key so two clients cannot collide.
 */
@Injectable()
export class IdempotencyStore {
  constructor(
    private readonly redis: RedisService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Claims `key` of `client` (its API key, or '' without one) for `sessionId`; returns the session id an
   * earlier identical request created, if any.
   */
  async claim(key: string, client: string, body: unknown, sessionId: string): Promise<string | null> {
    if (!VALID_KEY.test(key)) {
      throw new BadRequestException('Idempotency-Key must be 1 to 200 visible ASCII characters');
    }
    const redisKey = this.redisKey(key, client);
    const bodyHash = sha256(JSON.stringify(body));
    const record = JSON.stringify({ body: bodyHash, session_id: sessionId });
    const claimed = await this.redis.commands.set(
      redisKey,
      record,
      'EX',
      this.config.idempotencyTtlSeconds,
      'NX',
    );
    if (claimed === 'OK') return null;
    const existing = await this.redis.commands.get(redisKey);
    if (!existing) return null;
    const earlier = JSON.parse(existing) as { body: string; session_id: string };
    if (earlier.body !== bodyHash) {
      throw new UnprocessableEntityException(
        'Idempotency-Key was already used with a different request body',
      );
    }
    return earlier.session_id;
  }

  /** Frees a key whose request failed before its session existed, so the client can retry with it. */
  async release(key: string, client: string): Promise<void> {
    await this.redis.commands.del(this.redisKey(key, client));
  }

  /** One hash of client and key: neither the API key nor the client's key text is stored. */
  private redisKey(key: string, client: string): string {
    return `${this.config.redisPrefix}:idem:${sha256(`${client}\n${key}`)}`;
  }
}
