import { startFakeOpenRouter, FakeOpenRouter } from '../support/fake-openrouter';
import { startFakeRunware, FakeRunware } from '../support/fake-runware';
import { envelopeProblem, request } from '../support/http-client';
import { liveProviderVars } from '../support/live-vars';
import { startTestApp, TestApp } from '../support/test-app';
import { pollUntil } from '../support/test-env';

const OPENROUTER_KEY = 'sk-or-v1-HEALTH-TEST-0c41d2';
const RUNWARE_KEY = 'rw-HEALTH-TEST-9e77a0';
const WRONG_KEY = 'not-the-key-the-provider-knows';

type Health = { status: string; services: Record<string, string> };

describe('provider health under AI_PROVIDERS=live, checked against the fakes', () => {
  let openrouter: FakeOpenRouter;
  let runware: FakeRunware;
  let t: TestApp | undefined;

  /** Boots the service with these keys; its providers are checked before it listens. */
  const boot = async (keys: { openrouter: string; runware: string }) => {
    t = await startTestApp(liveProviderVars(openrouter, runware, keys));
    return t;
  };
  const generate = (app: TestApp) =>
    request(`${app.url}/generate`, { method: 'POST', json: { story_text: 'One. Two.', num_scenes: 2 } });
  const keyChecks = () => openrouter.requests.filter((r) => r.method === 'GET' && r.path === '/api/v1/key');

  beforeAll(async () => {
    openrouter = await startFakeOpenRouter({ apiKey: OPENROUTER_KEY });
    runware = await startFakeRunware({ apiKey: RUNWARE_KEY });
  });
  beforeEach(() => {
    openrouter.reset();
    runware.reset();
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });
  afterAll(async () => {
    await openrouter.close();
    await runware.close();
  });

  it('reports both providers available once they accept the keys', async () => {
    const app = await boot({ openrouter: OPENROUTER_KEY, runware: RUNWARE_KEY });
    const health = await request<Health>(`${app.url}/health`);
    expect(health.status).toBe(200);
    expect(health.body.services).toMatchObject({ openrouter: 'available', runware: 'available' });
    // The checks really ran: OpenRouter's key endpoint with the key, and a Runware authentication.
    expect(keyChecks().map((r) => r.authorized)).toEqual([true]);
    expect(runware.stats.tasks.authentication).toBe(1);
    const started = await generate(app);
    expect(started.status).toBe(200);
    const id = (started.body as { session_id: string }).session_id;
    const done = await pollUntil(
      () => request<{ status: string }>(`${app.url}/status/${id}`),
      (r) => r.body.status !== 'processing',
      20_000,
    );
    expect(done.body.status).toBe('completed');
  });

  it('reports OpenRouter unavailable when it rejects the key, and POST /generate answers 503', async () => {
    const app = await boot({ openrouter: WRONG_KEY, runware: RUNWARE_KEY });
    // Asked before anything else: the refusal must not depend on /health having been called first.
    const refused = await generate(app);
    expect(envelopeProblem(refused, 503, /Live providers are not available: openrouter"/)).toBeNull();
    const health = await request<Health>(`${app.url}/health`);
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({
      status: 'healthy',
      services: { openrouter: 'unavailable', runware: 'available', redis: 'available' },
    });
    expect(keyChecks().map((r) => r.authorized)).toEqual([false]);
    // Nothing was queued: no plan was asked for and no image rendered.
    expect(openrouter.requests.filter((r) => r.path.endsWith('/chat/completions'))).toEqual([]);
    expect(runware.stats.imageTasks).toEqual([]);
  });

  it('reports Runware unavailable when it rejects the key, and POST /generate answers 503', async () => {
    const app = await boot({ openrouter: OPENROUTER_KEY, runware: WRONG_KEY });
    const refused = await generate(app);
    expect(envelopeProblem(refused, 503, /Live providers are not available: runware"/)).toBeNull();
    const health = await request<Health>(`${app.url}/health`);
    expect(health.body).toMatchObject({
      status: 'healthy',
      services: { openrouter: 'available', runware: 'unavailable', redis: 'available' },
    });
    expect(openrouter.requests.filter((r) => r.path.endsWith('/chat/completions'))).toEqual([]);
  });
});
