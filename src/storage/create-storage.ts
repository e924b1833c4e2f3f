import { StorageConfig } from '../config/app-config';
import { ImageStorage } from './image-storage';

/** The configured driver; the S3 SDK is loaded only by processes that use it. */
export async function createImageStorage(config: StorageConfig): Promise<ImageStorage> {
  if (config.driver === 'local') {
    const { LocalImageStorage } = await import('./local/local-image-storage');
    return new LocalImageStorage(config.imageDir);
  }
  const { S3ImageStorage } = await import('./s3/s3-image-storage');
  return new S3ImageStorage(config.s3);
}
