import Redis from 'ioredis';
import { startFakeOpenRouter, FakeOpenRouter } from '../support/fake-openrouter';
import { startFakeRunware, FakeRunware } from '../support/fake-runware';
import { envelopeProblem, request } from '../support/http-client';
import { liveProviderVars } from '../support/live-vars';
import { startTestApp, TestApp } from '../support/test-app';
import { keysUnder, pollUntil, REDIS_URL } from '../support/test-env';

const OPENROUTER_KEY = 'sk-or-v1-OUTAGE-TEST-5d1e08';
const RUNWARE_KEY = 'rw-OUTAGE-TEST-a4c2f9';
const STORY = 'Mara climbed the tower. The bell was silent.\n\nShe rang it once. The whole valley woke.';

const TOLERANCE_S = 4;
const THRESHOLD = 3;
const PROBE_MS = 300;

type Scene = { index: number; status: string; error: string | null };
type Status = { status: string; phase: string; error: string | null; warnings: string[]; scenes: Scene[] };
type Health = { status: string; services: Record<string, string> };

/**
 * Provider outages under AI_PROVIDERS=live, against the fakes: sessions wait for a failing provider behind
 * the shared circuit breaker, up to a short PROVIDER_OUTAGE_TOLERANCE_SECONDS.
 */
