import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, Server } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { AppConfig, loadConfig } from '../../src/config/app-config';
import { ensureRedis, redisAnswers, stopDevelopmentRedis } from '../../src/redis/ensure-redis';
import { pollUntil, REDIS_URL, TestEnv } from '../support/test-env';
import { freePort, ServiceProcess } from '../support/service-process';
import { startTestS3, TestS3 } from '../support/test-s3';

/** Waits for a process that should exit on its own; fails if it is still running after `timeoutMs`. */
async function exitOf(service: ServiceProcess, timeoutMs = 15_000): Promise<number | null> {
  await pollUntil(
    () => Promise.resolve(service.child.exitCode !== null || service.child.signalCode !== null),
    (exited) => exited,
    timeoutMs,
  );
  return service.child.exitCode;
}

describe('bad configuration stops start-up with one line naming the variable, exit code 2', () => {
  const env = new TestEnv();
  let busy: Server;
  let busyPort: number;
  beforeAll(async () => {
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    busyPort = (busy.address() as { port: number }).port;
  });
  afterAll(async () => {
    busy.close();
    await env.cleanup();
  });

  const cases: [string, () => Record<string, string>, string][] = [
    ['an API_KEYS with no usable key', () => ({ API_KEYS: ' , ' }), 'API_KEYS'],
    ['an API key shorter than 16 characters', () => ({ API_KEYS: 'short-key-12345' }), 'API_KEYS'],
    [
      'live provider keys without API_KEYS or ALLOW_ANONYMOUS',
      () => ({ AI_PROVIDERS: 'auto', RUNWARE_API_KEY: 'rw-secret-0123456789' }),
      'API_KEYS',
    ],
    ['a queue dashboard without operator keys', () => ({ QUEUE_DASHBOARD: 'true' }), 'QUEUE_DASHBOARD_KEYS'],
    [
      'a queue dashboard naming a key that is not in API_KEYS',
      () => ({
        QUEUE_DASHBOARD: 'true',
        QUEUE_DASHBOARD_KEYS: 'ops',
        API_KEYS: 'other:key-0123456789abcdef',
      }),
      'QUEUE_DASHBOARD_KEYS',
    ],
    [
      'a URL_SIGNING_SECRET too short to be safe',
      () => ({ URL_SIGNING_SECRET: 'short-secret' }),
      'URL_SIGNING_SECRET',
    ],
    [
      'an allowlist entry that is a URL',
      () => ({ IMAGE_DOWNLOAD_ALLOWED_HOSTS: 'http://x/y' }),
      'IMAGE_DOWNLOAD_ALLOWED_HOSTS',
    ],
    ['a HOST that is no address', () => ({ HOST: '999.1.1.1' }), 'HOST'],
    ['a HOST that does not resolve', () => ({ HOST: 'no-such-host.invalid' }), 'HOST'],
    ['a HOST of another machine', () => ({ HOST: '192.0.2.1' }), 'HOST'],
    ['a TRUST_PROXY Express cannot use', () => ({ TRUST_PROXY: 'nonsense' }), 'TRUST_PROXY'],
    ['a PORT already in use', () => ({ HOST: '127.0.0.1', PORT: String(busyPort) }), 'PORT'],
    [
      'a WORKER_HEALTH_PORT already in use',
      () => ({ ROLE: 'worker', HOST: '127.0.0.1', WORKER_HEALTH_PORT: String(busyPort) }),
      'WORKER_HEALTH_PORT',
    ],
    ['an IMAGE_DIR that cannot be made', () => ({ IMAGE_DIR: '/dev/null/images' }), 'IMAGE_DIR'],
    ['a PORT that is no number', () => ({ PORT: 'eighty' }), 'PORT'],
    ['a REDIS_URL of another scheme', () => ({ REDIS_URL: 'http://127.0.0.1:6379' }), 'REDIS_URL'],
  ];

  it.each(cases)('%s', async (_name, vars, variable) => {
    const service = new ServiceProcess('service', env.vars({ PORT: '0', ...vars() }));
    expect(await exitOf(service)).toBe(2);
    const lines = service.output.split('\n').filter((line) => line.trim() !== '');
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^Invalid configuration: ${variable} `))]);
    expect(service.output).not.toMatch(/successfully started|\n\s+at /);
    // Secrets are never printed, even in a refusal.
    expect(service.output).not.toMatch(/rw-secret|short-key|short-secret/);
  });
});

describe('Redis at start-up', () => {
  const env = new TestEnv();
  afterAll(() => env.cleanup());
  let config: AppConfig;
  let port: number;
  beforeEach(async () => {
    port = await freePort();
    config = loadConfig({ REDIS_URL: `redis://127.0.0.1:${port}` });
  });
  afterEach(() => stopDevelopmentRedis());

  it('names REDIS_URL as the thing to check when it was set', async () => {
    const service = new ServiceProcess('service', { ...env.vars({ PORT: '0' }), REDIS_URL: config.redisUrl });
    expect(await exitOf(service)).toBe(1);
    expect(service.output.trim()).toBe(
      `Startup failed: Redis is not reachable at ${config.redisUrl} (REDIS_URL): check that it is running and that the URL is right`,
    );
  });

  it('suggests setting REDIS_URL only when it was not set', () => {
    // A process whose PATH has no redis-server, so it cannot start a development one.
    const ensure = path.join(__dirname, '..', '..', 'dist', 'redis', 'ensure-redis.js');
    const script = `require(${JSON.stringify(ensure)}).ensureRedis(${JSON.stringify({ ...config, redisUrlDefaulted: true })}).catch((e) => console.log(e.message))`;
    const run = spawnSync(process.execPath, ['-e', script], {
      env: { PATH: mkdtempSync(path.join(tmpdir(), 'no-redis-')) },
      encoding: 'utf8',
    });
    expect(run.stdout.trim()).toBe(
      `Redis is not reachable at ${config.redisUrl}: start one (redis-server, or docker compose up -d redis) or set REDIS_URL`,
    );
  });

  it('starts a development Redis when REDIS_URL is unset, and stops it with the service', async () => {
    await ensureRedis({ ...config, redisUrlDefaulted: true });
    expect(await redisAnswers(config.redisUrl)).toBe(true);
    stopDevelopmentRedis();
    await pollUntil(
      () => redisAnswers(config.redisUrl),
      (answers) => !answers,
      10_000,
    );
  });
});

