import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import Redis from 'ioredis';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * An isolated slice of the shared Redis and disk for one test file: its own key prefix (sessions and
 * BullMQ queues) and image folder, both removed by `cleanup()`.
 */
export class TestEnv {
  readonly prefix = `t${randomBytes(5).toString('hex')}`;
  readonly imageDir = mkdtempSync(path.join(tmpdir(), 'sig-test-'));

  /** A clean environment: nothing inherited from the developer's shell (no provider keys). */
  vars(overrides: Record<string, string> = {}): Record<string, string> {
    return {
      REDIS_URL,
      REDIS_PREFIX: this.prefix,
      IMAGE_DIR: this.imageDir,
      AI_PROVIDERS: 'offline',
      JOB_BACKOFF_MS: '50',
      RATE_LIMIT_PER_MINUTE: '0',
      ...overrides,
    };
  }

  async cleanup(): Promise<void> {
    const redis = new Redis(REDIS_URL);
    try {
      const keys = await keysUnder(redis, this.prefix);
      for (let i = 0; i < keys.length; i += 1000) await redis.unlink(...keys.slice(i, i + 1000));
    } finally {
      redis.disconnect();
    }
    rmSync(this.imageDir, { recursive: true, force: true });
  }
}

/** Polls `read` until `done` holds or the time runs out; returns the last value read. */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value)) {
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting; last value: ${JSON.stringify(value).slice(0, 2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await read();
  }
  return value;
}

/** Every value stored under a key prefix (sessions, idempotency keys, BullMQ job payloads and events), as text. */
export async function storedValues(prefix: string): Promise<string[]> {
  const redis = new Redis(REDIS_URL);
  const values: string[] = [];
  try {
    for (const key of await keysUnder(redis, prefix)) {
      const type = await redis.type(key);
      if (type === 'hash') values.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'string') values.push((await redis.get(key)) ?? '');
      else if (type === 'zset') values.push(JSON.stringify(await redis.zrange(key, 0, '-1')));
      else if (type === 'list') values.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === 'set') values.push(JSON.stringify(await redis.smembers(key)));
      else if (type === 'stream') values.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    }
  } finally {
    redis.disconnect();
  }
  return values;
}

/** Every key under `prefix:`, by SCAN (KEYS would block a shared Redis). */
export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) found.add(key);
  } while (cursor !== '0');
  return [...found];
}
