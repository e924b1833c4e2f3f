import type { JobsOptions } from 'bullmq';

/**
 * The retry and retention options the service gives a render job (src/queue/job-queue.service.ts, with
 * the default JOB_ATTEMPTS and JOB_BACKOFF_MS), so the bare BullMQ baseline does the same queue work per
 * job and the ratio isolates the service's own cost.
 */
export const SERVICE_LIKE_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 1000, jitter: 0.5 },
  removeOnComplete: { age: 3600, count: 2000 },
  removeOnFail: { age: 24 * 3600, count: 5000 },
};
