import { FakeOpenRouter, FakeOpenRouterOptions, startFakeOpenRouter } from '../../support/fake-openrouter';
import { FakeRunware, FakeRunwareOptions, startFakeRunware } from '../../support/fake-runware';
import { liveProviderVars } from '../../support/live-vars';
import { freePort, ServiceProcess, waitForHttp } from '../../support/service-process';
import { pollUntil, TestEnv } from '../../support/test-env';
import { ScoringClient } from './client';

export const OPENROUTER_KEY = 'sk-or-v1-RELIABILITY-SECRET-e3b0c44298fc';
export const RUNWARE_KEY = 'rw-RELIABILITY-SECRET-9f86d081884c';

export interface Api {
  process: ServiceProcess;
  url: string;
}

/**
 * A deployment in miniature: fake providers in this process, and compiled API and worker processes
 * (`node dist/main.js`) in live mode against them, sharing one Redis prefix and one image folder.
 */
export class Cluster {
  readonly env = new TestEnv();
  readonly apis: Api[] = [];
  readonly workers: ServiceProcess[] = [];
  client!: ScoringClient;
  private readonly retired: ServiceProcess[] = [];

  private constructor(
    readonly openrouter: FakeOpenRouter,
    readonly runware: FakeRunware,
    readonly vars: Record<string, string>,
  ) {}

  static async start(options: {
    apis?: number;
    workers?: number;
    vars?: Record<string, string>;
    openrouter?: FakeOpenRouterOptions;
    runware?: FakeRunwareOptions;
  }): Promise<Cluster> {
    const openrouter = await startFakeOpenRouter({ apiKey: OPENROUTER_KEY, ...options.openrouter });
    const runware = await startFakeRunware({ apiKey: RUNWARE_KEY, ...options.runware });
    const base: Record<string, string> = {
      ...liveProviderVars(openrouter, runware, { openrouter: OPENROUTER_KEY, runware: RUNWARE_KEY }),
      OPENROUTER_TIMEOUT_MS: '2000',
      RUNWARE_TIMEOUT_MS: '3000',
      JOB_ATTEMPTS: '5',
      JOB_BACKOFF_MS: '200',
      JOB_LOCK_MS: '4000',
      JOB_STALLED_CHECK_MS: '1000',
      WORKER_CONCURRENCY: '10',
      SHUTDOWN_TIMEOUT_MS: '10000',
      HOST: '127.0.0.1',
    };
    const cluster = new Cluster(openrouter, runware, { ...base, ...options.vars });
    for (let i = 0; i < (options.apis ?? 1); i++) await cluster.addApi();
    for (let i = 0; i < (options.workers ?? 1); i++) cluster.addWorker();
    await Promise.all(cluster.workers.map((worker) => worker.waitForOutput('Worker started')));
    cluster.client = new ScoringClient(cluster.apis[0].url);
    return cluster;
  }

  async addApi(): Promise<Api> {
    const port = await freePort();
    const process = new ServiceProcess(
      `api-${this.apis.length + 1}`,
      this.env.vars({ ...this.vars, ROLE: 'api', PORT: String(port) }),
    );
    const api = { process, url: `http://127.0.0.1:${port}` };
    await waitForHttp(`${api.url}/health/ready`, 20_000, process);
    this.apis.push(api);
    return api;
  }

  addWorker(): ServiceProcess {
    const worker = new ServiceProcess(
      `worker-${this.workers.length + this.retired.length + 1}`,
      this.env.vars({ ...this.vars, ROLE: 'worker' }),
    );
    this.workers.push(worker);
    return worker;
  }

  /** Takes a process out of the live set (after killing it) so the rest can be checked for crashes. */
  retire(process: ServiceProcess): void {
    const index = this.workers.indexOf(process);
    if (index >= 0) this.workers.splice(index, 1);
    const apiIndex = this.apis.findIndex((api) => api.process === process);
    if (apiIndex >= 0) this.apis.splice(apiIndex, 1);
    this.retired.push(process);
  }

