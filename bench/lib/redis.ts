import Redis from 'ioredis';

export const REDIS_URL = 'redis://127.0.0.1:6379';

/** One connection for the bench's own reads (polling, INFO, cleanup). Its commands are counted. */
export function connectRedis(): Redis {
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 2, connectTimeout: 3000 });
  client.on('error', () => undefined);
  return client;
}

/** Deletes every key under `prefix:` (bounded: at most 10,000 SCAN pages). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  for (let page = 0; page < 10_000; page++) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
    if (cursor === '0') break;
  }
  return deleted;
}

export interface CommandStats {
  /** Calls per command name (commands run inside Lua scripts are counted under their own names too). */
  calls: Record<string, number>;
  /** Server time per command name in µs (a script's time includes the commands it runs). */
  usec: Record<string, number>;
  /** Server CPU seconds (user + sys). */
  cpuSeconds: number;
}

export async function commandStats(redis: Redis): Promise<CommandStats> {
  const [stats, cpu] = await Promise.all([redis.info('commandstats'), redis.info('cpu')]);
  const calls: Record<string, number> = {};
  const usec: Record<string, number> = {};
  for (const match of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    calls[match[1]] = Number(match[2]);
    usec[match[1]] = Number(match[3]);
  }
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? 0);
  return { calls, usec, cpuSeconds: field('used_cpu_user') + field('used_cpu_sys') };
}

/** after − before per command, minus the bench's own commands, dropping zeros. */
export function commandDelta(
  before: CommandStats,
  after: CommandStats,
  own: Record<string, number> = {},
): Record<string, number> {
  return minus(minus(after.calls, before.calls), own);
}

/** Server µs per command name spent between two snapshots (noise from other clients included). */
export function usecDelta(before: CommandStats, after: CommandStats): Record<string, number> {
  return minus(after.usec, before.usec);
}

/** a − b per name, keeping only what stays above zero. */
export function minus(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [name, n] of Object.entries(a)) {
    const value = n - (b[name] ?? 0);
    if (value > 0) result[name] = value;
  }
  return result;
}

/** Adds `delta` into `total`, name by name. */
export function addInto(total: Record<string, number>, delta: Record<string, number>): void {
  for (const [name, n] of Object.entries(delta)) total[name] = (total[name] ?? 0) + n;
}

export async function redisVersion(redis: Redis): Promise<string> {
  const info = await redis.info('server');
  return /^redis_version:(\S+)/m.exec(info)?.[1] ?? 'unknown';
}

/** Counts the bench's own commands by name, so they can be subtracted from commandstats deltas. */
export class CommandTally {
  readonly counts: Record<string, number> = {};
  add(name: string, n = 1): void {
    this.counts[name] = (this.counts[name] ?? 0) + n;
  }
}
