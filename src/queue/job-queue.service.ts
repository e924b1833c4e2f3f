import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable } from '@nestjs/common';
import { JobsOptions, Queue } from 'bullmq';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import {
  JobDataOf,
  JobName,
  QueueName,
  PortraitRenderRequest,
  SceneRenderRequest,
  SessionJob,
  WebhookDelivery,
} from '../domain/jobs';
import { PROVIDER_BACKOFF } from './retry-backoff';

const PENDING = new Set(['waiting', 'waiting-children', 'delayed', 'prioritized', 'active']);

type SessionJobName = JobName.PlanStory | JobName.DownloadImages;

/** The producer side of the queues: every job enters through here, with its options set in one place. */
@Injectable()
export class JobQueue {
  constructor(
    @InjectQueue(QueueName.Generation) private readonly generation: Queue,
    @InjectQueue(QueueName.Download) private readonly download: Queue,
    @InjectQueue(QueueName.Housekeeping) private readonly housekeeping: Queue,
    @InjectQueue(QueueName.Webhooks) private readonly webhooks: Queue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    // Queues emit connection errors; RedisService already logs them once, so only keep them from crashing.
    for (const queue of [generation, download, housekeeping, webhooks]) queue.on('error', () => undefined);
  }

  async planStory(sessionId: string): Promise<void> {
    await this.add(this.generation, JobName.PlanStory, { sessionId }, `plan-${sessionId}`);
  }

  /**
   * One render job per scene. The session's fan-in is a counter, not a flow: the render that ends the
   * last scene finalises the session (GenerationProcessor), which saves a job and the flow's parent
   * bookkeeping per scene.
   */
  async renderScenes(sessionId: string, renders: SceneRenderRequest[]): Promise<void> {
    await this.generation.addBulk(
      renders.map((data) => ({
        name: JobName.RenderScene,
        data: data satisfies JobDataOf[JobName.RenderScene],
        opts: {
          ...this.options,
          jobId: renderJobId(sessionId, data.sceneIndex, data.version),
          // Jobs without a priority go first: plans never queue behind other sessions' renders, so a new
          // session starts planning at once even when workers are saturated.
          priority: 1,
        },
      })),
    );
  }

  /**
   * A scene rendered again as a new version: the same render job, under an id of its own (renderJobId), so
   * BullMQ retries it like any render if its worker dies.
   */
  async regenerateScene(render: SceneRenderRequest & { version: number }): Promise<void> {
    const { sessionId, sceneIndex, version } = render;
    await this.generation.add(JobName.RenderScene, render satisfies JobDataOf[JobName.RenderScene], {
      ...this.options,
      jobId: renderJobId(sessionId, sceneIndex, version),
      priority: 1,
    });
  }

  /**
   * The casting step's portraits, or one portrait rendered again (`version` > 1, under an id of its own).
   * Like renders, they go before other sessions' plans' renders, behind nothing.
   */
  async renderPortraits(portraits: PortraitRenderRequest[]): Promise<void> {
    await this.generation.addBulk(
      portraits.map((data) => ({
        name: JobName.RenderPortrait,
        data: data satisfies JobDataOf[JobName.RenderPortrait],
        opts: {
          ...this.options,
          jobId: portraitJobId(data.sessionId, data.castIndex, data.version),
          priority: 1,
        },
      })),
    );
  }

  async downloadImages(sessionId: string): Promise<void> {
    await this.add(this.download, JobName.DownloadImages, { sessionId }, `download-${sessionId}`);
  }

  /**
   * One webhook event's delivery. Its job id is the event's: an event emitted twice (a retried job ending
   * the same transition again) is queued once while its job is kept. Retries back off like provider calls,
   * from JOB_BACKOFF_MS, up to WEBHOOK_ATTEMPTS attempts.
   */
  async deliverWebhook(delivery: WebhookDelivery): Promise<void> {
    await this.webhooks.add(JobName.DeliverWebhook, delivery satisfies JobDataOf[JobName.DeliverWebhook], {
      ...this.options,
      attempts: this.config.webhooks?.attempts ?? 1,
      jobId: delivery.webhookId,
    });
  }

