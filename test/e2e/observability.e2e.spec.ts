import { SessionStore } from '../../src/sessions/session.store';
import { FakeOpenRouter, startFakeOpenRouter } from '../support/fake-openrouter';
import { FakeRunware, startFakeRunware } from '../support/fake-runware';
import { expectEnvelope, request } from '../support/http-client';
import { liveProviderVars } from '../support/live-vars';
import { Exposition, parsePrometheusText, samplesOf, valueOf } from '../support/prometheus-text';
import { freePort, ServiceProcess, waitForHttp } from '../support/service-process';
import { CapturingLogger, startTestApp, TestApp } from '../support/test-app';
import { pollUntil, TestEnv } from '../support/test-env';

const STORY = [
  'Mara found the lantern in the attic. It glowed the moment Tom touched it.',
  'They followed its light into the forest, where the birds fell silent.',
  'At dusk they reached the tower and climbed the stairs with the lantern raised.',
].join('\n\n');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UNKNOWN_SESSION = '7b0c8e9e-1f8a-4a59-9d7c-1f4a2b3c4d5e';
const QUEUES = ['generation', 'download', 'housekeeping', 'webhooks'];
const STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'];

type Status = {
  status: string;
  download_status: string;
  scenes: { image_url: string | null; file_url?: string | null }[];
};

async function scrape(url: string, headers: Record<string, string> = {}): Promise<Exposition> {
  const res = await fetch(`${url}/metrics`, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await res.text());
}

/** Starts a session and waits until its approved scenes are downloaded. */
async function runFlow(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ id: string; done: Status }> {
  const generated = await request<{ session_id: string }>(`${url}/generate`, {
    method: 'POST',
    headers,
    json: { story_text: STORY, num_scenes: 2 },
  });
  expect(generated.status).toBe(200);
  const id = generated.body.session_id;
  const completed = await pollUntil(
    () => request<Status>(`${url}/status/${id}`, { headers }),
    (r) => r.body.status !== 'processing',
  );
  expect(completed.body.status).toBe('completed');
  const approved = await request(`${url}/approve`, {
    method: 'POST',
    headers,
    json: { session_id: id, approved_scenes: [0, 1] },
  });
  expect(approved.status).toBe(200);
  const done = await pollUntil(
    () => request<Status>(`${url}/status/${id}`, { headers }),
    (r) => r.body.download_status !== 'started',
  );
  expect(done.body.download_status).toBe('completed');
  return { id, done: done.body };
}

