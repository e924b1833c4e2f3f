import type { JobsOptions } from 'bullmq';

/**
 * The retry and retention options the service gives a render job (src/queue/job-queue.service.ts, with
 * the default JOB_ATTEMPTS and JOB_BACKOFF_MS; BullMQ's built-in exponential backoff stands in for the
 * service's own, which only matters on failure). The service's render priority is deliberately left out:
 * prioritized jobs cost BullMQ more, and that cost counts against the service, not the baseline.
 */
export const SERVICE_LIKE_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 1000, jitter: 0.5 },
  removeOnComplete: { age: 3600, count: 2000 },
  removeOnFail: { age: 24 * 3600, count: 5000 },
};