describe('the S3 bucket at start-up', () => {
  const env = new TestEnv();
  let s3: TestS3;
  beforeAll(async () => {
    s3 = await startTestS3();
  });
  afterAll(async () => {
    await s3.close();
    await env.cleanup();
  });
  /** The service's output lines, which must be exactly one, with no stack trace. */
  const outputLines = (service: ServiceProcess) =>
    service.output.split('\n').filter((line) => line.trim() !== '');

  it('refuses a bucket that does not exist, naming S3_BUCKET, exit code 2', async () => {
    const service = new ServiceProcess(
      'service',
      env.vars({ PORT: '0', ...s3.vars('x/'), S3_BUCKET: 'no-such-bucket' }),
    );
    expect(await exitOf(service)).toBe(2);
    expect(outputLines(service)).toEqual([
      `Invalid configuration: S3_BUCKET is not usable: S3 bucket "no-such-bucket" does not exist at ${s3.endpoint}`,
    ]);
  });

  it('refuses credentials the bucket rejects, without printing them, exit code 2', async () => {
    const secret = 'wrong-secret-5f0a9c';
    const service = new ServiceProcess(
      'service',
      env.vars({ PORT: '0', ...s3.vars('x/'), S3_ACCESS_KEY_ID: 'WRONGKEY', S3_SECRET_ACCESS_KEY: secret }),
    );
    expect(await exitOf(service)).toBe(2);
    expect(outputLines(service)).toEqual([
      `Invalid configuration: S3_ACCESS_KEY_ID is not usable: S3 bucket "${s3.bucket}" at ${s3.endpoint} refused the credentials (S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY)`,
    ]);
    expect(service.output).not.toContain(secret);
  });

  it('says in one line when the endpoint does not answer, exit code 1', async () => {
    const port = await freePort();
    const service = new ServiceProcess(
      'service',
      env.vars({ PORT: '0', ...s3.vars('x/'), S3_ENDPOINT: `http://127.0.0.1:${port}` }),
    );
    expect(await exitOf(service, 30_000)).toBe(1);
    expect(outputLines(service)).toEqual([
      `Startup failed: S3 bucket "${s3.bucket}" at http://127.0.0.1:${port} is unreachable (ECONNREFUSED)`,
    ]);
  });
});

describe('log lines', () => {
  const env = new TestEnv();
  afterAll(() => env.cleanup());

  it('carry no ANSI colour codes when stdout is not a terminal', async () => {
    const service = new ServiceProcess('service', env.vars({ PORT: '0', HOST: '127.0.0.1', REDIS_URL }));
    await service.waitForOutput('listening on');
    await service.stop('SIGTERM');
    expect(service.output).toContain('Nest application successfully started');
    expect(service.output).not.toContain('\u001b[');
  });
});
