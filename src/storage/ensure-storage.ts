import { Logger } from '@nestjs/common';
import { AppConfig, ConfigError } from '../config/app-config';
import { createImageStorage } from './create-storage';
import { StorageUnavailableError } from './image-storage';

/**
 * Before Nest starts: the image storage must be usable, or the process stops with one line saying why (a
 * missing bucket or refused credentials is a configuration error, exit 2; an unreachable endpoint exit 1).
 */
export async function ensureStorage(config: AppConfig): Promise<void> {
  const storage = await createImageStorage(config.storage);
  try {
    await storage.check();
    new Logger('Storage').log(`Images in ${storage.location}`);
  } catch (err) {
    if (err instanceof StorageUnavailableError && err.variable)
      throw new ConfigError(err.variable, `is not usable: ${err.message}`);
    throw err;
  } finally {
    await storage.close();
  }
}