  /** Every process still in the live set is running: none crashed. */
  crashed(): string[] {
    return [...this.apis.map((a) => a.process), ...this.workers]
      .filter((p) => p.child.exitCode !== null || p.child.signalCode !== null)
      .map((p) => `${p.name}: exit ${p.child.exitCode ?? p.child.signalCode}\n${p.output.slice(-3000)}`);
  }

  logs(): string {
    return [...this.apis.map((a) => a.process), ...this.workers, ...this.retired]
      .map((p) => p.output)
      .join('\n');
  }

  async generate(numScenes: number, story = defaultStory(numScenes)): Promise<string> {
    const res = await this.client.call<{ session_id: string }>('/generate', {
      method: 'POST',
      json: { story_text: story, num_scenes: numScenes, media_type: 'cinematic' },
    });
    if (res.status !== 200) throw new Error(`generate answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body.session_id;
  }

  /** Waits for every session to leave "processing"; a session still processing at the deadline is lost. */
  async settle(ids: string[], timeoutMs: number): Promise<Map<string, SessionOutcome>> {
    const outcomes = new Map<string, SessionOutcome>();
    const deadline = Date.now() + timeoutMs;
    for (const id of ids) {
      const remaining = Math.max(1000, deadline - Date.now());
      try {
        const res = await pollUntil(
          () => this.client.call<SessionOutcome>(`/status/${id}`),
          (r) => r.status === 200 && r.body.status !== 'processing',
          remaining,
        );
        outcomes.set(id, res.body);
      } catch {
        outcomes.set(id, { status: 'lost', error: null, scenes: [], download_status: 'unknown' });
      }
    }
    return outcomes;
  }

  async stop(): Promise<void> {
    await Promise.allSettled(
      [...this.apis.map((a) => a.process), ...this.workers, ...this.retired].map((p) =>
        p.stop('SIGKILL', 5000),
      ),
    );
    await Promise.allSettled([this.openrouter.close(), this.runware.close()]);
    await this.env.cleanup();
  }
}

export interface SessionOutcome {
  status: string;
  error: string | null;
  download_status: string;
  scenes: { index: number; status: string; error: string | null }[];
}

function defaultStory(numScenes: number): string {
  return Array.from(
    { length: numScenes },
    (_, i) => `Part ${i + 1}: Noor crossed the valley at dawn. The wind carried a song from the tower ${i}.`,
  ).join('\n\n');
}

/**
 * Counts outcomes for the tally: completed, failed with a clear error (a real sentence, not a code), or
 * lost (everything else, so no session can fall between the two).
 */
export function summarize(outcomes: Map<string, SessionOutcome>) {
  const all = [...outcomes.values()];
  const clear = (o: SessionOutcome) => o.status === 'failed' && (o.error?.length ?? 0) > 10;
  const completed = all.filter((o) => o.status === 'completed').length;
  const failedClear = all.filter(clear).length;
  return {
    sessions_started: all.length,
    sessions_completed: completed,
    sessions_failed_clear: failedClear,
    sessions_lost: all.length - completed - failedClear,
  };
}

/**
 * Approves every rendered scene of each session and waits for the downloads to finish; returns the
 * indices approved per session.
 */
export async function approveAll(cluster: Cluster, ids: string[]): Promise<Map<string, number[]>> {
  const approved = new Map<string, number[]>();
  for (const id of ids) {
    const status = await cluster.client.call<{ scenes: { index: number; status: string }[] }>(
      `/status/${id}`,
    );
    const indices = status.body.scenes.filter((s) => s.status === 'done').map((s) => s.index);
    const res = await cluster.client.call('/approve', {
      method: 'POST',
      json: { session_id: id, approved_scenes: indices },
    });
    expect(res.status).toBe(200);
    approved.set(id, indices);
  }
  for (const id of ids) {
    const done = await pollUntil(
      () => cluster.client.call(`/status/${id}`),
      (r) => r.body.download_status !== 'started',
      30_000,
    );
    expect(done.body.download_status).toBe('completed');
  }
  return approved;
}
