import { cpuMsOf } from './lib/cpu';
import { MeasureContext, MeasureResult } from './lib/context';
import { figure } from './lib/figures';
import { kill } from './lib/processes';
import { MB, rssOf, settledRss } from './lib/rss';
import { generateMany } from './lib/sessions';
import { withStage } from './lib/stage';
import { round, sleep } from './lib/stats';

const SCENES = 10;
/** Long enough that every render is still in flight when sampled. */
const IMAGE_MS = 20_000;

/**
 * 6. Memory: RSS of an idle API and an idle worker after start-up settles, then of a worker holding many
 * in-flight scene jobs (WORKER_CONCURRENCY=1000, renders that take 20 s), sampled once the fake Runware
 * has received them all. The per-job figure is (loaded − idle) / in-flight jobs of that same process; the
 * CPU the worker uses meanwhile (it only waits) shows per-task timers and polling.
 */
export async function memory(ctx: MeasureContext): Promise<MeasureResult> {
  const sessions = ctx.quick ? 30 : 100;
  const inFlightTarget = sessions * SCENES;
  return withStage('memory', ctx.redis, { plannerLatencyMs: 0, imageLatencyMs: IMAGE_MS }, async (stage) => {
    const api = await stage.startApi();
    const [idleWorker] = await stage.startWorkers(1);
    await sleep(3000); // let start-up garbage be collected
    const apiIdle = await settledRss(api.proc.pid);
    const workerIdle = await settledRss(idleWorker.pid);
    await stage.stop(idleWorker);

    const [worker] = await stage.startWorkers(1, { WORKER_CONCURRENCY: '1000' });
    await sleep(3000);
    const loadedIdle = await settledRss(worker.pid);
    const received = () => stage.runware.stats.tasks.imageInference ?? 0;
    const rampStarted = Date.now();
    await generateMany(api.url, sessions, SCENES);
    const deadline = Date.now() + 60_000;
    while (received() < inFlightTarget && Date.now() < deadline) await sleep(50);
    const rampSeconds = (Date.now() - rampStarted) / 1000;
    const inFlight = received();
    if (inFlight < inFlightTarget)
      ctx.log(`memory: only ${inFlight} of ${inFlightTarget} renders reached the fake`);
    await sleep(500); // the last jobs' bookkeeping
    // RSS over ~1 s, and the CPU the worker burns while it only waits on the provider (SDK timers, locks).
    const cpuBefore = cpuMsOf(worker.pid);
    const waitStarted = Date.now();
    const loaded = await settledRss(worker.pid);
    const waitingCpuPercent = ((cpuMsOf(worker.pid) - cpuBefore) / (Date.now() - waitStarted)) * 100;
    const peakSample = Math.max(loaded, rssOf(worker.pid));
    await kill(worker.child); // its renders would otherwise run for another ~20 s
    const perJobKB = (loaded - loadedIdle) / Math.max(1, inFlight) / 1024;
    ctx.log(
      `memory: api ${round(apiIdle / MB)} MB, worker ${round(workerIdle / MB)} MB, ` +
        `worker C=1000 idle ${round(loadedIdle / MB)} MB → ${round(loaded / MB)} MB with ${inFlight} in flight`,
    );
    return {
      figures: [
        figure({ group: 'memory', name: 'idle API process RSS', measured: apiIdle / MB, unit: 'MB' }),
        figure({ group: 'memory', name: 'idle worker process RSS', measured: workerIdle / MB, unit: 'MB' }),
        figure({
          group: 'memory',
          name: `worker RSS with ${inFlight} in-flight scene jobs`,
          measured: loaded / MB,
          unit: 'MB',
          baseline: loadedIdle / MB,
          baselineLabel: 'same worker idle',
          ratio: loaded / loadedIdle,
        }),
        figure({
          group: 'memory',
          name: 'worker RSS per in-flight scene job',
          measured: perJobKB,
          unit: 'KB',
        }),
        figure({
          group: 'memory',
          name: `worker CPU while ${inFlight} renders wait on the provider`,
          measured: waitingCpuPercent,
          unit: '% core',
        }),
      ],
      details: {
        sessions,
        inFlight,
        imageLatencyMs: IMAGE_MS,
        apiIdleMB: round(apiIdle / MB),
        workerIdleMB: round(workerIdle / MB),
        workerC1000IdleMB: round(loadedIdle / MB),
        workerLoadedMB: round(loaded / MB),
        workerPeakSampleMB: round(peakSample / MB),
        waitingCpuPercent: round(waitingCpuPercent, 1),
        // POST of every session to the last render task reaching the fake: how fast the worker fills up
        rampSeconds: round(rampSeconds, 2),
      },
    };
  });
}