describe('GET /metrics', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('serves the named series with their labels after a generate, status, approve flow', async () => {
    const before = await scrape(t.url);
    const completedBefore = valueOf(before, 'sessions_total', { outcome: 'completed' });
    // The series exists before any session ended (prom-client shows a labelled counter once it is set up).
    expect(completedBefore).toEqual(expect.any(Number));

    await runFlow(t.url);
    const after = await scrape(t.url);

    expect(after.types).toMatchObject({
      http_request_duration_seconds: 'histogram',
      bullmq_queue_jobs: 'gauge',
      sessions_total: 'counter',
      process_cpu_user_seconds_total: 'counter',
    });
    const count = (method: string, route: string, status: string) =>
      valueOf(after, 'http_request_duration_seconds_count', { method, route, status_code: status }) ?? 0;
    expect(count('POST', '/generate', '200')).toBeGreaterThanOrEqual(1);
    expect(count('GET', '/status/:session_id', '200')).toBeGreaterThanOrEqual(2);
    expect(count('POST', '/approve', '200')).toBeGreaterThanOrEqual(1);
    // Routes are patterns: no label carries a session id, so the series stay few.
    const routes = samplesOf(after, 'http_request_duration_seconds_count').map((s) => s.labels.route);
    expect(routes.filter((route) => /[0-9a-f]{8}-/.test(route))).toEqual([]);
    const buckets = samplesOf(after, 'http_request_duration_seconds_bucket', {
      route: '/status/:session_id',
      le: '+Inf',
    });
    expect(buckets.length).toBeGreaterThanOrEqual(1);

    for (const queue of QUEUES)
      for (const state of STATES)
        expect(valueOf(after, 'bullmq_queue_jobs', { queue, state })).toEqual(expect.any(Number));
    // The plan, two renders and the download ran.
    expect(
      valueOf(after, 'bullmq_queue_jobs', { queue: 'generation', state: 'completed' }),
    ).toBeGreaterThanOrEqual(3);
    expect(
      valueOf(after, 'bullmq_queue_jobs', { queue: 'download', state: 'completed' }),
    ).toBeGreaterThanOrEqual(1);

    expect(valueOf(after, 'sessions_total', { outcome: 'completed' })).toBe(completedBefore! + 1);
    // Defined by the providers (src/providers/provider-metrics.ts), on the same registry.
    expect(after.types.provider_requests_total).toBe('counter');
    for (const operation of ['plan', 'render'])
      expect(
        samplesOf(after, 'provider_requests_total', { operation, outcome: 'success' }).reduce(
          (sum, s) => sum + s.value,
          0,
        ),
      ).toBeGreaterThanOrEqual(1);
  });

  it('counts a session once in sessions_total, however often a regeneration ends it again', async () => {
    const generated = await request<{ session_id: string }>(`${t.url}/generate`, {
      method: 'POST',
      json: { story_text: STORY, num_scenes: 2 },
    });
    const id = generated.body.session_id;
    type Versioned = { status: string; scenes: { version: number; status: string }[] };
    const settled = (version: number) =>
      pollUntil(
        () => request<Versioned>(`${t.url}/status/${id}`),
        (r) => r.body.status !== 'processing' && r.body.scenes[1]?.version === version,
      );
    expect((await settled(1)).body.status).toBe('completed');
    const once = valueOf(await scrape(t.url), 'sessions_total', { outcome: 'completed' });

    const regenerated = await request(`${t.url}/sessions/${id}/scenes/1/regenerate`, { method: 'POST' });
    expect(regenerated.status).toBe(202);
    const again = await settled(2);
    expect(again.body).toMatchObject({ status: 'completed', scenes: [{}, { version: 2, status: 'done' }] });
    expect(valueOf(await scrape(t.url), 'sessions_total', { outcome: 'completed' })).toBe(once);
  });

  it('labels a path no route matches as unmatched, not by the path', async () => {
    expectEnvelope(await request(`${t.url}/no/such/path/1234`), 404);
    const metrics = await scrape(t.url);
    expect(
      valueOf(metrics, 'http_request_duration_seconds_count', {
        method: 'GET',
        route: 'unmatched',
        status_code: '404',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      samplesOf(metrics, 'http_request_duration_seconds_count').map((s) => s.labels.route),
    ).not.toContain('/no/such/path/1234');
  });
});

describe('sessions_total for failed sessions', () => {
  let t: TestApp;
  beforeAll(async () => {
    // No worker: a session stays processing until the test fails it.
    t = await startTestApp({ ROLE: 'api' });
  });
  afterAll(() => t.close());

  it('counts a failed session once, however often it is failed', async () => {
    const generated = await request<{ session_id: string }>(`${t.url}/generate`, {
      method: 'POST',
      json: { story_text: STORY, num_scenes: 2 },
    });
    expect(generated.status).toBe(200);
    const failedBefore = valueOf(await scrape(t.url), 'sessions_total', { outcome: 'failed' }) ?? 0;

    const store = t.app.get(SessionStore);
    expect(await store.fail(generated.body.session_id, 'first failure')).toBe(true);
    expect(await store.fail(generated.body.session_id, 'second failure')).toBe(false);

    const status = await request<{ status: string; error: string }>(
      `${t.url}/status/${generated.body.session_id}`,
    );
    expect(status.body).toMatchObject({ status: 'failed', error: 'first failure' });
    expect(valueOf(await scrape(t.url), 'sessions_total', { outcome: 'failed' })).toBe(failedBefore + 1);
  });
});

describe('METRICS_ENABLED=false', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ METRICS_ENABLED: 'false' });
  });
  afterAll(() => t.close());

  it('answers /metrics like a path that does not exist', async () => {
    const metrics = await request(`${t.url}/metrics`);
    const unknown = await request(`${t.url}/metricz`);
    expectEnvelope(metrics, 404);
    expect(metrics.body.error).toBe('Cannot GET /metrics');
    expect(unknown.body.error).toBe('Cannot GET /metricz');
  });
});

