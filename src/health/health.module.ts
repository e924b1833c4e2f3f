import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { MetricsModule } from '../observability/metrics.module';
import { ProvidersModule } from '../providers/providers.module';
import { QueueModule } from '../queue/queue.module';
import { SessionsModule } from '../sessions/sessions.module';
import { StorageModule } from '../storage/storage.module';
import { HealthController } from './health.controller';

/** GET /health and the Terminus probes; served by API processes and, on WORKER_HEALTH_PORT, by workers. */
@Module({
  imports: [
    TerminusModule.forRoot({ logger: false }),
    SessionsModule,
    QueueModule,
    ProvidersModule,
    StorageModule,
    // /metrics goes wherever the probes go: API processes and workers' health port.
    MetricsModule,
  ],
  controllers: [HealthController],
})
export class HealthModule {}
