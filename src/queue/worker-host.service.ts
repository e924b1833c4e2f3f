import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Job, UnrecoverableError, Worker } from 'bullmq';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { DownloadProcessor } from '../download/download.processor';
import { GenerationProcessor } from '../generation/generation.processor';
import { ProviderError } from '../providers/provider-error';
import { RedisService } from '../redis/redis.service';
import { bullPrefix } from './job-queue.service';
import { providerBackoff } from './retry-backoff';
import { FailureHandler, JobData, JobHandler, JobHandlers, JobName, QueueName, QUEUE_OF } from './jobs';

/**
 * Runs the BullMQ workers (worker role only). Errors from handlers reach BullMQ so `attempts` and backoff
 * apply; a ProviderError that retrying cannot fix becomes an UnrecoverableError so it fails at once.
 */
@Injectable()
export class WorkerHost implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Worker');
  private readonly handlers: Map<JobName, JobHandler>;
  private readonly failureHandlers: Map<JobName, FailureHandler>;
  private readonly workers: Worker[] = [];

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisService,
    generation: GenerationProcessor,
    download: DownloadProcessor,
  ) {
    this.handlers = collectHandlers([generation.handlers(), download.handlers()]);
    this.failureHandlers = new Map(
      Object.entries({ ...generation.failureHandlers(), ...download.failureHandlers() }) as [
        JobName,
        FailureHandler,
      ][],
    );
  }

  onApplicationBootstrap(): void {
    const concurrency: Record<QueueName, number> = {
      [QueueName.Generation]: this.config.workerConcurrency,
      [QueueName.Download]: Math.max(1, Math.ceil(this.config.workerConcurrency / 4)),
    };
    for (const queueName of Object.values(QueueName)) {
      const worker = new Worker(queueName, (job: Job<JobData>) => this.process(job), {
        connection: this.redis.forBullWorker(),
        prefix: bullPrefix(this.config),
        concurrency: concurrency[queueName],
        // A killed worker's jobs are picked up by another after its lock lapses.
        lockDuration: this.config.jobLockMs,
        stalledInterval: this.config.stalledCheckMs,
        maxStalledCount: 2,
        settings: { backoffStrategy: providerBackoff },
      });
      worker.on('error', (err) => this.logger.warn(`Worker "${queueName}" error: ${err.message}`));
      worker.on('failed', (job, err) => void this.onFailed(job, err));
      this.workers.push(worker);
    }
    this.logger.log(
      `Consuming queues ${Object.values(QueueName).join(', ')} (concurrency ${this.config.workerConcurrency})`,
    );
  }

  /** Failed attempts that will be retried need nothing; a final failure is recorded in the session. */
  private async onFailed(job: Job<JobData> | undefined, err: Error): Promise<void> {
    if (!job) return;
    try {
      if ((await job.getState()) !== 'failed') return;
      this.logger.warn(`Job ${job.name} ${job.id} failed for good: ${err.message}`);
      await this.failureHandlers.get(job.name as JobName)?.(job.data);
    } catch (handlerError) {
      this.logger.warn(`Could not record the failure of job ${job.id}: ${String(handlerError)}`);
    }
  }

  /** Lets in-flight jobs finish, bounded by SHUTDOWN_TIMEOUT_MS; unfinished ones go back to the queue as stalled. */
  async onApplicationShutdown(): Promise<void> {
    const closing = Promise.all(this.workers.map((worker) => worker.close()));
    const timedOut = await Promise.race([
      closing.then(() => false),
      new Promise<boolean>((resolve) =>
        setTimeout(() => resolve(true), this.config.shutdownTimeoutMs).unref(),
      ),
    ]);
    if (timedOut) {
      this.logger.warn('Jobs still running at shutdown deadline; they will be retried by another worker');
      await Promise.allSettled(this.workers.map((worker) => worker.close(true)));
    }
  }

  private async process(job: Job<JobData>): Promise<void> {
    const handler = this.handlers.get(job.name as JobName);
    if (!handler) throw new UnrecoverableError(`No handler for job "${job.name}"`);
    const maxAttempts = job.opts.attempts ?? 1;
    const attempt = job.attemptsMade + 1;
    try {
      await handler(job.data, { attempt, maxAttempts, isLastAttempt: attempt >= maxAttempts });
    } catch (err) {
      if (err instanceof ProviderError && !err.retryable) throw new UnrecoverableError(err.message);
      throw err;
    }
  }
}

function collectHandlers(groups: JobHandlers[]): Map<JobName, JobHandler> {
  const handlers = new Map<JobName, JobHandler>();
  for (const group of groups) {
    for (const [name, handler] of Object.entries(group) as [JobName, JobHandler][]) {
      if (handlers.has(name)) throw new Error(`Job "${name}" has two handlers`);
      handlers.set(name, handler);
    }
  }
  const missing = (Object.keys(QUEUE_OF) as JobName[]).filter((name) => !handlers.has(name));
  if (missing.length > 0) throw new Error(`Jobs without a handler: ${missing.join(', ')}`);
  return handlers;
}
