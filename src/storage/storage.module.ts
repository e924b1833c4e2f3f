import { Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { createImageStorage } from './create-storage';
import { IMAGE_STORAGE, ImageStorage } from './image-storage';

/** The image storage port (IMAGE_STORAGE), with the driver STORAGE_DRIVER selects. */
@Module({
  providers: [
    {
      provide: IMAGE_STORAGE,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => createImageStorage(config.storage),
    },
  ],
  exports: [IMAGE_STORAGE],
})
export class StorageModule implements OnApplicationShutdown {
  constructor(@Inject(IMAGE_STORAGE) private readonly storage: ImageStorage) {}

  async onApplicationShutdown(): Promise<void> {
    await this.storage.close();
  }
}
