import { Queue } from 'bullmq';
import type Redis from 'ioredis';
import { cpuMsOf } from './lib/cpu';
import { MeasureContext, MeasureResult } from './lib/context';
import { figure } from './lib/figures';
import { SERVICE_LIKE_JOB_OPTIONS } from './lib/job-options';
import { HelperProcess, kill } from './lib/processes';
import { addInto, commandDelta, commandStats, CommandTally, minus, REDIS_URL, usecDelta } from './lib/redis';
import { generateMany, readSessionTimes, waitAllViaRedis } from './lib/sessions';
import { withStage } from './lib/stage';
import { median, round, sleep } from './lib/stats';

const SCENES = 10;
const CONCURRENCY = 50;
/**
 * Bare and end-to-end runs alternate (bare, service, bare, service, …) and each side's median is taken: on
 * 2 shared cores one run's rate swings by ±20 % with scheduling, and alternating exposes both sides to the
 * same drift in machine conditions instead of measuring all of one side first.
 */
const REPEATS = 5;
/** Jobs the bare worker runs before timing starts, to warm its JIT. */
const WARMUP_JOBS = 500;

interface E2eRun {
  scenesPerSecond: number;
  seconds: number;
  scenesDone: number;
}

/**
 * 3. Per-scene cost: with zero-latency fakes nothing waits on a provider, so end-to-end scenes/s is bounded
 * by the service's own work per scene (CPU and Redis round trips). The baseline is a bare BullMQ Worker
 * (no-op processor, same concurrency, same job options) draining the same number of jobs on the same
 * Redis in its own process. Redis commands per session come from INFO commandstats deltas over the
 * service's runs (commands run inside Lua scripts count under their own names as well), minus the bench's
 * own polling; other clients of the shared Redis would add noise. CPU per scene of each process comes from
 * /proc; "bench+fakes" is this process, which also serves the fake providers and generates the load.
 */
export async function perScene(ctx: MeasureContext): Promise<MeasureResult> {
  const sessions = ctx.quick ? 50 : 200;
  const scenes = sessions * SCENES;
  return withStage('perscene', ctx.redis, { plannerLatencyMs: 0, imageLatencyMs: 0 }, async (stage) => {
    const api = await stage.startApi();
    const [worker] = await stage.startWorkers(1, { WORKER_CONCURRENCY: String(CONCURRENCY) });
    // Warm-up (not counted): one run's worth of sessions. The service has far more code to warm (HTTP,
    // both provider SDKs, sessions) than the bare worker, whose own warm-up is WARMUP_JOBS jobs.
    const warm = await generateMany(api.url, sessions, SCENES);
    await waitAllViaRedis(ctx.redis, stage.prefix, warm, 60_000, new CommandTally(), 100);
    await sleep(300);

    const bareRuns: BareRun[] = [];
    const runs: E2eRun[] = [];
    const tally = new CommandTally();
    const commands: Record<string, number> = {};
    const usec: Record<string, number> = {};
    const cpu = { api: 0, worker: 0, bench: 0, redisMs: 0 };
    for (let rep = 0; rep < REPEATS; rep++) {
      bareRuns.push(await bareWorker(ctx.redis, `${stage.prefix}:bare${rep}`, scenes));

      const before = await commandStats(ctx.redis);
      const cpuBefore = {
        api: cpuMsOf(api.proc.pid),
        worker: cpuMsOf(worker.pid),
        bench: cpuMsOf(process.pid),
      };
      const ids = await generateMany(api.url, sessions, SCENES);
      await waitAllViaRedis(ctx.redis, stage.prefix, ids, 120_000, tally, 100);
      // The last jobs' bookkeeping (moveToFinished of the last render) may trail the status write.
      await sleep(300);
      cpu.api += cpuMsOf(api.proc.pid) - cpuBefore.api;
      cpu.worker += cpuMsOf(worker.pid) - cpuBefore.worker;
      cpu.bench += cpuMsOf(process.pid) - cpuBefore.bench;
      const after = await commandStats(ctx.redis);
      tally.add('info', 2);
      cpu.redisMs += (after.cpuSeconds - before.cpuSeconds) * 1000;
      addInto(commands, commandDelta(before, after));
      addInto(usec, usecDelta(before, after));

      // Read after the `after` snapshot: these reads are not in the delta.
      const times = await readSessionTimes(ctx.redis, stage.prefix, ids);
      const scenesDone = times.reduce((sum, t) => sum + t.scenesDone, 0);
      const seconds =
        (Math.max(...times.map((t) => t.completedAt)) - Math.min(...times.map((t) => t.createdAt))) / 1000;
      runs.push({ scenesPerSecond: round(scenesDone / seconds, 1), seconds: round(seconds, 3), scenesDone });
      ctx.log(
        `per-scene: repeat ${rep + 1}/${REPEATS}: bare ${round(bareRuns[rep].jobsPerSecond)} jobs/s, ` +
          `service ${round(runs[rep].scenesPerSecond)} scenes/s`,
      );
    }
    const bare = {
      runs: bareRuns,
      jobsPerSecond: median(bareRuns.map((r) => r.jobsPerSecond)),
      commandsPerJob: median(bareRuns.map((r) => r.commandsPerJob)),
      redisCpuMsPerJob: median(bareRuns.map((r) => r.redisCpuMsPerJob)),
      workerCpuMsPerJob: median(bareRuns.map((r) => r.workerCpuMsPerJob)),
    };

    const allSessions = sessions * REPEATS;
    const done = runs.reduce((sum, r) => sum + r.scenesDone, 0);
    const scenesPerSecond = median(runs.map((r) => r.scenesPerSecond));
    const delta = minus(commands, tally.counts);
    const total = Object.values(delta).reduce((sum, n) => sum + n, 0);
    const scriptCalls = (delta.evalsha ?? 0) + (delta.eval ?? 0) + (delta.fcall ?? 0);
    const perSession = (record: Record<string, number>, digits: number) =>
      Object.fromEntries(
        Object.entries(record)
          .sort((a, b) => b[1] - a[1])
          .map(([name, n]) => [name, round(n / allSessions, digits)]),
      );
    const redisCpuMsPerSession = cpu.redisMs / allSessions;
    const workerCpuMsPerScene = cpu.worker / done;
    ctx.log(
      `per-scene: ${round(scenesPerSecond)} scenes/s vs bare ${round(bare.jobsPerSecond)} jobs/s (medians); ` +
        `worker CPU ${round(workerCpuMsPerScene, 3)} ms/scene, API CPU ${round(cpu.api / allSessions, 3)} ms/session, ` +
        `bench+fakes CPU ${round(cpu.bench / done, 3)} ms/scene; Redis commands per session ${JSON.stringify(perSession(delta, 1))}`,
    );
    return {
      figures: [
        figure({
          group: 'per-scene',
          name: `end-to-end, ${scenes} scenes, 0 ms fakes`,
          measured: scenesPerSecond,
          unit: 'scenes/s',
          baseline: bare.jobsPerSecond,
          baselineLabel: 'bare BullMQ',
          ratio: scenesPerSecond / bare.jobsPerSecond,
          target: { of: 'ratio', op: '>=', value: 0.15 },
        }),
        figure({
          group: 'per-scene',
          name: 'Redis commands per session (10 scenes)',
          measured: total / allSessions,
          unit: 'cmds',
          baseline: bare.commandsPerJob * SCENES,
          baselineLabel: '10 bare jobs',
          ratio: total / allSessions / (bare.commandsPerJob * SCENES),
        }),
        figure({
          group: 'per-scene',
          name: 'Redis CPU per session',
          measured: redisCpuMsPerSession,
          unit: 'ms',
          baseline: bare.redisCpuMsPerJob * SCENES,
          baselineLabel: '10 bare jobs',
          ratio: redisCpuMsPerSession / (bare.redisCpuMsPerJob * SCENES),
        }),
        figure({
          group: 'per-scene',
          name: 'worker CPU per scene',
          measured: workerCpuMsPerScene,
          unit: 'ms',
          baseline: bare.workerCpuMsPerJob,
          baselineLabel: 'bare job',
          ratio: workerCpuMsPerScene / bare.workerCpuMsPerJob,
        }),
      ],
      details: {
        sessions,
        scenes,
        repeats: REPEATS,
        runs,
        pairedRatios: runs.map((r, i) => round(r.scenesPerSecond / bareRuns[i].jobsPerSecond, 3)),
        workerProcesses: 1,
        workerConcurrency: CONCURRENCY,
        bare,
        redisCommandsPerSession: round(total / allSessions, 1),
        scriptCallsPerSession: round(scriptCalls / allSessions, 1),
        redisCommandsPerSessionByName: perSession(delta, 1),
        redisUsecPerSessionByName: perSession(usec, 1),
        redisCpuMsPerSession: round(redisCpuMsPerSession, 3),
        workerCpuMsPerScene: round(workerCpuMsPerScene, 3),
        apiCpuMsPerSession: round(cpu.api / allSessions, 3),
        benchCpuMsPerScene: round(cpu.bench / done, 3),
        ownCommandsSubtracted: tally.counts,
      },
    };
  });
}

