import { Injectable } from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';
import { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';
import { RedisService } from '../redis/redis.service';

// A fixed window per client: the first hit starts the window's expiry. One round trip per request.
const HIT = `
local hits = redis.call('incr', KEYS[1])
if hits == 1 then redis.call('pexpire', KEYS[1], ARGV[1]) end
return {hits, redis.call('pttl', KEYS[1])}`;

/** Rate-limit counters in Redis, so every API process of a deployment shares one budget per client. */
@Injectable()
export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly hit;

  constructor(private readonly redis: RedisService) {
    this.hit = redis.defineScript('throttleHit', HIT, 1);
  }

  async increment(
    key: string,
    ttlMs: number,
    limit: number,
    _blockMs: number,
    name: string,
  ): Promise<ThrottlerStorageRecord> {
    const [hits, pttl] = (await this.hit(`${this.redis.prefix}:throttle:${name}:${key}`, String(ttlMs))) as [
      number,
      number,
    ];
    const secondsLeft = Math.max(1, Math.ceil((pttl > 0 ? pttl : ttlMs) / 1000));
    const isBlocked = hits > limit;
    return {
      totalHits: hits,
      timeToExpire: secondsLeft,
      isBlocked,
      timeToBlockExpire: isBlocked ? secondsLeft : 0,
    };
  }
}
