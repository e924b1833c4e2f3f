import { ImageSource } from '../domain/session.model';
import { FetchedImage, ImageFetcher } from './image-fetcher';
import { LocalImageCopier } from './local/local-image-copier';

export interface RemoteImageFetcher {
  fetchRemote(url: string, targetBase: string): Promise<FetchedImage>;
}

/** Fetches an approved image from wherever it was rendered: this service's own files, or a provider URL. */
export class SourceImageFetcher implements ImageFetcher {
  constructor(
    private readonly local: LocalImageCopier,
    private readonly remote: RemoteImageFetcher,
  ) {}

  fetchTo(source: ImageSource, targetBase: string): Promise<FetchedImage> {
    return source.kind === 'local'
      ? this.local.copyTo(source.path, targetBase)
      : this.remote.fetchRemote(source.url, targetBase);
  }
}
