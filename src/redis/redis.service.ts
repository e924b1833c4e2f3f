import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import Redis, { RedisOptions } from 'ioredis';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { stopDevelopmentRedis } from './ensure-redis';

/**
 * Owns every Redis connection of the process.
 *
 * - `commands`: sessions and everything else. In an HTTP-serving process it fails fast (no offline queue,
 *   bounded command time), so a Redis outage turns into a 503 instead of a hung request; in a worker-only
 *   process it waits for Redis to come back. Either way it keeps reconnecting in the background.
 * - `forBullWorker()`: connections for BullMQ workers, which must wait out outages
 *   (`maxRetriesPerRequest: null`, as BullMQ requires for blocking commands).
 */
@Injectable()
export class RedisService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Redis');
  readonly commands: Redis;
  private readonly extra: Redis[] = [];
  private lastErrorLogAt = 0;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    // A worker-only process has no client waiting on it: its writes should wait out an outage, not fail jobs.
    this.commands =
      config.role === 'worker'
        ? this.connect('commands', {
            enableOfflineQueue: true,
            maxRetriesPerRequest: null,
            enableAutoPipelining: true,
          })
        : this.connect('commands', {
            enableOfflineQueue: false,
            maxRetriesPerRequest: 1,
            commandTimeout: 3000,
            connectTimeout: 3000,
            // Commands issued in the same tick by concurrent requests and jobs share one write.
            enableAutoPipelining: true,
          });
  }

  get prefix(): string {
    return this.config.redisPrefix;
  }

  /** A producer connection for BullMQ queues: fail fast like `commands`. */
  forBullQueue(): Redis {
    return this.track(
      this.connect('queue', { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 3000 }),
    );
  }

  /** A blocking connection for a BullMQ worker: waits out outages instead of failing jobs. */
  forBullWorker(): Redis {
    return this.track(this.connect('worker', { maxRetriesPerRequest: null, enableOfflineQueue: true }));
  }

  /**
   * A connection for SUBSCRIBE (live progress): it can issue nothing else. It waits out outages, and ioredis
   * re-subscribes its channels when it reconnects.
   */
  forSubscriber(): Redis {
    return this.track(this.connect('subscriber', { maxRetriesPerRequest: null, enableOfflineQueue: true }));
  }

  /** Fail-fast connections refuse commands until connected, so start-up waits for them once. */
  async onModuleInit(): Promise<void> {
    await waitUntilReady(this.commands, 10_000);
  }

  /**
   * Registers a Lua script on the commands connection; calls then go by SHA (EVALSHA), so the script text
   * is not re-sent and re-hashed on every call. ioredis falls back to EVAL after a Redis restart.
   */
  defineScript(
    name: string,
    lua: string,
    numberOfKeys: number,
  ): (...args: (string | number)[]) => Promise<unknown> {
    this.commands.defineCommand(name, { numberOfKeys, lua });
    const client = this.commands as unknown as Record<
      string,
      (...args: (string | number)[]) => Promise<unknown>
    >;
    return (...args) => client[name](...args);
  }

  async isReachable(timeoutMs = 1000): Promise<boolean> {
    try {
      const pong = await Promise.race([
        this.commands.ping(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), timeoutMs).unref()),
      ]);
      return pong === 'PONG';
    } catch {
      return false;
    }
  }

  /**
   * Global modules shut down last, after every module that uses Redis: so the connections close here, then
   * the development Redis this process may have started, and this line means shutdown completed.
   */
  async onApplicationShutdown(signal?: string): Promise<void> {
    await Promise.allSettled([this.commands, ...this.extra].map((c) => c.quit().catch(() => c.disconnect())));
    stopDevelopmentRedis();
    if (signal) new Logger('Shutdown').log(`Shut down cleanly after ${signal}`);
  }

  private track(client: Redis): Redis {
    this.extra.push(client);
    return client;
  }

  private connect(name: string, options: RedisOptions): Redis {
    const client = new Redis(this.config.redisUrl, {
      lazyConnect: false,
      retryStrategy: (times) => Math.min(times * 200, 2000),
      ...options,
    });
    client.on('error', (err: Error) => {
      // An outage makes every connection error on every retry; one line a few seconds is enough.
      const now = Date.now();
      if (now - this.lastErrorLogAt > 5000) {
        this.lastErrorLogAt = now;
        this.logger.warn(`Redis connection "${name}" error: ${err.message}`);
      }
    });
    return client;
  }
}

/** Resolves once `client` is connected (or after `timeoutMs`, leaving it to keep reconnecting). */
export function waitUntilReady(client: Redis, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      client.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    client.once('ready', done);
  });
}
