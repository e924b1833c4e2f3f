import { Module } from '@nestjs/common';
import { QueueModule } from '../queue/queue.module';
import { SceneDispatchModule } from '../generation/scene-dispatch.module';
import { processorProvider } from '../queue/processor-provider';
import { QueueName } from '../domain/jobs';
import { SessionsModule } from '../sessions/sessions.module';
import { StorageModule } from '../storage/storage.module';
import { ExpiredSessionSweeper } from './expired-session.sweeper';
import { HousekeepingProcessor } from './housekeeping.processor';
import { StalledSessionWatchdog } from './stalled-session.watchdog';

/** Worker role: removing expired sessions' files, moving on or stopping stalled sessions. */
@Module({
  imports: [SessionsModule, QueueModule, StorageModule, SceneDispatchModule],
  providers: [
    ExpiredSessionSweeper,
    StalledSessionWatchdog,
    processorProvider(HousekeepingProcessor, QueueName.Housekeeping),
  ],
})
export class HousekeepingModule {}
