import { Global, Module } from '@nestjs/common';
import { SessionStore } from './session.store';
import { SessionsController } from './sessions.controller';
import { StatusCache } from './status-cache';

@Global()
@Module({
  controllers: [SessionsController],
  providers: [SessionStore, StatusCache],
  exports: [SessionStore],
})
export class SessionsModule {}
