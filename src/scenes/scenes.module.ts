import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { QueueModule } from '../queue/queue.module';
import { SessionsModule } from '../sessions/sessions.module';
import { ScenesController } from './scenes.controller';
import { ScenesService } from './scenes.service';

/** Directing scenes before approval: PATCH a scene, regenerate it as a new version, select a version. */
@Module({
  imports: [SessionsModule, QueueModule, AuthModule],
  controllers: [ScenesController],
  providers: [ScenesService],
})
export class ScenesModule {}