  /**
   * Cluster-wide periodic jobs: BullMQ job schedulers produce one job per tick for the whole cluster,
   * however many workers there are. Upserting is idempotent, so every worker may do it at start.
   */
  async scheduleHousekeeping(everyMs: number): Promise<void> {
    const retention = { removeOnComplete: { count: 10 }, removeOnFail: { count: 100 } };
    for (const name of [JobName.SweepExpiredSessions, JobName.CheckStalledSessions]) {
      await this.housekeeping.upsertJobScheduler(
        name,
        { every: everyMs },
        { name, data: {}, opts: retention },
      );
    }
  }

  /**
   * Whether any job of the session is still waiting, delayed or running, so a session that is merely queued
   * behind a backlog is not mistaken for a stalled one.
   */
  async hasPendingJobs(sessionId: string, sceneCount: number, castCount = 0): Promise<boolean> {
    // A regeneration's job is named by its version: every id a scene's or a portrait's versions can have.
    const versions = Array.from({ length: this.config.maxVersionsPerScene }, (_, v) => v + 1);
    const each = (count: number, jobId: (index: number, version: number) => string) =>
      Array.from({ length: count }, (_, i) => versions.map((v) => jobId(i, v))).flat();
    const ids = [
      `plan-${sessionId}`,
      ...each(sceneCount, (i, v) => renderJobId(sessionId, i, v)),
      ...each(castCount, (i, v) => portraitJobId(sessionId, i, v)),
    ];
    const states = await Promise.all([
      ...ids.map((id) => this.generation.getJobState(id)),
      this.download.getJobState(`download-${sessionId}`),
    ]);
    return states.some((state) => PENDING.has(state));
  }

  /**
   * Runs now the delayed generation jobs named one of `names` whose data passes `test`, among the first `limit`
   * delayed ones (e.g. jobs waiting for a provider that has just recovered; the rest wake on time). Returns
   * how many it moved; a job that started meanwhile is left alone.
   */
  async promoteDelayed(
    names: readonly JobName[],
    test: (data: SessionJob) => boolean,
    limit = 1000,
  ): Promise<number> {
    const delayed = await this.generation.getDelayed(0, limit - 1);
    const chosen = delayed.filter(
      (job) => names.includes(job.name as JobName) && test(job.data as SessionJob),
    );
    const moved = await Promise.all(
      chosen.map((job) =>
        job.promote().then(
          () => 1,
          () => 0,
        ),
      ),
    );
    return moved.reduce<number>((sum, n) => sum + n, 0);
  }

  async isReady(): Promise<boolean> {
    const clients = await Promise.all([
      this.generation.getBackend().client,
      this.download.getBackend().client,
    ]);
    return clients.every((client) => client.status === 'ready');
  }

  private async add<N extends SessionJobName>(queue: Queue, name: N, data: JobDataOf[N], jobId: string) {
    await queue.add(name, data, { ...this.options, jobId });
  }

  /** Retry and retention policy of every job. Job ids contain no ':' (BullMQ reserves it). */
  private get options(): JobsOptions {
    return {
      attempts: this.config.jobAttempts,
      backoff: { type: PROVIDER_BACKOFF, delay: this.config.jobBackoffMs },
      removeOnComplete: { age: 3600, count: 2000 },
      removeOnFail: { age: 24 * 3600, count: 5000 },
    };
  }
}

/**
 * A scene's render job id: one per version, so a regeneration is retried like any render while the first
 * render's job may still be kept, and re-queuing a version already queued is a no-op.
 */
export function renderJobId(sessionId: string, sceneIndex: number, version = 1): string {
  return `render-${sessionId}-${sceneIndex}${version > 1 ? `-v${version}` : ''}`;
}

/** A cast portrait's render job id, one per version, as renderJobId. */
export function portraitJobId(sessionId: string, castIndex: number, version = 1): string {
  return `portrait-${sessionId}-${castIndex}${version > 1 ? `-v${version}` : ''}`;
}
