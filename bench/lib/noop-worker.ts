/**
 * Baseline helper process: a bare BullMQ Worker whose processor does nothing. It drains WARMUP + JOBS jobs
 * already waiting in QUEUE and prints {"type":"done","ms":…,"cpuMs":…}: time and CPU from the WARMUP-th
 * completion to the last one. Env: REDIS_URL, BULL_PREFIX, QUEUE, CONCURRENCY, JOBS, WARMUP.
 */
import { Worker } from 'bullmq';
import Redis from 'ioredis';
import { performance } from 'node:perf_hooks';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

/** CPU time of this process so far, in ms. */
const cpuMs = (): number => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

async function main(): Promise<void> {
  const jobs = Number(env('JOBS'));
  // The first WARMUP completions are not timed: they warm the JIT, as the service's warm-up sessions do.
  const warmup = Number(process.env.WARMUP ?? 0);
  const connection = new Redis(env('REDIS_URL'), { maxRetriesPerRequest: null });
  const worker = new Worker(env('QUEUE'), async () => undefined, {
    connection,
    prefix: env('BULL_PREFIX'),
    concurrency: Number(env('CONCURRENCY')),
    autorun: false,
  });
  worker.on('error', () => undefined);
  await worker.waitUntilReady();
  // Bounded: a baseline that cannot finish in a minute is reported as a failure, not waited for.
  const guard = setTimeout(() => {
    console.log(JSON.stringify({ type: 'timeout', completed }));
    process.exit(1);
  }, 60_000);
  let completed = 0;
  let started = performance.now();
  let cpuAtStart = cpuMs();
  const finished = new Promise<number>((resolve) => {
    worker.on('completed', () => {
      completed++;
      if (completed === warmup) {
        started = performance.now();
        cpuAtStart = cpuMs();
      }
      if (completed === warmup + jobs) resolve(performance.now() - started);
    });
  });
  void worker.run();
  const ms = await finished;
  clearTimeout(guard);
  console.log(JSON.stringify({ type: 'done', ms, jobs, cpuMs: cpuMs() - cpuAtStart }));
  await worker.close();
  connection.disconnect();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
