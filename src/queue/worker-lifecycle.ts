import { WorkerHost } from '@nestjs/bullmq';
import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
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
 * The worker role's processors as a whole: checks at start that every job has its handler, and at
 * shutdown lets in-flight jobs finish for up to SHUTDOWN_TIMEOUT_MS; unfinished ones then go back to the
 * queue as stalled, for another worker.
 */
@Injectable()
export class WorkerLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Worker');

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
    const queues = processors.map((p) => `${p.queue} (${p.worker.concurrency})`);
    this.logger.log(`Consuming queues ${queues.join(', ')}`);
  }

  /** Before @nestjs/bullmq's own shutdown hook, which would wait for running jobs without a limit. */
  async beforeApplicationShutdown(): Promise<void> {
    const workers = this.processors.map((p) => p.worker);
    const timedOut = await Promise.race([
      Promise.all(workers.map((worker) => worker.close())).then(() => false),
      new Promise<boolean>((resolve) =>
        setTimeout(() => resolve(true), this.config.shutdownTimeoutMs).unref(),
      ),
    ]);
    if (timedOut) {
      this.logger.warn('Jobs still running at shutdown deadline; they will be retried by another worker');
      await Promise.allSettled(workers.map((worker) => worker.close(true)));
    }
  }
}
