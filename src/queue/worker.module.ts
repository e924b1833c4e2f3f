import { Module } from '@nestjs/common';
import { DownloadModule } from '../download/download.module';
import { GenerationModule } from '../generation/generation.module';
import { ExpiredSessionSweeper } from '../sessions/expired-session.sweeper';
import { WorkerHost } from './worker-host.service';

/** Imported only by the worker role: consuming queues and cleaning expired sessions' files. */
@Module({ imports: [GenerationModule, DownloadModule], providers: [WorkerHost, ExpiredSessionSweeper] })
export class WorkerModule {}
