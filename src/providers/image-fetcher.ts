import { ImageSource } from '../domain/session.model';

export interface FetchedImage {
  /** Absolute path of the file written. */
  path: string;
  bytes: number;
  contentType: string;
}

/** Copies a rendered image into the image directory; `targetBase` is the path without an extension. */
export interface ImageFetcher {
  fetchTo(source: ImageSource, targetBase: string): Promise<FetchedImage>;
}

export const IMAGE_FETCHER = Symbol('IMAGE_FETCHER');
