import type { Readable } from 'node:stream';

/** What writing an image recorded: the export puts both in the ZIP headers without reading it back. */
export interface StoredImage {
  bytes: number;
  crc32: number;
}

export interface StoredImageInfo {
  size: number;
  contentType: string;
  etag: string;
  lastModified: Date;
}

/** Inclusive byte offsets, as in an HTTP Range header. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * The one way image bytes are read and written: offline renders, approved downloads, the ZIP export,
 * /static and the expiry sweep all go through it. Keys come from image-keys.ts. The export's storyboard
 * PDF lives here too, beside the session's images, so it is listed, streamed and swept like them.
 */
export interface ImageStorage {
  readonly driver: 'local' | 's3';
  /** Images an export opens ahead of the one it sends: more where each read starts with a round trip. */
  readonly readAhead: number;
  /** Where the images live, for logs and /debug: a folder or bucket, never a credential. */
  readonly location: string;
  /** Stores a whole image, or streams one in; readers never see a partial object, and a failed write leaves none. */
  write(key: string, data: Buffer | AsyncIterable<Buffer>, contentType: string): Promise<StoredImage>;
  /** null when there is no such image. */
  info(key: string): Promise<StoredImageInfo | null>;
  /** The image's bytes, or a range of them; rejects with ImageNotFoundError when there is no such image. */
  read(key: string, range?: ByteRange): Promise<Readable>;
  /** Every image (and storyboard PDF) of a session, key → size in bytes: one listing, however many. */
  sizes(sessionId: string): Promise<Map<string, number>>;
  /** Removes one object; removing one that is not there is not an error. */
  remove(key: string): Promise<void>;
  /** Removes every image (and storyboard PDF) of a session. */
  removeSession(sessionId: string): Promise<void>;
  /** Resolves when the storage can be used; rejects with StorageUnavailableError saying why, in one line. */
  check(): Promise<void>;
  close(): Promise<void>;
}

export const IMAGE_STORAGE = Symbol('IMAGE_STORAGE');

/** check() as a yes or no, for health views. */
export function isUsable(storage: ImageStorage): Promise<boolean> {
  return storage.check().then(
    () => true,
    () => false,
  );
}

export class ImageNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`No stored image ${key}`);
  }
}

/** The storage cannot be used at all (missing bucket, refused credentials, unreachable endpoint). */
export class StorageUnavailableError extends Error {
  constructor(
    message: string,
    /** The variable to fix, when the cause is configuration rather than an outage. */
    readonly variable?: string,
  ) {
    super(message);
  }
}