describe('request ids and access log lines', () => {
  const logger = new CapturingLogger();
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({}, new TestEnv(), logger);
  });
  afterAll(() => t.close());

  const accessLines = (requestId: string) =>
    logger.lines.filter((line) => line.includes(`"request_id":"${requestId}"`));

  it('keeps a sane X-Request-Id, echoes it, and logs the request once under it', async () => {
    const res = await fetch(`${t.url}/status/${UNKNOWN_SESSION}?expires=1&signature=c2VjcmV0LXNpZw`, {
      headers: { 'X-Request-Id': 'abc-123' },
    });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-request-id')).toBe('abc-123');
    await pollUntil(
      async () => accessLines('abc-123'),
      (lines) => lines.length > 0,
      5_000,
    );
    const lines = accessLines('abc-123');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^log /);
    expect(lines[0]).toContain(`GET /status/${UNKNOWN_SESSION} 404`);
    expect(lines[0]).toContain('"route":"/status/:session_id"');
    // The query string, where image URLs carry their signature, is never logged.
    expect(logger.lines.join('\n')).not.toContain('c2VjcmV0LXNpZw');
  });

  it('replaces a missing or unsafe X-Request-Id with a new one, and returns it', async () => {
    const missing = await fetch(`${t.url}/health`);
    const unsafe = await fetch(`${t.url}/health`, { headers: { 'X-Request-Id': 'a b\u00e9"}' } });
    const tooLong = await fetch(`${t.url}/health`, { headers: { 'X-Request-Id': 'x'.repeat(129) } });
    const ids = [missing, unsafe, tooLong].map((res) => res.headers.get('x-request-id') ?? '');
    for (const id of ids) expect(id).toMatch(UUID);
    expect(new Set(ids).size).toBe(3);
  });

  it('logs health probes, scrapes and successful status polls at debug only', async () => {
    const started = await request<{ session_id: string }>(`${t.url}/generate`, {
      method: 'POST',
      json: { story_text: STORY, num_scenes: 2 },
      headers: { 'X-Request-Id': 'start-1' },
    });
    await fetch(`${t.url}/status/${started.body.session_id}`, { headers: { 'X-Request-Id': 'poll-1' } });
    await fetch(`${t.url}/health/live`, { headers: { 'X-Request-Id': 'probe-1' } });
    await fetch(`${t.url}/metrics`, { headers: { 'X-Request-Id': 'scrape-1' } });
    const quiet = () => ['poll-1', 'probe-1', 'scrape-1'].flatMap(accessLines);
    await pollUntil(
      async () => [...quiet(), ...accessLines('start-1')],
      (lines) => lines.length === 4,
      5_000,
    );
    for (const line of quiet()) expect(line).toMatch(/^debug /);
    // The request that changed something is logged at info.
    expect(accessLines('start-1')[0]).toMatch(/^log /);
  });
});

