import { Module } from '@nestjs/common';
import { ProvidersModule } from '../providers/providers.module';
import { QueueName } from '../domain/jobs';
import { processorProvider } from '../queue/processor-provider';
import { QueueModule } from '../queue/queue.module';
import { SessionsModule } from '../sessions/sessions.module';
import { StorageModule } from '../storage/storage.module';
import { DownloadProcessor } from './download.processor';
import { StoryboardService } from './storyboard/storyboard.service';
import { ZipExportService } from './zip-export.service';

/** Worker role: fetching approved images from the provider, then building the export's storyboard PDF. */
@Module({
  imports: [SessionsModule, QueueModule, ProvidersModule, StorageModule],
  providers: [processorProvider(DownloadProcessor, QueueName.Download), ZipExportService, StoryboardService],
})
export class DownloadWorkerModule {}
