import { Module } from '@nestjs/common';
import { QueueModule } from '../queue/queue.module';
import { SessionsModule } from '../sessions/sessions.module';
import { SceneDispatch } from './scene-dispatch';

/** Queuing a planned session's renders, for the generation worker and the watchdog (both in the worker role). */
@Module({
  imports: [SessionsModule, QueueModule],
  providers: [SceneDispatch],
  exports: [SceneDispatch],
})
export class SceneDispatchModule {}