describe('provider outages are ridden out, not passed on', () => {
  let openrouter: FakeOpenRouter;
  let runware: FakeRunware;
  let t: TestApp;
  let redis: Redis;

  const status = (id: string) => request<Status>(`${t.url}/status/${id}`);
  const health = () => request<Health>(`${t.url}/health`);
  const generate = async (numScenes: number) => {
    const res = await request<{ session_id: string }>(`${t.url}/generate`, {
      method: 'POST',
      json: { story_text: STORY, num_scenes: numScenes },
    });
    expect(res.status).toBe(200);
    return res.body.session_id;
  };
  const settle = (id: string) =>
    pollUntil(
      () => status(id),
      (r) => r.body.status !== 'processing',
      30_000,
    );
  const chatCalls = () => openrouter.requests.filter((r) => r.path.endsWith('/chat/completions')).length;
  const keyChecks = () => openrouter.requests.filter((r) => r.path === '/api/v1/key');

  beforeAll(async () => {
    openrouter = await startFakeOpenRouter({ apiKey: OPENROUTER_KEY });
    runware = await startFakeRunware({ apiKey: RUNWARE_KEY });
    redis = new Redis(REDIS_URL);
    t = await startTestApp({
      ...liveProviderVars(openrouter, runware, { openrouter: OPENROUTER_KEY, runware: RUNWARE_KEY }),
      OPENROUTER_TIMEOUT_MS: '3000',
      RUNWARE_TIMEOUT_MS: '3000',
      JOB_ATTEMPTS: '3',
      JOB_BACKOFF_MS: '50',
      PROVIDER_OUTAGE_TOLERANCE_SECONDS: String(TOLERANCE_S),
      PROVIDER_BREAKER_THRESHOLD: String(THRESHOLD),
      PROVIDER_PROBE_INTERVAL_MS: String(PROBE_MS),
      PROVIDER_CHECK_INTERVAL_MS: '1000',
    });
  });
  // Each test starts with closed breakers and fakes back to normal, so its counts are its own.
  beforeEach(async () => {
    openrouter.reset();
    runware.reset();
    const breakers = (await keysUnder(redis, t.env.prefix)).filter((k) => k.includes(':breaker:'));
    if (breakers.length > 0) await redis.del(...breakers);
  });
  afterAll(async () => {
    await t.close();
    redis.disconnect();
    await openrouter.close();
    await runware.close();
  });

  it('waits out a Runware outage with scenes pending and a warning, shows it degraded, then completes', async () => {
    const outageMs = 2_500;
    const started = Date.now();
    runware.set({ outageUntil: started + outageMs });
    const id = await generate(3);

    const during = await pollUntil(
      () => status(id),
      (r) => r.body.warnings.some((w) => /Runware is unavailable/.test(w)),
      outageMs,
    );
    expect(during.body.status).toBe('processing');
    expect(during.body.warnings).toContain(
      `Runware is unavailable; the session is waiting for it and retrying (for up to ${TOLERANCE_S} s)`,
    );
    expect(during.body.scenes.length).toBeGreaterThan(0);
    for (const scene of during.body.scenes) expect(['pending', 'rendering']).toContain(scene.status);
    const degraded = await pollUntil(health, (r) => r.body.services.runware === 'degraded', outageMs);
    expect(degraded.body).toMatchObject({ status: 'healthy', services: { openrouter: 'available' } });

    const done = await settle(id);
    expect(done.body.status).toBe('completed');
    expect(done.body.scenes.map((s) => s.status)).toEqual(['done', 'done', 'done']);
    // The warning described a passing condition: it is gone once Runware answered.
    expect(done.body.warnings.filter((w) => /unavailable/.test(w))).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(outageMs);
    expect((await health()).body.services.runware).toBe('available');

    // Without the breaker, three scenes retrying every 50-200 ms would send dozens of requests in 2.5 s:
    // with it, the first failures open it and then one probe goes out per interval (plus jitter).
    const failed = runware.stats.injected.outage ?? 0;
    expect(failed).toBeGreaterThanOrEqual(THRESHOLD);
    expect(failed).toBeLessThanOrEqual(THRESHOLD + Math.ceil(outageMs / PROBE_MS) + 3);
  });

  it('waits out an OpenRouter outage while planning, then plans and completes', async () => {
    openrouter.set({ status: 503 });
    const id = await generate(2);
    const during = await pollUntil(
      () => status(id),
      (r) => r.body.warnings.some((w) => /OpenRouter is unavailable/.test(w)),
      3_000,
    );
    expect(during.body).toMatchObject({ status: 'processing', phase: 'planning' });
    // Attempts are not what bounds the wait: JOB_ATTEMPTS (3) requests have failed, the job still waits.
    await pollUntil(health, (r) => r.body.services.openrouter === 'degraded', 3_000);
    expect(chatCalls()).toBeGreaterThanOrEqual(3);
    expect((await status(id)).body.status).toBe('processing');

    openrouter.set({ status: undefined });
    const done = await settle(id);
    expect(done.body.status).toBe('completed');
    expect(done.body.warnings.filter((w) => /unavailable/.test(w))).toEqual([]);
  });

  it('fails with a clear error once the outage outlasts PROVIDER_OUTAGE_TOLERANCE_SECONDS', async () => {
    const started = Date.now();
    runware.set({ outageUntil: started + 60_000 });
    const done = await settle(await generate(2));
    const took = Date.now() - started;
    expect(done.body.status).toBe('failed');
    expect(done.body.error).toMatch(
      /^Every scene failed to render: Runware was unavailable for \d+ s, longer than the outage tolerance; last error: Runware's model provider timed out \(timeoutProvider\)$/,
    );
    expect(done.body.warnings.filter((w) => /unavailable/.test(w))).toEqual([]);
    expect(took).toBeGreaterThanOrEqual(TOLERANCE_S * 1000);
    expect(took).toBeLessThan(TOLERANCE_S * 1000 + 4_000);
    const failed = runware.stats.injected.outage ?? 0;
    expect(failed).toBeLessThanOrEqual(THRESHOLD + Math.ceil(took / PROBE_MS) + 3);
  });

  it.each([
    [401, /^Scene planning failed: OpenRouter rejected the API key$/],
    [402, /^Scene planning failed: OpenRouter account has insufficient credits$/],
  ])('still fails at once on a planner %i, without retrying', async (code, message) => {
    openrouter.set({ status: code });
    const started = Date.now();
    const done = await settle(await generate(2));
    expect(done.body.status).toBe('failed');
    expect(done.body.error).toMatch(message);
    expect(chatCalls()).toBe(1);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(done.body.warnings).toEqual([]);
  });

  it('still fails at once when Runware refuses for lack of credit', async () => {
    runware.set({ fault: 'insufficientCredits' });
    const started = Date.now();
    const done = await settle(await generate(2));
    expect(done.body.error).toMatch(
      /^Every scene failed to render: Runware account has insufficient credit$/,
    );
    expect(runware.stats.imageTasks).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('refreshes the live-mode 503 gate on its timer, with no /health call', async () => {
    // Nothing calls the service here but POST /generate, whose own refresh waits for a minute-old check:
    // only the PROVIDER_CHECK_INTERVAL_MS timer can see OpenRouter go down and come back.
    const down = Date.now();
    openrouter.set({ outageUntil: down + 3_600_000 });
    // Two checks after the outage began: the first one's result is in the cache by the time of the second.
    await pollUntil(
      async () => keyChecks().filter((r) => r.at > down).length,
      (n) => n >= 2,
      5_000,
    );
    const refused = await request(`${t.url}/generate`, {
      method: 'POST',
      json: { story_text: STORY, num_scenes: 1 },
    });
    expect(envelopeProblem(refused, 503, /Live providers are not available: openrouter"/)).toBeNull();

    const up = Date.now();
    openrouter.set({ outageUntil: undefined });
    await pollUntil(
      async () => keyChecks().filter((r) => r.at > up).length,
      (n) => n >= 2,
      5_000,
    );
    expect((await settle(await generate(1))).body.status).toBe('completed');
  });
});
