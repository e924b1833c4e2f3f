import { Module } from '@nestjs/common';
import { QueueName } from '../domain/jobs';
import { processorProvider } from '../queue/processor-provider';
import { SessionsModule } from '../sessions/sessions.module';
import { WebhookProcessor } from './webhook.processor';

/** Worker role: delivering signed webhook events. */
@Module({
  imports: [SessionsModule],
  providers: [processorProvider(WebhookProcessor, QueueName.Webhooks)],
})
export class WebhooksWorkerModule {}
