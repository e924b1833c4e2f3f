import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { DownloadWorkerModule } from './download/download-worker.module';
import { GenerationWorkerModule } from './generation/generation-worker.module';
import { HousekeepingModule } from './housekeeping/housekeeping.module';
import { WorkerLifecycle } from './queue/worker-lifecycle';
import { WebhooksWorkerModule } from './webhooks/webhooks-worker.module';

/**
 * The worker role: every queue processor and the cluster-wide housekeeping. Loads no controllers, DTOs
 * or Swagger.
 */
@Module({
  imports: [
    DiscoveryModule,
    GenerationWorkerModule,
    DownloadWorkerModule,
    WebhooksWorkerModule,
    HousekeepingModule,
  ],
  providers: [WorkerLifecycle],
})
export class WorkerModule {}
