import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Job } from 'bullmq';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { runHandler, unknownJob } from '../queue/failure-policy';
import { JobQueue } from '../queue/job-queue.service';
import { JobName, JobOf, JobProcessor, QueueName } from '../domain/jobs';
import { ExpiredSessionSweeper } from './expired-session.sweeper';
import { StalledSessionWatchdog } from './stalled-session.watchdog';
import { WebhookEvents } from '../sessions/webhook-events';

type HousekeepingJob = JobOf<JobName.SweepExpiredSessions | JobName.CheckStalledSessions>;

/**
 * Cluster-wide upkeep every HOUSEKEEPING_INTERVAL_MS, as BullMQ job schedulers: one tick is one job, run
 * by one worker however many there are. A failed tick is logged; the next one tries again.
 */
@Processor(QueueName.Housekeeping)
export class HousekeepingProcessor extends WorkerHost implements JobProcessor, OnApplicationBootstrap {
  readonly queue = QueueName.Housekeeping;
  readonly handles = [JobName.SweepExpiredSessions, JobName.CheckStalledSessions];
  private readonly logger = new Logger('Housekeeping');

  constructor(
    private readonly sweeper: ExpiredSessionSweeper,
    private readonly watchdog: StalledSessionWatchdog,
    private readonly webhooks: WebhookEvents,
    private readonly jobs: JobQueue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super();
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.jobs.scheduleHousekeeping(this.config.housekeepingIntervalMs);
  }

  process(job: HousekeepingJob): Promise<void> {
    return runHandler(async () => {
      switch (job.name) {
        case JobName.SweepExpiredSessions:
          await this.sweeper.sweep();
          return;
        case JobName.CheckStalledSessions:
          await this.watchdog.check();
          await this.webhooks.reconcile();
          return;
        default:
          return unknownJob(job);
      }
    });
  }

  @OnWorkerEvent('failed')
  onFailed(job: Job | undefined, err: Error): void {
    this.logger.warn(`Housekeeping job ${job?.name ?? '?'} failed: ${err.message}`);
  }
}
