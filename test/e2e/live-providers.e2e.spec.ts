import { startFakeOpenRouter, FakeOpenRouter } from '../support/fake-openrouter';
import { startFakeRunware, FakeRunware } from '../support/fake-runware';
import { liveProviderVars } from '../support/live-vars';
import { request } from '../support/http-client';
import { CapturingLogger, startTestApp, TestApp } from '../support/test-app';
import { pollUntil, storedValues } from '../support/test-env';
import { readZip } from '../support/zip-reader';

const OPENROUTER_KEY = 'sk-or-v1-LIVE-TEST-SECRET-7f3a9c';
const RUNWARE_KEY = 'rw-LIVE-TEST-SECRET-b81d44';
const STORY = [
  'Ivo repaired the old radio in the lighthouse. Static crackled, then a voice called his name.',
  'At dawn Ivo rowed toward the voice. Fog swallowed the harbour behind him.',
  'On the island, Lena waited beside a fire. She had been sending the signal for years.',
  'Ivo and Lena rowed back together as the fog lifted over the sea.',
].join('\n\n');

type Scene = {
  index: number;
  status: string;
  seed: number;
  provider: string;
  model: string;
  error: string | null;
  image_url: string;
};
type Status = {
  status: string;
  phase: string;
  error: string | null;
  warnings: string[];
  scenes: Scene[];
  download_status: string;
  planner: string;
};

