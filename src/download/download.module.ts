import { Module } from '@nestjs/common';
import { SessionsModule } from '../sessions/sessions.module';
import { StorageModule } from '../storage/storage.module';
import { DownloadController } from './download.controller';
import { StoryboardService } from './storyboard/storyboard.service';
import { ZipExportService } from './zip-export.service';

/** POST /download (API side). The worker side is DownloadWorkerModule. */
@Module({
  imports: [SessionsModule, StorageModule],
  controllers: [DownloadController],
  providers: [ZipExportService, StoryboardService],
})
export class DownloadModule {}
