import { Module } from '@nestjs/common';
import { DownloadController } from './download.controller';
import { ZipExportService } from './zip-export.service';

/** POST /download (API side). The worker side, DownloadProcessor, is provided by WorkerModule. */
@Module({
  controllers: [DownloadController],
  providers: [ZipExportService],
})
export class DownloadModule {}
