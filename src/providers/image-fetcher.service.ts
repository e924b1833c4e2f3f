import { ImageSource } from '../domain/session.model';
import { ImageDownload, ImageFetcher } from './image-fetcher';
import { ProviderError } from './provider-error';
import { keyOfLegacyPath, StoredImageReader } from './stored/stored-image-reader';

export interface RemoteImageFetcher {
  open(url: string): Promise<ImageDownload>;
}

/** Fetches an approved image from wherever it was rendered: this service's own storage, or a provider URL. */
export class SourceImageFetcher implements ImageFetcher {
  constructor(
    private readonly stored: StoredImageReader,
    private readonly remote: RemoteImageFetcher,
  ) {}

  open(source: ImageSource): Promise<ImageDownload> {
    switch (source.kind) {
      case 'remote':
        return this.remote.open(source.url);
      case 'stored':
        return this.stored.open(source.key);
      case 'local': {
        const key = keyOfLegacyPath(source.path);
        if (!key) throw new ProviderError('Rendered image is outside the image storage', false);
        return this.stored.open(key);
      }
    }
  }
}