describe('the queue dashboard', () => {
  const KEY = 'dashboard-key-0123456789';
  const CLIENT_KEY = 'client-key-not-an-operator-0123';

  it('is not there unless QUEUE_DASHBOARD=true', async () => {
    const t = await startTestApp();
    try {
      expectEnvelope(await request(`${t.url}/admin/queues`), 404);
    } finally {
      await t.close();
    }
  });

  describe('with QUEUE_DASHBOARD=true and API_KEYS', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({
        QUEUE_DASHBOARD: 'true',
        QUEUE_DASHBOARD_KEYS: 'ops',
        API_KEYS: `ops:${KEY},${CLIENT_KEY}`,
      });
    });
    afterAll(() => t.close());

    const basic = (password: string) => `Basic ${Buffer.from(`anyone:${password}`).toString('base64')}`;

    it('asks for the key with Basic auth and the envelope', async () => {
      const refused: Record<string, string>[] = [
        {},
        { authorization: basic('not-the-key-0123456') },
        { 'x-api-key': 'wrong' },
      ];
      for (const headers of refused) {
        const res = await request(`${t.url}/admin/queues`, { headers });
        expectEnvelope(res, 401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="queues"/);
      }
      // Its API and the routes that change queues too, not only the page.
      expectEnvelope(await request(`${t.url}/admin/queues/api/queues`), 401);
      expectEnvelope(
        await request(`${t.url}/admin/queues/api/queues/generation/pause`, { method: 'PUT' }),
        401,
      );
    });

    it("refuses a client's key: only operator keys (QUEUE_DASHBOARD_KEYS) see every tenant's jobs", async () => {
      for (const path of ['/admin/queues', '/admin/queues/api/queues']) {
        expectEnvelope(await request(`${t.url}${path}`, { headers: { 'x-api-key': CLIENT_KEY } }), 403);
        expectEnvelope(
          await request(`${t.url}${path}`, { headers: { authorization: basic(CLIENT_KEY) } }),
          403,
        );
      }
      const pause = await request(`${t.url}/admin/queues/api/queues/generation/pause`, {
        method: 'PUT',
        headers: { 'x-api-key': CLIENT_KEY },
      });
      expectEnvelope(pause, 403);
    });

    it('opens to the key as the Basic auth password or in X-API-Key', async () => {
      const page = await fetch(`${t.url}/admin/queues`, { headers: { authorization: basic(KEY) } });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      const queues = await request<{ queues: { name: string }[] }>(`${t.url}/admin/queues/api/queues`, {
        headers: { 'x-api-key': KEY },
      });
      expect(queues.status).toBe(200);
      expect(queues.body.queues.map((q) => q.name).sort()).toEqual([...QUEUES].sort());
    });
  });
});

