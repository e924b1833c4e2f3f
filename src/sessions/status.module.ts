import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { SessionsController } from './sessions.controller';
import { SessionsModule } from './sessions.module';

/** GET /status/{session_id}. */
@Module({ imports: [SessionsModule, AuthModule], controllers: [SessionsController] })
export class StatusModule {}
