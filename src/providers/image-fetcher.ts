import { ImageSource } from '../domain/session.model';
import { ImageKind } from '../common/image-sniff';

/**
 * An approved image on its way in: its format is known (from its first bytes) before the body is read, so
 * the storage key can carry the right extension. The body must be read to its end, or `cancel()`ed.
 */
export interface ImageDownload {
  ext: ImageKind;
  contentType: string;
  body: AsyncIterable<Buffer>;
  /** Releases the source (connection, file) when the body will not be read to its end; safe to repeat. */
  cancel(): void;
}

/** Opens a rendered image wherever it is: this service's own storage, or a provider URL. */
export interface ImageFetcher {
  open(source: ImageSource): Promise<ImageDownload>;
}

export const IMAGE_FETCHER = Symbol('IMAGE_FETCHER');
