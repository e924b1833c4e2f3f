import { Module } from '@nestjs/common';
import { SessionsController } from './sessions.controller';
import { SessionsModule } from './sessions.module';

/** GET /status/{session_id}. */
@Module({ imports: [SessionsModule], controllers: [SessionsController] })
export class StatusModule {}
