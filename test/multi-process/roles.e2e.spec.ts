import Redis from 'ioredis';
import { FakeOpenRouter, startFakeOpenRouter } from '../support/fake-openrouter';
import { FakeRunware, startFakeRunware } from '../support/fake-runware';
import { request } from '../support/http-client';
import { liveProviderVars } from '../support/live-vars';
import { freePort, ServiceProcess, waitForHttp } from '../support/service-process';
import { pollUntil, REDIS_URL, TestEnv } from '../support/test-env';
import { readZip } from '../support/zip-reader';

const STORY = Array.from(
  { length: 16 },
  (_, i) => `Chapter ${i + 1} begins as Ada walks further along the coast. The lighthouse ${i} blinks twice.`,
).join('\n\n');
const OPENROUTER_KEY = 'sk-or-v1-roles-test-key';
const RUNWARE_KEY = 'rw-roles-test-key';
const NUM_SCENES = 8;
const CONCURRENCY = 2;
/** How long the fake Runware holds the first renders: ample time to pause worker 1 while they are in flight. */
const HOLD_MS = 1_500;

type Status = { status: string; scenes: { status: string; image_url: string }[]; download_status: string };

describe('one API process and two worker processes (compiled service)', () => {
  const env = new TestEnv();
  let api: ServiceProcess;
  let workers: ServiceProcess[];
  let url: string;
  let workerHealthPort: number;
  let openrouter: FakeOpenRouter;
  let runware: FakeRunware;
  const redis = new Redis(REDIS_URL);

  /** The pids of the processes that rendered the session's finished scenes, one per scene. */
  const renderedBy = async (id: string): Promise<number[]> => {
    const fields = await redis.hgetall(`${env.prefix}:session:${id}`);
    return Object.entries(fields)
      .filter(([name]) => name.startsWith('render:'))
      .map(([, value]) => JSON.parse(value) as { status: string; rendered_by?: string })
      .filter((render) => render.status === 'done')
      .map((render) => Number(render.rendered_by?.split(':').pop()));
  };
  const generate = async () => {
    const res = await request<{ session_id: string }>(`${url}/generate`, {
      method: 'POST',
      json: { story_text: STORY, media_type: 'cartoon', num_scenes: NUM_SCENES },
    });
    expect(res.status).toBe(200);
    return res.body.session_id;
  };
  const settle = (id: string) =>
    pollUntil(
      () => request<Status>(`${url}/status/${id}`),
      (r) => r.body.status !== 'processing',
      60_000,
    );
  // SIGSTOP freezes a worker as it is: jobs it holds stay locked to it, and it takes no others until SIGCONT.
  const pause = (worker: ServiceProcess) => worker.child.kill('SIGSTOP');
  const resume = (worker: ServiceProcess) => worker.child.kill('SIGCONT');

  beforeAll(async () => {
    openrouter = await startFakeOpenRouter({ apiKey: OPENROUTER_KEY });
    runware = await startFakeRunware({ apiKey: RUNWARE_KEY });
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const vars = env.vars({
      PORT: String(port),
      HOST: '127.0.0.1',
      WORKER_CONCURRENCY: String(CONCURRENCY),
      ...liveProviderVars(openrouter, runware, { openrouter: OPENROUTER_KEY, runware: RUNWARE_KEY }),
      // The test holds a worker once it has taken its share of the scenes' image tasks, counted at the
      // fake; portraits would be counted first.
      CAST_PORTRAITS_MAX: '0',
    });
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
    await Promise.all(workers.map((worker) => worker.waitForOutput('Worker started')));
  });

  afterAll(async () => {
    await Promise.allSettled([api, ...workers].map((p) => p.stop('SIGKILL')));
    redis.disconnect();
    await Promise.all([openrouter.close(), runware.close()]);
    await env.cleanup();
  });

  it('renders the scenes of one session on both workers, completes several sessions, exports one', async () => {
    const [first, second] = workers;
    let id: string;
    try {
      // Worker 1 starts the session alone, its renders held by Runware, and is paused while they are in
      // flight; worker 2 must then render the scenes left; worker 1 resumes and finishes its own.
      pause(second);
      runware.set({ latencyMs: HOLD_MS });
      // The paused worker may hold BullMQ's wake-up for this job: worker 1 then finds the job on its next
      // poll, within BullMQ's drainDelay (5 s).
      id = await generate();
      await pollUntil(
        async () => runware.stats.imageTasks.length,
        (sent) => sent >= CONCURRENCY,
      );
      // Worker 1 holds at most CONCURRENCY of the NUM_SCENES jobs, so the rest are left for worker 2.
      pause(first);
      runware.set({ latencyMs: 0 });
      resume(second);
      await pollUntil(
        () => renderedBy(id),
        (pids) => pids.includes(second.pid),
      );
    } finally {
      workers.forEach(resume);
    }
    const done = await settle(id);
    expect(done.body.status).toBe('completed');
    expect(done.body.scenes.filter((s) => s.status === 'done')).toHaveLength(NUM_SCENES);
    expect(new Set(await renderedBy(id))).toEqual(new Set([first.pid, second.pid]));

    // Two more sessions at once, with both workers free to take any job; only worker processes render.
    const more = await Promise.all([generate(), generate()]);
    for (const other of more) {
      expect((await settle(other)).body.status).toBe('completed');
      const pids = await renderedBy(other);
      expect(pids).toHaveLength(NUM_SCENES);
      for (const pid of pids) expect([first.pid, second.pid]).toContain(pid);
    }

    const approve = await request(`${url}/approve`, {
      method: 'POST',
      json: { session_id: id, approved_scenes: [0, 7] },
    });
    expect(approve.status).toBe(200);
    await pollUntil(
      () => request<Status>(`${url}/status/${id}`),
      (r) => r.body.download_status === 'completed',
      30_000,
    );
    const zip = await fetch(`${url}/download`, {
      method: 'POST',
      body: new URLSearchParams({ session_id: id }),
    });
    expect(zip.status).toBe(200);
    // The reader checks every entry's bytes against both CRC-32s it records.
    const entries = await readZip(Buffer.from(await zip.arrayBuffer()));
    expect(entries.map((e) => e.name).sort()).toEqual([
      'images/scene_01.png',
      'images/scene_08.png',
      'scenes.json',
      'story.txt',
      'storyboard.html',
      'storyboard.pdf',
    ]);
    for (const [index, name] of [
      [0, 'images/scene_01.png'],
      [7, 'images/scene_08.png'],
    ] as const) {
      const served = Buffer.from(await (await fetch(done.body.scenes[index].image_url)).arrayBuffer());
      expect(entries.find((e) => e.name === name)!.data.equals(served)).toBe(true);
    }
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
