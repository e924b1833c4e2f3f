import { Module } from '@nestjs/common';
import { ProvidersModule } from '../providers/providers.module';
import { QueueModule } from '../queue/queue.module';
import { SessionsModule } from '../sessions/sessions.module';
import { GenerationController } from './generation.controller';
import { GenerationService } from './generation.service';
import { ActiveSessionQuota } from './active-session-quota';
import { IdempotencyStore } from './idempotency.store';

/** POST /generate (API side). The worker side is GenerationWorkerModule. */
@Module({
  imports: [SessionsModule, QueueModule, ProvidersModule],
  controllers: [GenerationController],
  providers: [GenerationService, IdempotencyStore, ActiveSessionQuota],
})
export class GenerationModule {}
