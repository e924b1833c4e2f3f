import { Module } from '@nestjs/common';
import { SessionFinalizer } from './session-finalizer';
import { SessionStore } from './session.store';
import { StatusCache } from './status-cache';

/** Session state, for every role. GET /status is in StatusModule, which only HTTP-serving roles load. */
@Module({
  providers: [SessionStore, StatusCache, SessionFinalizer],
  exports: [SessionStore, StatusCache, SessionFinalizer],
})
export class SessionsModule {}
