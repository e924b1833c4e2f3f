import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { SessionsModule } from '../sessions/sessions.module';
import { SessionEventHub } from './session-event-hub';
import { SessionEventsController } from './session-events.controller';

/** GET /status/{session_id}/events: live progress over server-sent events, for HTTP-serving roles. */
@Module({
  imports: [SessionsModule, AuthModule],
  controllers: [SessionEventsController],
  providers: [SessionEventHub],
})
export class EventsModule {}
