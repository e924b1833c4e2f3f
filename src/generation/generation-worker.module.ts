import { Module } from '@nestjs/common';
import { ProvidersModule } from '../providers/providers.module';
import { QueueName } from '../domain/jobs';
import { processorProvider } from '../queue/processor-provider';
import { QueueModule } from '../queue/queue.module';
import { SessionsModule } from '../sessions/sessions.module';
import { GenerationProcessor } from './generation.processor';
import { ProviderOutages } from './provider-outages';
import { SceneDispatchModule } from './scene-dispatch.module';

/** Worker role: planning, rendering and finalising sessions. */
@Module({
  imports: [SessionsModule, QueueModule, ProvidersModule, SceneDispatchModule],
  providers: [processorProvider(GenerationProcessor, QueueName.Generation), ProviderOutages],
})
export class GenerationWorkerModule {}
