import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { SessionsModule } from '../sessions/sessions.module';
import { StorageModule } from '../storage/storage.module';
import { StaticImagesController } from './static-images.controller';

/** GET /static/…: the session images, from whichever image storage is configured. */
@Module({
  imports: [AuthModule, SessionsModule, StorageModule],
  controllers: [StaticImagesController],
})
export class ImagesModule {}
