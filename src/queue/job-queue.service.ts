import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { FlowProducer, JobsOptions, Queue } from 'bullmq';
import Redis from 'ioredis';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { RedisService, waitUntilReady } from '../redis/redis.service';
import { JobName, QueueName, QUEUE_OF, RenderSceneJob, SessionJob } from './jobs';
import { PROVIDER_BACKOFF } from './retry-backoff';

const PENDING = new Set(['waiting', 'waiting-children', 'delayed', 'prioritized', 'active']);

/** The producer side of the queues: every job enters through here, with its options set in one place. */
@Injectable()
export class JobQueue implements OnModuleInit, OnApplicationShutdown {
  private readonly queues: Record<QueueName, Queue>;
  private readonly flows: FlowProducer;
  private readonly connection: Redis;

  constructor(
    redis: RedisService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    const connection = (this.connection = redis.forBullQueue());
    const prefix = bullPrefix(config);
    this.queues = {
      [QueueName.Generation]: new Queue(QueueName.Generation, { connection, prefix }),
      [QueueName.Download]: new Queue(QueueName.Download, { connection, prefix }),
    };
    this.flows = new FlowProducer({ connection, prefix });
    // Queues emit connection errors; RedisService already logs them once, so only keep them from crashing.
    for (const queue of Object.values(this.queues)) queue.on('error', () => undefined);
    this.flows.on('error', () => undefined);
  }

  async onModuleInit(): Promise<void> {
    await waitUntilReady(this.connection, 10_000);
  }

  async planStory(sessionId: string): Promise<void> {
    await this.add(JobName.PlanStory, { sessionId }, `plan-${sessionId}`);
  }

  /**
   * One render job per scene as children of a "finalize session" parent: the parent runs once every child
   * has finished, and a child that fails for good does not block it (`ignoreDependencyOnFailure`).
   */
  async renderScenes(sessionId: string, renders: RenderSceneJob[]): Promise<void> {
    await this.flows.add({
      name: JobName.FinalizeSession,
      queueName: QueueName.Generation,
      data: { sessionId } satisfies SessionJob,
      opts: { ...this.options(JobName.FinalizeSession), jobId: `finalize-${sessionId}` },
      children: renders.map((data) => ({
        name: JobName.RenderScene,
        queueName: QueueName.Generation,
        data,
        opts: {
          ...this.options(JobName.RenderScene),
          jobId: `render-${sessionId}-${data.sceneIndex}`,
          // Jobs without a priority go first: plans and finalisations never queue behind other sessions'
          // renders, so a new session starts planning at once even when workers are saturated.
          priority: 1,
          ignoreDependencyOnFailure: true,
        },
      })),
    });
  }

  async downloadImages(sessionId: string): Promise<void> {
    await this.add(JobName.DownloadImages, { sessionId }, `download-${sessionId}`);
  }

  /**
   * Whether any job of the session is still waiting, delayed or running, so a session that is merely queued
   * behind a backlog is not mistaken for a stalled one.
   */
  async hasPendingJobs(sessionId: string, sceneCount: number): Promise<boolean> {
    const generation = this.queues[QueueName.Generation];
    const ids = [
      `plan-${sessionId}`,
      `finalize-${sessionId}`,
      ...Array.from({ length: sceneCount }, (_, i) => `render-${sessionId}-${i}`),
    ];
    const states = await Promise.all([
      ...ids.map((id) => generation.getJobState(id)),
      this.queues[QueueName.Download].getJobState(`download-${sessionId}`),
    ]);
    return states.some((state) => PENDING.has(state));
  }

  async isReady(): Promise<boolean> {
    const clients = await Promise.all(Object.values(this.queues).map((q) => q.client));
    return clients.every((client) => client.status === 'ready');
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([...Object.values(this.queues).map((q) => q.close()), this.flows.close()]);
  }

  private async add(name: JobName, data: SessionJob, jobId: string): Promise<void> {
    await this.queues[QUEUE_OF[name]].add(name, data, { ...this.options(name), jobId });
  }

  /** Retry and retention policy of every job. Job ids contain no ':' (BullMQ reserves it). */
  private options(name: JobName): JobsOptions {
    const retention = {
      removeOnComplete: { age: 3600, count: 2000 },
      removeOnFail: { age: 24 * 3600, count: 5000 },
    };
    const backoff = { type: PROVIDER_BACKOFF, delay: this.config.jobBackoffMs };
    switch (name) {
      case JobName.PlanStory:
      case JobName.RenderScene:
      case JobName.DownloadImages:
        return { attempts: this.config.jobAttempts, backoff, ...retention };
      case JobName.FinalizeSession:
        // Cheap and essential: keep trying through a Redis outage of several minutes (0.5 s doubling, 10 tries).
        return { attempts: 10, backoff: { type: 'exponential', delay: 500 }, ...retention };
    }
  }
}

export function bullPrefix(config: AppConfig): string {
  return `${config.redisPrefix}:bull`;
}
