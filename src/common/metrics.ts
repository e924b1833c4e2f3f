import type { Queue } from 'bullmq';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Metric, register } from 'prom-client';

/**
 * The service's Prometheus series, on prom-client's global registry (other modules, e.g. the providers'
 * `provider_requests_total`, add theirs to the same one). A process may build several Nest applications (the
 * tests do), so each metric is made once per process and found again by name after that.
 */
function singleton<T extends Metric>(name: string, make: () => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? make();
}

export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;

export function httpDuration(): Histogram<'method' | 'route' | 'status_code'> {
  return singleton(
    'http_request_duration_seconds',
    () =>
      new Histogram({
        name: 'http_request_duration_seconds',
        help: 'Time to answer an HTTP request, by method, route pattern and status code (499: client went away)',
        labelNames: ['method', 'route', 'status_code'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      }),
  );
}

export type SessionOutcome = 'completed' | 'failed';

function sessionsTotal(): Counter<'outcome'> {
  return singleton(
    'sessions_total',
    () =>
      new Counter({
        name: 'sessions_total',
        help: 'Sessions that ended, by outcome, counted by the process that wrote the outcome',
        labelNames: ['outcome'],
      }),
  );
}

/** Counts a session's end; call it only where the outcome was actually written, so each counts once. */
export function countSessionEnd(outcome: SessionOutcome): void {
  sessionsTotal().inc({ outcome });
}

/** Both outcomes start at 0, so `rate()` and alerts see the series before the first session ends. */
export function prepareSessionCounts(): void {
  const counter = sessionsTotal();
  for (const outcome of ['completed', 'failed'] as const) counter.inc({ outcome }, 0);
}

/** The queues of every application alive in this process, read when Prometheus scrapes. */
const liveQueues = new Set<Queue>();

export function watchQueues(queues: Queue[]): () => void {
  for (const queue of queues) liveQueues.add(queue);
  return () => queues.forEach((queue) => liveQueues.delete(queue));
}

/**
 * Job counts read at scrape time, one Redis round trip per queue (BullMQ's getCounts script). `waiting`
 * includes prioritized jobs: render jobs carry a priority, and a backlog of them is what the gauge is for.
 */
export function queueJobsGauge(): Gauge<'queue' | 'state'> {
  return singleton(
    'bullmq_queue_jobs',
    () =>
      new Gauge({
        name: 'bullmq_queue_jobs',
        help: 'BullMQ jobs by queue and state, read from Redis at scrape time (waiting includes prioritized)',
        labelNames: ['queue', 'state'],
        async collect() {
          this.reset();
          const totals = new Map<string, Record<string, number>>();
          await Promise.all(
            [...liveQueues].map(async (queue) => {
              // A queue Redis cannot answer for is left out of this scrape, not failed with it.
              const counts = await queue.getJobCounts(...QUEUE_STATES, 'prioritized').catch(() => undefined);
              if (!counts) return;
              const sum = totals.get(queue.name) ?? {};
              for (const [state, count] of Object.entries(counts)) {
                const shown = state === 'prioritized' ? 'waiting' : state;
                sum[shown] = (sum[shown] ?? 0) + count;
              }
              totals.set(queue.name, sum);
            }),
          );
          for (const [queue, counts] of totals)
            for (const state of QUEUE_STATES) this.set({ queue, state }, counts[state] ?? 0);
        },
      }),
  );
}

/** prom-client's process metrics (CPU, memory, event loop lag, GC): once per process, whatever the apps. */
export function collectProcessMetrics(): void {
  if (!register.getSingleMetric('process_cpu_user_seconds_total')) collectDefaultMetrics();
}

export { register as metricsRegistry };
