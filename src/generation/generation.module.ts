import { Module } from '@nestjs/common';
import { GenerationController } from './generation.controller';
import { GenerationProcessor } from './generation.processor';
import { GenerationService } from './generation.service';

@Module({
  controllers: [GenerationController],
  providers: [GenerationService, GenerationProcessor],
  exports: [GenerationProcessor],
})
export class GenerationModule {}
