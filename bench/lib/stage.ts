import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type Redis from 'ioredis';
import { FakeOpenRouter, startFakeOpenRouter } from '../../test/support/fake-openrouter';
import { FakeRunware, startFakeRunware } from '../../test/support/fake-runware';
import { liveProviderVars } from '../../test/support/live-vars';
import { ServiceProcess } from '../../test/support/service-process';
import { kill, startApi, startWorker } from './processes';
import { deleteKeys, REDIS_URL } from './redis';

const OPENROUTER_KEY = 'sk-or-v1-bench-key';
const RUNWARE_KEY = 'bench-runware-key';

export interface StageOptions {
  plannerLatencyMs: number;
  imageLatencyMs: number;
  /** Size of served images (default: the fake's small image). */
  imageBytes?: number;
}

/** Every open stage, so an interrupted bench can still remove its keys and folders. */
const open = new Set<Stage>();

/**
 * One measurement's world: its own fakes, Redis key prefix, image folder and service processes, all torn
 * down by `close()` whatever happened.
 */
export class Stage {
  readonly prefix: string;
  readonly imageDir: string;
  readonly procs: ServiceProcess[] = [];
  /** When each imageInference task reached the fake Runware (epoch ms), in arrival order. */
  readonly imageTaskArrivals: number[] = [];

  private constructor(
    name: string,
    readonly redis: Redis,
    readonly openrouter: FakeOpenRouter,
    readonly runware: FakeRunware,
  ) {
    this.prefix = `bench${randomBytes(4).toString('hex')}${name.replace(/[^a-z]/g, '')}`;
    this.imageDir = mkdtempSync(path.join(tmpdir(), `bench-${name}-`));
    // The fake keeps no arrival times; wrapping push() records them without changing the fake.
    const tasks = runware.stats.imageTasks;
    const push = tasks.push.bind(tasks);
    tasks.push = (...items) => {
      for (let i = 0; i < items.length; i++) this.imageTaskArrivals.push(Date.now());
      return push(...items);
    };
    open.add(this);
  }

  static async open(name: string, redis: Redis, options: StageOptions): Promise<Stage> {
    const openrouter = await startFakeOpenRouter({
      apiKey: OPENROUTER_KEY,
      behaviour: { latencyMs: options.plannerLatencyMs },
    });
    const runware = await startFakeRunware({
      apiKey: RUNWARE_KEY,
      imageBytes: options.imageBytes,
      behaviour: { latencyMs: options.imageLatencyMs },
    }).catch(async (err: unknown) => {
      await openrouter.close();
      throw err;
    });
    return new Stage(name, redis, openrouter, runware);
  }

  /** The service environment: live providers against this stage's fakes, no rate limit. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      REDIS_URL,
      REDIS_PREFIX: this.prefix,
      IMAGE_DIR: this.imageDir,
      ...liveProviderVars(this.openrouter, this.runware, {
        openrouter: OPENROUTER_KEY,
        runware: RUNWARE_KEY,
      }),
      RATE_LIMIT_PER_MINUTE: '0',
      // The scenarios measure what they measured before the casting step and the storyboard existed, so
      // their figures stay comparable across rounds; fanout-casting and export-storyboard turn them on and
      // measure what they add.
      CAST_PORTRAITS_MAX: '0',
      EXPORT_STORYBOARD: 'false',
      ...extra,
    };
  }

  async startApi(extra: Record<string, string> = {}): Promise<{ proc: ServiceProcess; url: string }> {
    const api = await startApi(this.env(extra));
    this.procs.push(api.proc);
    return api;
  }

  async startWorkers(count: number, extra: Record<string, string> = {}): Promise<ServiceProcess[]> {
    const workers = await Promise.all(
      Array.from({ length: count }, (_, i) => startWorker(`worker-${i + 1}`, this.env(extra))),
    );
    this.procs.push(...workers);
    return workers;
  }

  async stop(proc: ServiceProcess): Promise<void> {
    await kill(proc.child);
    this.procs.splice(this.procs.indexOf(proc), 1);
  }

  async close(): Promise<void> {
    open.delete(this);
    await Promise.allSettled(this.procs.map((p) => kill(p.child)));
    await Promise.allSettled([this.openrouter.close(), this.runware.close()]);
    await deleteKeys(this.redis, this.prefix).catch(() => undefined);
    rmSync(this.imageDir, { recursive: true, force: true });
  }
}

export async function withStage<T>(
  name: string,
  redis: Redis,
  options: StageOptions,
  fn: (stage: Stage) => Promise<T>,
): Promise<T> {
  const stage = await Stage.open(name, redis, options);
  try {
    return await fn(stage);
  } finally {
    await stage.close();
  }
}

/** For an interrupted run: close whatever is still open. */
export async function closeAllStages(): Promise<void> {
  await Promise.allSettled([...open].map((stage) => stage.close()));
}
