import { Module } from '@nestjs/common';
import { DownloadProcessor } from '../download/download.processor';
import { GenerationProcessor } from '../generation/generation.processor';
import { ExpiredSessionSweeper } from '../sessions/expired-session.sweeper';
import { SessionHousekeeping } from '../sessions/session-housekeeping';
import { StalledSessionWatchdog } from '../sessions/stalled-session.watchdog';
import { WorkerHost } from './worker-host.service';

/**
 * Imported only by the worker role: consuming queues, cleaning expired sessions' files, stopping stalled
 * ones. It provides the processors directly rather than importing the feature modules, so a worker never
 * loads controllers, DTOs or Swagger.
 */
@Module({
  providers: [
    WorkerHost,
    GenerationProcessor,
    DownloadProcessor,
    ExpiredSessionSweeper,
    StalledSessionWatchdog,
    SessionHousekeeping,
  ],
})
export class WorkerModule {}