describe('live providers through the real SDKs against protocol-faithful fakes', () => {
  let openrouter: FakeOpenRouter;
  let runware: FakeRunware;
  let t: TestApp;
  const logger = new CapturingLogger();
  const bodies: string[] = [];

  const call = async <T = Status>(path: string, init: RequestInit & { json?: unknown } = {}) => {
    const res = await request<T>(`${t.url}${path}`, init);
    bodies.push(JSON.stringify(res.body));
    return res;
  };
  const generate = async (numScenes = 3) => {
    const res = await call<{ session_id: string }>('/generate', {
      method: 'POST',
      json: { story_text: STORY, num_scenes: numScenes },
    });
    expect(res.status).toBe(200);
    return res.body.session_id;
  };
  // A bound on how long a session may take, so a hang fails the test instead of stalling it.
  const settle = (id: string) =>
    pollUntil(
      () => call(`/status/${id}`),
      (r) => r.body.status !== 'processing',
      20_000,
    );

  beforeAll(async () => {
    openrouter = await startFakeOpenRouter({ apiKey: OPENROUTER_KEY });
    runware = await startFakeRunware({ apiKey: RUNWARE_KEY });
    t = await startTestApp(
      {
        ...liveProviderVars(openrouter, runware, { openrouter: OPENROUTER_KEY, runware: RUNWARE_KEY }),
        OPENROUTER_TIMEOUT_MS: '3000',
        RUNWARE_TIMEOUT_MS: '3000',
        JOB_ATTEMPTS: '3',
        JOB_BACKOFF_MS: '50',
        // A provider failing every request fails the session after JOB_ATTEMPTS tries, as these tests
        // expect: no outage is waited out (provider-outage.e2e.spec.ts covers that).
        PROVIDER_OUTAGE_TOLERANCE_SECONDS: '0',
        DEBUG_MODE: 'true',
        // These tests count the scenes' image tasks and script their faults in order; the casting step's
        // portraits would come first (casting-live.e2e.spec.ts covers them against these fakes).
        CAST_PORTRAITS_MAX: '0',
      },
      undefined,
      logger,
    );
  });
  // Every test starts from the fakes' standing behaviour with nothing recorded, so counts are its own.
  beforeEach(() => {
    openrouter.reset();
    runware.reset();
  });
  afterAll(async () => {
    await t.close();
    await openrouter.close();
    await runware.close();
  });

  it('plans with OpenRouter, renders with Runware, downloads from its image host and exports', async () => {
    const id = await generate(4);
    const done = await settle(id);
    expect(done.body).toMatchObject({ status: 'completed', planner: 'openrouter', error: null });
    const seed = done.body.scenes[0].seed;
    for (const scene of done.body.scenes) {
      expect(scene).toMatchObject({ status: 'done', provider: 'runware', seed, model: 'runware:101@1' });
      expect(scene.image_url).toContain(runware.imageHost);
    }
    // Every task of the session carried the session's seed, over one shared SDK connection (the health
    // check opens its own short-lived one).
    expect(runware.stats.imageTasks.map((task) => task.seed)).toEqual([seed, seed, seed, seed]);
    expect(new Set(runware.stats.imageTasks.map((task) => task.connection)).size).toBe(1);
    const chat = openrouter.requests.filter((r) => r.path.endsWith('/chat/completions'));
    expect(chat).toHaveLength(1);
    expect(chat[0].headers['http-referer']).toBeTruthy();
    expect(chat[0].headers['x-openrouter-title']).toBeTruthy();
    expect(JSON.stringify(chat[0].body)).toContain('json_schema');

    expect(
      (await call(`/approve`, { method: 'POST', json: { session_id: id, approved_scenes: [1, 3] } })).status,
    ).toBe(200);
    const downloaded = await pollUntil(
      () => call(`/status/${id}`),
      (r) => r.body.download_status !== 'started',
      20_000,
    );
    expect(downloaded.body.download_status).toBe('completed');
    const zip = await fetch(`${t.url}/download`, {
      method: 'POST',
      body: new URLSearchParams({ session_id: id }),
    });
    expect(zip.status).toBe(200);
    // The reader checks every entry's bytes against both CRC-32s it records.
    const entries = await readZip(Buffer.from(await zip.arrayBuffer()));
    expect(entries.map((e) => e.name).sort()).toEqual([
      'images/scene_02.png',
      'images/scene_04.png',
      'scenes.json',
      'story.txt',
      'storyboard.html',
      'storyboard.pdf',
    ]);
    // Each image is byte for byte what Runware's image host serves at that scene's URL.
    for (const index of [1, 3]) {
      const served = await fetch(done.body.scenes[index].image_url);
      expect(served.status).toBe(200);
      const image = entries.find((e) => e.name === `images/scene_0${index + 1}.png`)!;
      expect(image.data.equals(Buffer.from(await served.arrayBuffer()))).toBe(true);
    }
    const manifest = JSON.parse(entries.find((e) => e.name === 'scenes.json')!.data.toString()) as Record<
      string,
      unknown
    >[];
    expect(manifest).toHaveLength(2);
    for (const entry of manifest) {
      expect(entry).toMatchObject({
        seed,
        provider: 'runware',
        planner: 'openrouter',
        model: 'runware:101@1',
      });
    }
    expect(manifest.map((entry) => entry.source_url)).toEqual([
      done.body.scenes[1].image_url,
      done.body.scenes[3].image_url,
    ]);
  });

  it('reports both live providers as available in /health and only configured/missing in /debug/config', async () => {
    const health = await call<Record<string, unknown>>('/health');
    expect(health.body).toMatchObject({
      status: 'healthy',
      services: { openrouter: 'available', runware: 'available', redis: 'available' },
      providers: { scene_planner: 'openrouter', image_renderer: 'runware' },
    });
    const config = await call<Record<string, unknown>>('/debug/config');
    expect(config.body.api_keys).toMatchObject({ openrouter: 'configured', runware: 'configured' });
  });

  describe('fault matrix', () => {
    const plannerCalls = () => openrouter.requests.filter((r) => r.path.endsWith('/chat/completions')).length;

    it.each([
      [401, /OpenRouter rejected the API key/],
      [402, /insufficient credits/],
      [403, /refused the story/],
    ])('planner %i fails the session at once, without retrying', async (status, message) => {
      openrouter.set({ status });
      const done = await settle(await generate());
      expect(done.body).toMatchObject({ status: 'failed', phase: 'failed' });
      expect(done.body.error).toMatch(message);
      expect(plannerCalls()).toBe(1);
    });

    it.each([
      ['429 with Retry-After', { status: 429, retryAfter: '0' }],
      ['500', { status: 500 }],
      ['502', { status: 502 }],
      ['408', { status: 408 }],
      ['a hang (client timeout)', { mode: 'hang' as const }],
      ['200 with finish_reason "error"', { mode: 'finish-error' as const }],
    ])('planner %s is retried and the session completes', async (_name, fault) => {
      openrouter.enqueue(fault);
      const done = await settle(await generate());
      expect(done.body.status).toBe('completed');
      expect(plannerCalls()).toBe(2);
    });

    it("waits for the planner's Retry-After before retrying", async () => {
      openrouter.enqueue({ status: 429, retryAfter: '1' });
      const done = await settle(await generate());
      expect(done.body.status).toBe('completed');
      const chat = openrouter.requests.filter((r) => r.path.endsWith('/chat/completions'));
      expect(chat).toHaveLength(2);
      // JOB_BACKOFF_MS is 50 here, so only Retry-After (1 s) explains a gap this long.
      expect(chat[1].at - chat[0].at).toBeGreaterThanOrEqual(950);
    });

    it('planner 5xx on every attempt fails the session after JOB_ATTEMPTS tries', async () => {
      openrouter.set({ status: 503 });
      const done = await settle(await generate());
      expect(done.body.status).toBe('failed');
      expect(done.body.error).toMatch(/Scene planning failed: .*503/);
      expect(plannerCalls()).toBe(3);
    });

    it('invalid planner output gets one repair attempt, then fails clearly', async () => {
      openrouter.set({ mode: 'malformed' });
      const done = await settle(await generate());
      expect(done.body.status).toBe('failed');
      expect(done.body.error).toMatch(/invalid plan/);
      expect(plannerCalls()).toBe(2);
    });

    it.each([
      ['fenced', 'fenced' as const],
      ['prose-wrapped', 'prose' as const],
    ])('accepts %s JSON', async (_n, mode) => {
      openrouter.set({ mode });
      expect((await settle(await generate())).body.status).toBe('completed');
    });

    it('a rejected Runware key fails every scene without retries', async () => {
      runware.set({ fault: 'invalidApiKey' });
      const done = await settle(await generate(2));
      expect(done.body.status).toBe('failed');
      expect(done.body.error).toMatch(/Runware rejected the API key/);
      expect(runware.stats.imageTasks).toHaveLength(2);
    });

    it.each([
      ['a provider error', { fault: 'providerError' as const }],
      ['a dropped reply (timeout)', { fault: 'drop' as const }],
    ])('%s is retried and every scene completes', async (_name, fault) => {
      runware.enqueue(fault);
      const done = await settle(await generate(2));
      expect(done.body.status).toBe('completed');
      expect(done.body.scenes.every((s) => s.status === 'done')).toBe(true);
      expect(runware.stats.imageTasks).toHaveLength(3);
    });

    it('a disconnect mid-task is retried and every scene completes', async () => {
      // The renderer's connection is open before the drop, whether or not an earlier test opened it.
      expect((await settle(await generate(1))).body.status).toBe('completed');
      const before = { connections: runware.stats.connections, tasks: runware.stats.imageTasks.length };
      runware.enqueue({ fault: 'disconnect' });
      const done = await settle(await generate(2));
      expect(done.body.status).toBe('completed');
      expect(done.body.scenes.every((s) => s.status === 'done')).toBe(true);
      // The dropped socket loses every task in flight on it (one or both scenes), and each is retried once.
      const tasks = runware.stats.imageTasks.length - before.tasks;
      expect(tasks).toBeGreaterThanOrEqual(3);
      expect(tasks).toBeLessThanOrEqual(4);
      // The retries went over a new connection: the SDK reconnected after the drop.
      expect(runware.stats.connections).toBeGreaterThan(before.connections);
    });

    it('a scene that cannot render fails alone; the others finish and the session names it', async () => {
      runware.enqueue({ fault: 'invalidParameter' });
      const id = await generate(3);
      const done = await settle(id);
      expect(done.body.status).toBe('completed');
      const failed = done.body.scenes.filter((s) => s.status === 'failed');
      expect(failed).toHaveLength(1);
      expect(failed[0].error).toMatch(/Runware rejected the request parameters/);
      expect(done.body.warnings.join(' ')).toContain(`Scene(s) ${failed[0].index + 1} failed to render`);
      const approve = await call(`/approve`, {
        method: 'POST',
        json: { session_id: id, approved_scenes: [failed[0].index] },
      });
      expect(approve.status).toBe(400);
    });

    it('a Runware error on every attempt fails the scenes after JOB_ATTEMPTS tries', async () => {
      runware.set({ fault: 'providerError' });
      const done = await settle(await generate(2));
      expect(done.body.status).toBe('failed');
      expect(runware.stats.imageTasks).toHaveLength(6);
    });
  });

  it('stays healthy, and never puts a key in a response, a log line or Redis', async () => {
    const before = { bodies: bodies.length, lines: logger.lines.length };
    // Traffic of its own, with both key rejections (the errors most likely to quote a key), so the check
    // has something to look at even when this test runs alone; after the others it looks at theirs too.
    const id = await generate(2);
    expect((await settle(id)).body.status).toBe('completed');
    expect(
      (await call(`/approve`, { method: 'POST', json: { session_id: id, approved_scenes: [0] } })).status,
    ).toBe(200);
    const downloaded = await pollUntil(
      () => call(`/status/${id}`),
      (r) => r.body.download_status !== 'started',
      20_000,
    );
    expect(downloaded.body.download_status).toBe('completed');
    openrouter.enqueue({ status: 401 });
    expect((await settle(await generate(2))).body.error).toMatch(/OpenRouter rejected the API key/);
    runware.set({ fault: 'invalidApiKey' });
    expect((await settle(await generate(2))).body.error).toMatch(/Runware rejected the API key/);
    expect((await call<Record<string, unknown>>('/health')).body.status).toBe('healthy');

    expect(bodies.length - before.bodies).toBeGreaterThan(6);
    expect(logger.lines.length - before.lines).toBeGreaterThan(3);
    const values = await storedValues(t.env.prefix);
    expect(values.length).toBeGreaterThan(10);
    for (const secret of [OPENROUTER_KEY, RUNWARE_KEY, 'LIVE-TEST-SECRET']) {
      expect(bodies.filter((b) => b.includes(secret))).toEqual([]);
      expect(logger.lines.filter((l) => l.includes(secret))).toEqual([]);
      expect(values.filter((v) => v.includes(secret))).toEqual([]);
    }
  });
});
