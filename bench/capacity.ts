import { busyFraction, cpuMsOf, machineCpu } from './lib/cpu';
import { MeasureContext, MeasureResult } from './lib/context';
import { figure, Figure } from './lib/figures';
import { CommandTally } from './lib/redis';
import { generateMany, readSessionTimes, waitAllViaRedis, waitViaStatus } from './lib/sessions';
import { withStage } from './lib/stage';
import { percentile, round } from './lib/stats';

const IMAGE_MS = 1000;
const SCENES = 10;
/** WORKER_CONCURRENCY per worker process: render slots per process. */
const CONCURRENCY = 50;

interface Run {
  workers: number;
  sessions: number;
}

/**
 * 2. Capacity: many sessions at once against N worker processes; the ideal is every render slot busy all
 * the time, i.e. (N × WORKER_CONCURRENCY) scenes per image latency. Throughput is counted over the render
 * window — from the first session's planned_at (the earliest a render can start) to the last scene's
 * rendered_at — so planner latency and the finalize step do not count against render capacity; the
 * end-to-end rate (first created_at to last completed_at) is reported next to it.
 */
export async function capacity(ctx: MeasureContext): Promise<MeasureResult> {
  const runs: Run[] = ctx.quick
    ? [
        { workers: 2, sessions: 40 },
        { workers: 1, sessions: 20 },
        { workers: 4, sessions: 40 },
      ]
    : [
        { workers: 2, sessions: 200 },
        // Fewer sessions for one worker keeps its run as long as the others (about 20 s of rendering).
        { workers: 1, sessions: 100 },
        { workers: 4, sessions: 200 },
      ];
  const figures: Figure[] = [];
  const results: Record<string, unknown>[] = [];
  for (const run of runs) {
    const result = await capacityRun(ctx, run);
    results.push(result);
    ctx.log(`capacity: ${JSON.stringify(result)}`);
    figures.push(
      figure({
        group: 'capacity',
        name: `${run.workers} worker${run.workers > 1 ? 's' : ''} x C=${CONCURRENCY}, ${run.sessions * SCENES} scenes`,
        measured: result.scenesPerSecond,
        unit: 'scenes/s',
        baseline: result.idealScenesPerSecond,
        baselineLabel: 'ideal',
        ratio: result.scenesPerSecond / result.idealScenesPerSecond,
        // The target is for the 2-worker run; the others show how throughput scales.
        target: run.workers === 2 ? { of: 'ratio', op: '>=', value: 0.85 } : undefined,
      }),
    );
  }
  return {
    figures,
    details: { imageLatencyMs: IMAGE_MS, plannerLatencyMs: 0, workerConcurrency: CONCURRENCY, runs: results },
  };
}

async function capacityRun(ctx: MeasureContext, run: Run) {
  return withStage(
    `cap${run.workers}w`,
    ctx.redis,
    { plannerLatencyMs: 0, imageLatencyMs: IMAGE_MS },
    async (stage) => {
      const { url } = await stage.startApi();
      const workers = await stage.startWorkers(run.workers, { WORKER_CONCURRENCY: String(CONCURRENCY) });
      // Warm-up (not counted): a few sessions so every worker has likely opened its Runware socket.
      const warm = await generateMany(url, run.workers * 2, SCENES);
      await Promise.all(warm.map((id) => waitViaStatus(url, id, 30_000, 200)));
      const arrivalsBefore = stage.imageTaskArrivals.length;

      const ideal = (run.workers * CONCURRENCY * 1000) / IMAGE_MS;
      const cpuBefore = workers.map((w) => cpuMsOf(w.pid));
      const machineBefore = machineCpu();
      const ids = await generateMany(url, run.sessions, SCENES);
      const idealSeconds = (run.sessions * SCENES) / ideal;
      await waitAllViaRedis(ctx.redis, stage.prefix, ids, idealSeconds * 3000 + 30_000, new CommandTally());
      const machineBusy = busyFraction(machineBefore, machineCpu());
      const workerCpuMs = workers.reduce((sum, w, i) => sum + cpuMsOf(w.pid) - cpuBefore[i], 0);
      const times = await readSessionTimes(ctx.redis, stage.prefix, ids);

      const done = times.reduce((sum, t) => sum + t.scenesDone, 0);
      const failedSessions = times.filter((t) => t.status !== 'completed').length;
      const firstPlanned = Math.min(...times.map((t) => t.plannedAt));
      const lastRendered = Math.max(...times.flatMap((t) => t.renderedAt));
      const firstCreated = Math.min(...times.map((t) => t.createdAt));
      const lastCompleted = Math.max(...times.map((t) => t.completedAt));
      const windowSeconds = (lastRendered - firstPlanned) / 1000;
      const arrivals = stage.imageTaskArrivals.slice(arrivalsBefore);
      return {
        workers: run.workers,
        sessions: run.sessions,
        scenes: run.sessions * SCENES,
        scenesDone: done,
        failedSessions,
        idealScenesPerSecond: ideal,
        renderWindowSeconds: round(windowSeconds, 2),
        idealWindowSeconds: idealSeconds,
        scenesPerSecond: round(done / windowSeconds, 2),
        endToEndSeconds: round((lastCompleted - firstCreated) / 1000, 2),
        endToEndScenesPerSecond: round(done / ((lastCompleted - firstCreated) / 1000), 2),
        // created → planned spread: how long the 200 plan jobs took to get through the queue
        lastPlannedAfterFirstCreatedSeconds: round(
          (Math.max(...times.map((t) => t.plannedAt)) - firstCreated) / 1000,
          2,
        ),
        peakInFlightAtProvider: peakInFlight(arrivals, IMAGE_MS),
        workerCpuMsPerScene: round(workerCpuMs / Math.max(1, done), 3),
        // Per session, p50/p95: created → planned (plan jobs wait for a slot behind 1 s renders) and last
        // scene rendered → completed (the last render finalises the session).
        planWaitMs: spread(times.map((t) => t.plannedAt - t.createdAt)),
        finalizeWaitMs: spread(times.map((t) => t.completedAt - Math.max(...t.renderedAt))),
        // Share of all cores busy during the run (every process on the machine, not only the service).
        machineCpuBusy: round(machineBusy, 2),
        renderTasksSent: arrivals.length,
      };
    },
  );
}

const spread = (values: number[]) => ({
  p50: round(percentile(values, 50)),
  p95: round(percentile(values, 95)),
});

/** Largest number of tasks the fake held at once, given each is answered `latencyMs` after arrival. */
function peakInFlight(arrivals: number[], latencyMs: number): number {
  const sorted = [...arrivals].sort((a, b) => a - b);
  let peak = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end] - sorted[start] >= latencyMs) start++;
    peak = Math.max(peak, end - start + 1);
  }
  return peak;
}
