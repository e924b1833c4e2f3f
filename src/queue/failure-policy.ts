import { Job, UnrecoverableError } from 'bullmq';
import { ProviderError } from '../providers/provider-error';

/**
 * The one place that decides whether a job's failure is final. A ProviderError knows whether retrying can
 * help; any other error is retried (it may be a passing Redis or disk problem) until attempts run out.
 */
function isRetryable(err: unknown): boolean {
  return !(err instanceof ProviderError) || err.retryable;
}

/** Whether this failure of this attempt ends the job: not retryable, or its last attempt. */
export function isFinalFailure(err: unknown, job: Pick<Job, 'attemptsMade' | 'opts'>): boolean {
  return !isRetryable(err) || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

/** The error to hand back to BullMQ: one that retrying cannot fix fails the job at once. */
function asJobError(err: unknown): unknown {
  return err instanceof ProviderError && !err.retryable ? new UnrecoverableError(err.message) : err;
}

/**
 * Whether a job BullMQ reported as failed has failed for good, however it failed: including ways its
 * handler never saw, such as a worker dying mid-job more often than the stalled-job limit allows.
 */
export async function failedForGood(job: Job | undefined): Promise<boolean> {
  return job !== undefined && (await job.getState()) === 'failed';
}

/** Runs a handler and hands its error to BullMQ in the form that applies the failure policy. */
export async function runHandler(handler: () => Promise<void>): Promise<void> {
  try {
    await handler();
  } catch (err) {
    throw asJobError(err);
  }
}

/** The attempt a running job is on, counted from 1. */
export function attemptOf(job: Pick<Job, 'attemptsMade'>): number {
  return job.attemptsMade + 1;
}

/** A job no handler knows: failing it at once beats completing it silently. */
export function unknownJob(job: { name: string }): never {
  throw new UnrecoverableError(`No handler for job "${job.name}"`);
}
