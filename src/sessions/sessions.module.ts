import { Module } from '@nestjs/common';
import { QueueModule } from '../queue/queue.module';
import { WebhookEvents } from './webhook-events';
import { SessionFinalizer } from './session-finalizer';
import { SessionStore } from './session.store';
import { StatusCache } from './status-cache';

/** Session state, for every role. GET /status is in StatusModule, which only HTTP-serving roles load. */
@Module({
  imports: [QueueModule],
  providers: [SessionStore, StatusCache, SessionFinalizer, WebhookEvents],
  exports: [SessionStore, StatusCache, SessionFinalizer, WebhookEvents],
})
export class SessionsModule {}
