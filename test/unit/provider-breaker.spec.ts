import { Logger } from '@nestjs/common';
import { register } from 'prom-client';
import { loadConfig } from '../../src/config/app-config';
import { SceneRenderRequest } from '../../src/domain/jobs';
import { ImageRenderer } from '../../src/providers/image-renderer';
import { GuardedImageRenderer } from '../../src/providers/outage/guarded-providers';
import { ProviderBreaker, ProviderOutageError } from '../../src/providers/outage/provider-breaker';
import { ProviderError } from '../../src/providers/provider-error';
import { RedisService } from '../../src/redis/redis.service';
import { keysUnder, TestEnv } from '../support/test-env';

/** The breaker against the real Redis, with a fresh key prefix per test. */
describe('ProviderBreaker (shared through Redis)', () => {
  const envs: TestEnv[] = [];
  const services: RedisService[] = [];

  const breakerWith = async (vars: Record<string, string> = {}, env = new TestEnv()) => {
    envs.push(env);
    const config = loadConfig(
      env.vars({
        ROLE: 'worker',
        PROVIDER_BREAKER_THRESHOLD: '3',
        PROVIDER_PROBE_INTERVAL_MS: '300',
        ...vars,
      }),
    );
    const redis = new RedisService(config);
    services.push(redis);
    await redis.onModuleInit();
    return { breaker: new ProviderBreaker(redis, config), redis, env };
  };

  beforeAll(() => Logger.overrideLogger(['error']));
  afterAll(async () => {
    await Promise.all(services.map((s) => s.onApplicationShutdown()));
    await Promise.all(envs.map((e) => e.cleanup()));
  });

  it('stays closed below the threshold, and an answer ends the streak', async () => {
    const { breaker } = await breakerWith();
    await breaker.failed('runware', 'boom');
    await breaker.failed('runware', 'boom');
    await breaker.answered('runware');
    await breaker.failed('runware', 'boom');
    await breaker.failed('runware', 'boom');
    expect(await breaker.acquire('runware')).toEqual({ kind: 'closed' });
    expect((await breaker.state('runware')).failures).toBe(2);
    expect(await breaker.isOpen('runware')).toBe(false);
  });

  it('opens at the threshold of failures in a row, for that provider only', async () => {
    const { breaker } = await breakerWith();
    for (let i = 0; i < 3; i++) await breaker.failed('runware', `failure ${i}`);
    const state = await breaker.state('runware');
    expect(state).toMatchObject({ open: true, failures: 3, lastError: 'failure 2' });
    expect(state.nextProbeAt! - state.now).toBeGreaterThan(200);
    expect(await breaker.isOpen('runware')).toBe(true);
    expect(await breaker.isOpen('openrouter')).toBe(false);
    const permit = await breaker.acquire('runware');
    expect(permit.kind).toBe('wait');
    expect(permit.kind === 'wait' && permit.waitMs).toBeGreaterThan(0);
  });

  it('lets exactly one probe through per interval across processes, and closes on an answer', async () => {
    const first = await breakerWith();
    // A second process: its own Redis connection, the same prefix.
    const second = await breakerWith({}, first.env);
    for (let i = 0; i < 3; i++) await first.breaker.failed('openrouter', 'down');
    await new Promise((resolve) => setTimeout(resolve, 320));
    const permits = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? first : second).breaker.acquire('openrouter')),
    );
    expect(permits.filter((p) => p.kind === 'probe')).toHaveLength(1);
    expect(permits.filter((p) => p.kind === 'wait')).toHaveLength(19);
    // The probe failed: the next one is a full interval away.
    await second.breaker.failed('openrouter', 'still down');
    expect((await first.breaker.acquire('openrouter')).kind).toBe('wait');
    await new Promise((resolve) => setTimeout(resolve, 320));
    expect((await first.breaker.acquire('openrouter')).kind).toBe('probe');
    await first.breaker.answered('openrouter');
    expect(await second.breaker.acquire('openrouter')).toEqual({ kind: 'closed' });
    expect((await second.breaker.state('openrouter')).failures).toBe(0);
  });

  it("keeps its state under the app's Redis prefix", async () => {
    const { breaker, redis, env } = await breakerWith();
    await breaker.failed('runware', 'x');
    expect(await keysUnder(redis.commands, env.prefix)).toEqual([`${env.prefix}:breaker:runware`]);
  });

  it('guards only live providers, and nothing when the outage tolerance is 0', async () => {
    const on = await breakerWith();
    expect([on.breaker.guards('runware'), on.breaker.guards('openrouter')]).toEqual([true, true]);
    expect(on.breaker.guards('offline')).toBe(false);
    const off = await breakerWith({ PROVIDER_OUTAGE_TOLERANCE_SECONDS: '0' });
    expect(off.breaker.guards('runware')).toBe(false);
  });

  describe('a guarded provider', () => {
    const request = { sessionId: 's', sceneIndex: 0 } as SceneRenderRequest;
    const counted = async (provider: string, outcome: string) => {
      const metric = await register.getSingleMetric('provider_requests_total')?.get();
      const values = metric?.values ?? [];
      return (
        values.find(
          (v) =>
            v.labels.provider === provider && v.labels.operation === 'render' && v.labels.outcome === outcome,
        )?.value ?? 0
      );
    };
    const scripted = (name: string, outcomes: (Error | null)[]) => {
      let calls = 0;
      const inner: ImageRenderer = {
        name,
        renderPortrait: () => Promise.reject(new Error('not used by these tests')),
        render: () => {
          const outcome = outcomes[Math.min(calls++, outcomes.length - 1)];
          return outcome
            ? Promise.reject(outcome)
            : Promise.resolve({
                imageUrl: 'http://x/y.png',
                source: { kind: 'remote', url: 'http://x/y.png' },
                seed: 1,
                model: 'm',
              });
        },
      };
      return { inner, calls: () => calls };
    };

    it('is refused without a request while its breaker is open, and counted in provider_requests_total', async () => {
      const { breaker } = await breakerWith();
      const before = {
        retryable: await counted('runware', 'retryable_error'),
        short: await counted('runware', 'short_circuited'),
        success: await counted('runware', 'success'),
      };
      const down = new ProviderError('Runware failed to render the image (timeoutProvider)', true);
      const provider = scripted('runware', [down, down, down, null]);
      const renderer = new GuardedImageRenderer(provider.inner, breaker);
      for (let i = 0; i < 3; i++) await expect(renderer.render(request)).rejects.toBe(down);
      await expect(renderer.render(request)).rejects.toBeInstanceOf(ProviderOutageError);
      expect(provider.calls()).toBe(3);
      expect(await counted('runware', 'retryable_error')).toBe(before.retryable + 3);
      expect(await counted('runware', 'short_circuited')).toBe(before.short + 1);
      // The probe, once due, goes through; its success closes the breaker.
      await new Promise((resolve) => setTimeout(resolve, 320));
      await expect(renderer.render(request)).resolves.toMatchObject({ imageUrl: 'http://x/y.png' });
      expect(await counted('runware', 'success')).toBe(before.success + 1);
      expect(await breaker.isOpen('runware')).toBe(false);
    });

    it('treats an error retrying cannot fix as an answer: it ends the streak and counts as fatal', async () => {
      const { breaker } = await breakerWith();
      const before = await counted('runware', 'fatal_error');
      const down = new ProviderError('down', true);
      const refused = new ProviderError('Runware rejected the API key', false);
      const renderer = new GuardedImageRenderer(scripted('runware', [down, down, refused]).inner, breaker);
      await expect(renderer.render(request)).rejects.toBe(down);
      await expect(renderer.render(request)).rejects.toBe(down);
      await expect(renderer.render(request)).rejects.toBe(refused);
      expect((await breaker.state('runware')).failures).toBe(0);
      expect(await counted('runware', 'fatal_error')).toBe(before + 1);
    });

    it('counts offline calls without a breaker', async () => {
      const { breaker, redis, env } = await breakerWith();
      const before = await counted('offline', 'retryable_error');
      const renderer = new GuardedImageRenderer(
        scripted('offline', [new ProviderError('x', true)]).inner,
        breaker,
      );
      for (let i = 0; i < 5; i++) await expect(renderer.render(request)).rejects.toThrow('x');
      expect(await counted('offline', 'retryable_error')).toBe(before + 5);
      expect(await keysUnder(redis.commands, env.prefix)).toEqual([]);
    });
  });
});
