import { Module } from '@nestjs/common';
import { SessionsModule } from '../sessions/sessions.module';
import { StorageModule } from '../storage/storage.module';
import { DebugController } from './debug.controller';

/** GET /debug/* (only with DEBUG_MODE=true). */
@Module({ imports: [SessionsModule, StorageModule], controllers: [DebugController] })
export class DebugModule {}
