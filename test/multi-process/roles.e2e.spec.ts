import Redis from 'ioredis';
import { request } from '../support/http-client';
import { freePort, ServiceProcess, waitForHttp } from '../support/service-process';
import { pollUntil, REDIS_URL, TestEnv } from '../support/test-env';
import { readZip } from '../support/zip-reader';

const STORY = Array.from(
  { length: 16 },
  (_, i) => `Chapter ${i + 1} begins as Ada walks further along the coast. The lighthouse ${i} blinks twice.`,
).join('\n\n');

describe('one API process and two worker processes (compiled service)', () => {
  const env = new TestEnv();
  let api: ServiceProcess;
  let workers: ServiceProcess[];
  let url: string;
  let workerHealthPort: number;
  const redis = new Redis(REDIS_URL);

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    // Small per-worker concurrency so neither worker can take every scene alone.
    const vars = env.vars({ PORT: String(port), HOST: '127.0.0.1', WORKER_CONCURRENCY: '2' });
    api = new ServiceProcess('api', { ...vars, ROLE: 'api' });
    await waitForHttp(`${url}/health/ready`, 20_000, api);
    // Picked only once the API holds its port, so the two can never be handed the same free port.
    workerHealthPort = await freePort();
    workers = [1, 2].map(
      (n) =>
        new ServiceProcess(`worker-${n}`, {
          ...vars,
          ROLE: 'worker',
          ...(n === 1 ? { WORKER_HEALTH_PORT: String(workerHealthPort) } : {}),
        }),
    );
    // Both workers consuming before any session exists, so neither can take every scene alone.
    await Promise.all(workers.map((worker) => worker.waitForOutput('Worker started')));
  });

  afterAll(async () => {
    await Promise.allSettled([api, ...workers].map((p) => p.stop('SIGKILL')));
    redis.disconnect();
    await env.cleanup();
  });

  it('completes several sessions with scenes rendered by both workers, then exports one', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await request<{ session_id: string }>(`${url}/generate`, {
        method: 'POST',
        json: { story_text: STORY, media_type: 'cartoon', num_scenes: 8 },
      });
      expect(res.status).toBe(200);
      ids.push(res.body.session_id);
    }
    for (const id of ids) {
      const done = await pollUntil(
        () => request<{ status: string; scenes: { status: string }[] }>(`${url}/status/${id}`),
        (r) => r.body.status !== 'processing',
        60_000,
      );
      expect(done.body.status).toBe('completed');
      expect(done.body.scenes.filter((s) => s.status === 'done')).toHaveLength(8);
    }

    const workerPids = new Set(workers.map((w) => String(w.pid)));
    const renderersBySession = await Promise.all(
      ids.map(async (id) => {
        const fields = await redis.hgetall(`${env.prefix}:session:${id}`);
        const renderers = Object.entries(fields)
          .filter(([name]) => name.startsWith('render:'))
          .map(([, value]) => (JSON.parse(value) as { rendered_by: string }).rendered_by.split(':').pop()!);
        return new Set(renderers);
      }),
    );
    // Only worker processes render (the API process never consumes queues) ...
    for (const renderers of renderersBySession)
      for (const pid of renderers) expect(workerPids).toContain(pid);
    // ... and at least one session has scenes from both workers.
    expect(renderersBySession.some((renderers) => renderers.size === 2)).toBe(true);

    const approve = await request(`${url}/approve`, {
      method: 'POST',
      json: { session_id: ids[0], approved_scenes: [0, 7] },
    });
    expect(approve.status).toBe(200);
    await pollUntil(
      () => request(`${url}/status/${ids[0]}`),
      (r) => r.body.download_status === 'completed',
      30_000,
    );
    const zip = await fetch(`${url}/download`, {
      method: 'POST',
      body: new URLSearchParams({ session_id: ids[0] }),
    });
    expect(zip.status).toBe(200);
    const names = (await readZip(Buffer.from(await zip.arrayBuffer()))).map((e) => e.name).sort();
    expect(names).toEqual(['images/scene_01.png', 'images/scene_08.png', 'scenes.json', 'story.txt']);
  });

  it('lets a worker answer health probes on WORKER_HEALTH_PORT, and nothing else', async () => {
    const workerUrl = `http://127.0.0.1:${workerHealthPort}`;
    await waitForHttp(`${workerUrl}/health/ready`, 20_000, workers[0]);
    expect((await request(`${workerUrl}/health/live`)).status).toBe(200);
    const generate = await request(`${workerUrl}/generate`, { method: 'POST', json: { story_text: 'x' } });
    expect(generate.status).toBe(404);
    expect(generate.body).toMatchObject({ status_code: 404, error: 'Cannot POST /generate' });
  });

  it('shuts every process down gracefully on SIGTERM', async () => {
    const processes = [api, ...workers];
    await Promise.all(processes.map((p) => p.stop('SIGTERM', 30_000)));
    // Nest re-raises the signal once every shutdown hook has run; the root module logs when they have.
    for (const p of processes) expect(p.output).toContain('Shut down cleanly after SIGTERM');
  });
});
