import { WorkerHost } from '@nestjs/bullmq';
import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { JobName, JobProcessor, QUEUE_OF } from '../domain/jobs';

/** Every job name handled by exactly one processor, on the queue the job runs on; throws otherwise. */
export function assertOneHandlerPerJob(processors: readonly JobProcessor[]): void {
  const problems: string[] = [];
  for (const name of Object.values(JobName)) {
    const handlers = processors.filter((p) => p.handles.includes(name));
    if (handlers.length !== 1) problems.push(`"${name}" has ${handlers.length} handlers`);
    else if (handlers[0].queue !== QUEUE_OF[name])
      problems.push(`"${name}" is handled on queue "${handlers[0].queue}", not "${QUEUE_OF[name]}"`);
  }
  if (problems.length > 0) throw new Error(`Job handlers do not match the jobs: ${problems.join('; ')}`);
}

/**
 * The worker role's processors as a whole: at start, checks that every job has its handler before any
 * worker takes a job; at shutdown, lets in-flight jobs finish for up to SHUTDOWN_TIMEOUT_MS, then closes
 * the workers, forcing them when the deadline passed (unfinished jobs then go back to the queue as
 * stalled, for another worker).
 */
@Injectable()
export class WorkerLifecycle
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger('Worker');
  private lastErrorLogAt = 0;
  private draining?: Promise<void>;

  constructor(
    private readonly discovery: DiscoveryService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private get processors(): (WorkerHost & JobProcessor)[] {
    return this.discovery
      .getProviders()
      .map((wrapper) => wrapper.instance as unknown)
      .filter((instance): instance is WorkerHost & JobProcessor => instance instanceof WorkerHost);
  }

  onApplicationBootstrap(): void {
    const processors = this.processors;
    assertOneHandlerPerJob(processors);
    for (const { worker } of processors) {
      // BullMQ reports connection trouble as 'error'; one line every few seconds is enough in an outage.
      worker.on('error', (err) => {
        const now = Date.now();
        if (now - this.lastErrorLogAt < 5000) return;
        this.lastErrorLogAt = now;
        this.logger.warn(`Worker "${worker.name}" error: ${err.message}`);
      });
      // Workers are created with autorun off (processor-provider.ts), so none takes a job before the check.
      worker
        .run()
        .catch((err: Error) => this.logger.error(`Worker "${worker.name}" stopped: ${err.message}`));
    }
    const queues = processors.map((p) => `${p.queue} (${p.worker.concurrency})`);
    this.logger.log(`Consuming queues ${queues.join(', ')}`);
  }

  /**
   * Starts draining without waiting, so the other modules' shutdown (the HTTP server's drain in ROLE=all)
   * runs meanwhile; onApplicationShutdown waits for it. @nestjs/bullmq's own hook, which would wait for
   * running jobs without a limit, then finds the workers closed.
   */
  beforeApplicationShutdown(): void {
    this.draining = this.drain();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.draining;
  }

  private async drain(): Promise<void> {
    const workers = this.processors.map((p) => p.worker);
    // pause() stops fetching and waits for running jobs; close() after it has nothing left to wait for.
    // (A close() started first could not be forced later: BullMQ returns the close already under way.)
    const drained = await Promise.race([
      Promise.all(workers.map((worker) => worker.pause())).then(() => true),
      new Promise<boolean>((resolve) =>
        setTimeout(() => resolve(false), this.config.shutdownTimeoutMs).unref(),
      ),
    ]);
    if (!drained)
      this.logger.warn('Jobs still running at shutdown deadline; they will be retried by another worker');
    await Promise.allSettled(workers.map((worker) => worker.close(!drained)));
  }
}
