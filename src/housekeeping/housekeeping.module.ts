import { Module } from '@nestjs/common';
import { QueueModule } from '../queue/queue.module';
import { processorProvider } from '../queue/processor-provider';
import { QueueName } from '../domain/jobs';
import { SessionsModule } from '../sessions/sessions.module';
import { StorageModule } from '../storage/storage.module';
import { ExpiredSessionSweeper } from './expired-session.sweeper';
import { HousekeepingProcessor } from './housekeeping.processor';
import { StalledSessionWatchdog } from './stalled-session.watchdog';

/** Worker role: removing expired sessions' files, stopping stalled sessions. */
@Module({
  imports: [SessionsModule, QueueModule, StorageModule],
  providers: [
    ExpiredSessionSweeper,
    StalledSessionWatchdog,
    processorProvider(HousekeepingProcessor, QueueName.Housekeeping),
  ],
})
export class HousekeepingModule {}
