import { Module } from '@nestjs/common';
import { GenerationController } from './generation.controller';
import { GenerationService } from './generation.service';
import { IdempotencyStore } from './idempotency.store';

/** POST /generate (API side). The worker side, GenerationProcessor, is provided by WorkerModule. */
@Module({
  controllers: [GenerationController],
  providers: [GenerationService, IdempotencyStore],
})
export class GenerationModule {}
