import { randomBytes } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { access, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isSessionId } from '../../sessions/session-id';
import { contentTypeOfKey, isStoredKey } from '../image-keys';
import {
  ByteRange,
  ImageNotFoundError,
  ImageStorage,
  StoredImage,
  StoredImageInfo,
  StorageUnavailableError,
} from '../image-storage';
import { measured } from '../measured';

const READ_CHUNK_BYTES = 256 * 1024;

/**
 * Images as files under IMAGE_DIR (`<IMAGE_DIR>/<key>`): zero set-up, one machine. A write goes to a
 * temporary file in the same folder and is renamed into place, so a reader never sees half an image.
 */
export class LocalImageStorage implements ImageStorage {
  readonly driver = 'local';
  readonly readAhead = 1;
  readonly location: string;

  constructor(private readonly root: string) {
    this.location = root;
  }

  async write(key: string, data: Buffer | AsyncIterable<Buffer>, _contentType: string): Promise<StoredImage> {
    const target = this.pathOf(key);
    await mkdir(path.dirname(target), { recursive: true });
    const temp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      const { chunks, result } = measured(data);
      await pipeline(Readable.from(chunks), createWriteStream(temp, { flags: 'wx' }));
      await rename(temp, target);
      return result();
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  async info(key: string): Promise<StoredImageInfo | null> {
    if (!isStoredKey(key)) return null;
    try {
      const found = await stat(this.pathOf(key));
      if (!found.isFile()) return null;
      return {
        size: found.size,
        contentType: contentTypeOfKey(key),
        // The form Express's static server used, so caches keep their validators across the upgrade.
        etag: `W/"${found.size.toString(16)}-${found.mtime.getTime().toString(16)}"`,
        lastModified: found.mtime,
      };
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    let handle;
    try {
      handle = await open(this.pathOf(key), 'r');
    } catch (err) {
      if (isMissing(err)) throw new ImageNotFoundError(key);
      throw err;
    }
    return handle.createReadStream({ ...range, highWaterMark: READ_CHUNK_BYTES });
  }

  async sizes(sessionId: string): Promise<Map<string, number>> {
    const sizes = new Map<string, number>();
    if (!isSessionId(sessionId)) return sizes;
    let entries;
    try {
      entries = await readdir(path.join(this.root, sessionId), { recursive: true, withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return sizes;
      throw err;
    }
    for (const entry of entries) {
      const key = path.relative(this.root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/');
      if (!entry.isFile() || !isStoredKey(key)) continue;
      const found = await stat(path.join(this.root, key)).catch(() => null);
      if (found) sizes.set(key, found.size);
    }
    return sizes;
  }

  async remove(key: string): Promise<void> {
    if (isStoredKey(key)) await rm(this.pathOf(key), { force: true });
  }

  async removeSession(sessionId: string): Promise<void> {
    if (isSessionId(sessionId)) await rm(path.join(this.root, sessionId), { recursive: true, force: true });
  }

  async check(): Promise<void> {
    try {
      // Probes call this often: the folder is created only when it is missing (start-up, or removed since).
      await access(this.root, constants.W_OK).catch(async () => {
        await mkdir(this.root, { recursive: true });
        await access(this.root, constants.W_OK);
      });
    } catch (err) {
      throw new StorageUnavailableError(
        `${this.root} cannot be created or written: ${(err as Error).message}`.split('\n')[0],
        'IMAGE_DIR',
      );
    }
  }

  async close(): Promise<void> {}

  private pathOf(key: string): string {
    if (!isStoredKey(key)) throw new ImageNotFoundError(key);
    return path.join(this.root, key);
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
