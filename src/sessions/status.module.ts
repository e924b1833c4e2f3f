import { Module } from '@nestjs/common';
import { SessionsController } from './sessions.controller';

/** GET /status/{session_id}. */
@Module({ controllers: [SessionsController] })
export class StatusModule {}
