import { getQueueToken } from '@nestjs/bullmq';
import { Inject, Injectable, Module, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Queue } from 'bullmq';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { QueueName } from '../domain/jobs';
import { QueueModule } from '../queue/queue.module';
import { MetricsController } from './metrics.controller';
import {
  collectProcessMetrics,
  httpDuration,
  prepareSessionCounts,
  queueJobsGauge,
  watchQueues,
} from '../common/metrics';

/**
 * Makes this application's metrics and, while it runs, lets the queue gauge read its queues; a closed
 * application's queues leave the gauge with it.
 */
@Injectable()
class ApplicationMetrics implements OnModuleInit, OnModuleDestroy {
  private unwatch: (() => void) | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly moduleRef: ModuleRef,
  ) {}

  onModuleInit(): void {
    if (!this.config.metricsEnabled) return;
    collectProcessMetrics();
    httpDuration();
    prepareSessionCounts();
    queueJobsGauge();
    const queues = Object.values(QueueName).map((name) =>
      this.moduleRef.get<Queue>(getQueueToken(name), { strict: false }),
    );
    this.unwatch = watchQueues(queues);
  }

  onModuleDestroy(): void {
    this.unwatch?.();
  }
}

/** GET /metrics, for API processes and, on WORKER_HEALTH_PORT, for workers. */
@Module({
  imports: [QueueModule],
  controllers: [MetricsController],
  providers: [ApplicationMetrics],
})
export class MetricsModule {}
