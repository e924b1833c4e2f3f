import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import Redis from 'ioredis';
import { AppConfig, redactUrl } from '../config/app-config';

/** Whether a Redis answers PING at `url`, without retrying. */
export async function redisAnswers(url: string): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1500,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

let developmentRedis: ChildProcess | undefined;

/** Stops the development Redis this process started, if any (called once shutdown has completed). */
export function stopDevelopmentRedis(): void {
  developmentRedis?.kill('SIGTERM');
  developmentRedis = undefined;
}

/**
 * Refuses to start without Redis, in one line that says how to get one. For development only — REDIS_URL
 * unset and redis-server installed — it starts a local, non-persistent Redis that belongs to this process
 * and stops when it exits.
 */
export async function ensureRedis(config: AppConfig): Promise<void> {
  if (await redisAnswers(config.redisUrl)) return;
  if (config.redisUrlDefaulted && redisServerInstalled()) {
    const port = new URL(config.redisUrl).port || '6379';
    // Its own process group, so Ctrl-C does not stop it before this process has shut down cleanly.
    const child = spawn(
      'redis-server',
      ['--port', port, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore', detached: true },
    );
    child.unref();
    developmentRedis = child;
    process.once('exit', stopDevelopmentRedis);
    for (let i = 0; i < 30 && child.exitCode === null; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      if (await redisAnswers(config.redisUrl)) {
        console.warn(
          `Redis was not running: started a development redis-server on port ${port} (no persistence); it stops when this process stops`,
        );
        return;
      }
    }
    stopDevelopmentRedis();
  }
  const where = redactUrl(config.redisUrl);
  throw new Error(
    config.redisUrlDefaulted
      ? `Redis is not reachable at ${where}: start one (redis-server, or docker compose up -d redis) or set REDIS_URL`
      : `Redis is not reachable at ${where} (REDIS_URL): check that it is running and that the URL is right`,
  );
}
