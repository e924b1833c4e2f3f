import { Module } from '@nestjs/common';
import { GenerationController } from './generation.controller';
import { GenerationProcessor } from './generation.processor';
import { GenerationService } from './generation.service';
import { IdempotencyStore } from './idempotency.store';

@Module({
  controllers: [GenerationController],
  providers: [GenerationService, GenerationProcessor, IdempotencyStore],
  exports: [GenerationProcessor],
})
export class GenerationModule {}
