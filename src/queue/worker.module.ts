import { Module } from '@nestjs/common';
import { DownloadModule } from '../download/download.module';
import { GenerationModule } from '../generation/generation.module';
import { ExpiredSessionSweeper } from '../sessions/expired-session.sweeper';
import { SessionHousekeeping } from '../sessions/session-housekeeping';
import { StalledSessionWatchdog } from '../sessions/stalled-session.watchdog';
import { WorkerHost } from './worker-host.service';

/** Imported only by the worker role: consuming queues, cleaning expired sessions' files, stopping stalled ones. */
@Module({
  imports: [GenerationModule, DownloadModule],
  providers: [WorkerHost, ExpiredSessionSweeper, StalledSessionWatchdog, SessionHousekeeping],
})
export class WorkerModule {}
