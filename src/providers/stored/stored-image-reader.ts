import { ImageNotFoundError, ImageStorage } from '../../storage/image-storage';
import { MIME_TYPES } from '../../common/image-sniff';
import { sniffed } from '../image-body';
import { ImageDownload } from '../image-fetcher';
import { ProviderError } from '../provider-error';

/**
 * "Downloads" an image this service rendered itself (offline mode) from the image storage, so approval and
 * export treat offline and provider images alike, on any machine.
 */
export class StoredImageReader {
  constructor(private readonly storage: ImageStorage) {}

  async open(key: string): Promise<ImageDownload> {
    let stream;
    try {
      stream = await this.storage.read(key);
    } catch (err) {
      if (err instanceof ImageNotFoundError)
        throw new ProviderError('Rendered image is missing; it may have expired', false);
      throw err;
    }
    const cancel = () => stream.destroy();
    try {
      const { kind, chunks } = await sniffed(stream);
      if (!kind) throw new ProviderError('Rendered file is not an image', false);
      return { ext: kind, contentType: MIME_TYPES[kind], body: chunks, cancel };
    } catch (err) {
      cancel();
      throw err;
    }
  }
}

/** The storage key of an image recorded by path (sessions from before the storage port): its last segments. */
export function keyOfLegacyPath(filePath: string): string | null {
  const match = /([0-9a-f-]{36}\/(?:renders\/)?scene_\d{2,3}\.(?:png|jpg|webp|gif))$/.exec(
    filePath.replace(/\\/g, '/'),
  );
  return match ? match[1] : null;
}