type BareRun = Awaited<ReturnType<typeof bareWorker>>;

/** Adds `jobs` no-op jobs, then times a bare Worker (own process) draining them. */
async function bareWorker(redis: Redis, bullPrefix: string, jobs: number) {
  const queue = new Queue('noop', { connection: redis.duplicate(), prefix: bullPrefix });
  // Commands are counted over warm-up and measured jobs together (same work per job).
  const before = await commandStats(redis);
  let helper: HelperProcess | undefined;
  try {
    for (let i = 0; i < jobs + WARMUP_JOBS; i += 500) {
      const chunk = Array.from({ length: Math.min(500, jobs + WARMUP_JOBS - i) }, (_, k) => ({
        name: 'noop',
        data: { sessionId: 'bench', sceneIndex: i + k },
        opts: SERVICE_LIKE_JOB_OPTIONS,
      }));
      await queue.addBulk(chunk);
    }
    helper = new HelperProcess('noop-worker.ts', {
      REDIS_URL,
      BULL_PREFIX: bullPrefix,
      QUEUE: 'noop',
      CONCURRENCY: String(CONCURRENCY),
      JOBS: String(jobs),
      WARMUP: String(WARMUP_JOBS),
    });
    const done = await helper.message<{ ms: number; jobs: number; cpuMs: number }>('done', 90_000);
    const after = await commandStats(redis);
    const delta = commandDelta(before, after, { info: 2 });
    const total = Object.values(delta).reduce((sum, n) => sum + n, 0);
    return {
      jobs,
      concurrency: CONCURRENCY,
      ms: round(done.ms),
      jobsPerSecond: round((done.jobs * 1000) / done.ms, 1),
      // Includes adding the jobs (addBulk), as the service's figure includes adding its flows.
      commandsPerJob: round(total / (jobs + WARMUP_JOBS), 2),
      redisCpuMsPerJob: ((after.cpuSeconds - before.cpuSeconds) * 1000) / (jobs + WARMUP_JOBS),
      workerCpuMsPerJob: done.cpuMs / jobs,
    };
  } finally {
    if (helper) await kill(helper.child);
    await queue.close();
  }
}
