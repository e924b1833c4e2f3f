import { Module } from '@nestjs/common';
import { DownloadController } from './download.controller';
import { DownloadProcessor } from './download.processor';
import { ZipExportService } from './zip-export.service';

@Module({
  controllers: [DownloadController],
  providers: [DownloadProcessor, ZipExportService],
  exports: [DownloadProcessor],
})
export class DownloadModule {}
