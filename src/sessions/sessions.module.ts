import { Global, Module } from '@nestjs/common';
import { SessionStore } from './session.store';
import { SessionsController } from './sessions.controller';

@Global()
@Module({ controllers: [SessionsController], providers: [SessionStore], exports: [SessionStore] })
export class SessionsModule {}