describe('JSON logs of the compiled service (API and worker processes)', () => {
  const API_KEY = 'observability-key-0123456789';
  const OPENROUTER_KEY = 'sk-or-v1-observability-secret';
  const RUNWARE_KEY = 'rw-observability-secret-key';
  const env = new TestEnv();
  let openrouter: FakeOpenRouter;
  let runware: FakeRunware;
  let api: ServiceProcess;
  let worker: ServiceProcess;
  let url: string;
  let workerUrl: string;
  const stdout = new Map<ServiceProcess, string>();
  const keyed = { 'x-api-key': API_KEY };

  /** Every stdout line of `proc`, which must each be one JSON object. */
  const jsonLines = (proc: ServiceProcess) =>
    (stdout.get(proc) ?? '')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => {
        try {
          return JSON.parse(line) as Record<string, unknown>;
        } catch {
          throw new Error(`${proc.name} wrote a line that is not JSON: ${line}`);
        }
      });
  const keepStdout = (proc: ServiceProcess) => {
    stdout.set(proc, '');
    proc.child.stdout?.on('data', (chunk: Buffer) => stdout.set(proc, stdout.get(proc) + chunk.toString()));
    return proc;
  };

  beforeAll(async () => {
    openrouter = await startFakeOpenRouter({ apiKey: OPENROUTER_KEY });
    runware = await startFakeRunware({ apiKey: RUNWARE_KEY });
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const vars = env.vars({
      ...liveProviderVars(openrouter, runware, { openrouter: OPENROUTER_KEY, runware: RUNWARE_KEY }),
      HOST: '127.0.0.1',
      LOG_FORMAT: 'json',
      API_KEYS: `ops:${API_KEY}`,
      ALLOW_ANONYMOUS: 'false',
    });
    api = keepStdout(new ServiceProcess('api', { ...vars, ROLE: 'api', PORT: String(port) }));
    await waitForHttp(`${url}/health/ready`, 30_000, api);
    const healthPort = await freePort();
    workerUrl = `http://127.0.0.1:${healthPort}`;
    worker = keepStdout(
      new ServiceProcess('worker', { ...vars, ROLE: 'worker', WORKER_HEALTH_PORT: String(healthPort) }),
    );
    await waitForHttp(`${workerUrl}/health/ready`, 30_000, worker);
  });

  afterAll(async () => {
    await Promise.allSettled([api, worker].filter(Boolean).map((p) => p.stop('SIGTERM')));
    await Promise.all([openrouter?.close(), runware?.close()]);
    await env.cleanup();
  });

  it('uses an incoming X-Request-Id, or makes one, returns it and logs the request under it', async () => {
    const given = await fetch(`${url}/status/${UNKNOWN_SESSION}`, {
      headers: { ...keyed, 'X-Request-Id': 'abc-123' },
    });
    expect(given.status).toBe(404);
    expect(given.headers.get('x-request-id')).toBe('abc-123');
    const made = await fetch(`${url}/status/${UNKNOWN_SESSION}`, { headers: keyed });
    const madeId = made.headers.get('x-request-id') ?? '';
    expect(madeId).toMatch(UUID);

    const logged = await pollUntil(
      async () => jsonLines(api).filter((line) => line.context === 'HTTP'),
      (lines) => lines.some((l) => l.request_id === madeId),
      5_000,
    );
    for (const id of ['abc-123', madeId]) {
      const line = logged.find((l) => l.request_id === id);
      expect(line).toMatchObject({
        level: 'info',
        method: 'GET',
        route: '/status/:session_id',
        status_code: 404,
        msg: expect.stringContaining(`GET /status/${UNKNOWN_SESSION} 404`),
      });
      expect(typeof line?.duration_ms).toBe('number');
    }
  });

  it('keeps /metrics open without a key on the API and on a worker health port', async () => {
    expectEnvelope(await request(`${url}/status/${UNKNOWN_SESSION}`), 401);
    const apiMetrics = await scrape(url);
    expect(apiMetrics.types.http_request_duration_seconds).toBe('histogram');
    const workerMetrics = await scrape(workerUrl);
    expect(workerMetrics.types).toMatchObject({ bullmq_queue_jobs: 'gauge', sessions_total: 'counter' });
  });

  it('writes only JSON lines with level, time and msg, job lines with their ids, and no secret', async () => {
    const { id, done } = await runFlow(url, keyed);
    // A signed image URL, loaded as a browser would: its query holds the signature.
    const imageUrls = done.scenes.flatMap((s) => [s.image_url, s.file_url]).filter((u): u is string => !!u);
    expect(imageUrls.length).toBeGreaterThan(0);
    for (const imageUrl of imageUrls) await fetch(imageUrl, { headers: keyed });
    const signatures = imageUrls
      .map((u) => new URL(u).searchParams.get('signature'))
      .filter((s): s is string => s !== null);

    // The worker that completed the session counted it.
    const workerMetrics = await scrape(workerUrl);
    expect(valueOf(workerMetrics, 'sessions_total', { outcome: 'completed' })).toBe(1);

    const workerLines = await pollUntil(
      async () => jsonLines(worker),
      (lines) => lines.some((l) => l.session_id === id && typeof l.job_id === 'string'),
      10_000,
    );
    const apiLines = jsonLines(api);
    for (const line of [...apiLines, ...workerLines]) {
      expect(line).toMatchObject({
        level: expect.stringMatching(/^(fatal|error|warn|info|debug)$/),
        time: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/),
        msg: expect.any(String),
      });
    }
    // Written while a job of this session ran: the session's end, by the render that ended it.
    const ended = workerLines.find((l) => l.msg === `Session ${id} completed`);
    expect(ended).toMatchObject({ session_id: id, job_id: expect.stringMatching(/^render-/) });

    const everything = [...(stdout.get(api) ?? '').split('\n'), ...(stdout.get(worker) ?? '').split('\n')];
    for (const secret of [API_KEY, OPENROUTER_KEY, RUNWARE_KEY, ...signatures]) {
      expect(everything.filter((line) => line.includes(secret))).toEqual([]);
    }
    expect(everything.filter((line) => /signature=(?!\[redacted\])/.test(line))).toEqual([]);
  });

  it('still writes the last line when stopped by SIGTERM', async () => {
    // Nest ends the process by re-sending the signal: an asynchronous writer would lose what it still holds.
    await Promise.all([api.stop('SIGTERM'), worker.stop('SIGTERM')]);
    for (const proc of [api, worker]) {
      // The pipe may still hold the output when the exit is reported.
      const last = await pollUntil(
        async () => jsonLines(proc).at(-1),
        (line) => line?.msg === 'Shut down cleanly after SIGTERM',
        5_000,
      ).catch(() => jsonLines(proc).at(-1));
      expect(last).toMatchObject({ context: 'Shutdown', msg: 'Shut down cleanly after SIGTERM' });
    }
  });
});
