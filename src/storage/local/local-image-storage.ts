import { randomBytes } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { access, mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { contentTypeOfKey, isImageKey } from '../image-keys';
import {
  ByteRange,
  ImageNotFoundError,
  ImageStorage,
  StoredImage,
  StoredImageInfo,
  StorageUnavailableError,
} from '../image-storage';
import { measure, measured } from '../measured';

const READ_CHUNK_BYTES = 256 * 1024;
const isSessionFolder = (name: string) => /^[0-9a-f-]{36}$/.test(name);

/**
 * Images as files under IMAGE_DIR (`<IMAGE_DIR>/<key>`): zero set-up, one machine. A write goes to a
 * temporary file in the same folder and is renamed into place, so a reader never sees half an image.
 */
export class LocalImageStorage implements ImageStorage {
  readonly driver = 'local';
  readonly location: string;

  constructor(private readonly root: string) {
    this.location = root;
  }

  async write(key: string, data: Buffer | AsyncIterable<Buffer>, _contentType: string): Promise<StoredImage> {
    const target = this.pathOf(key);
    await mkdir(path.dirname(target), { recursive: true });
    const temp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      if (Buffer.isBuffer(data)) {
        await writeFile(temp, data, { flag: 'wx' });
        await rename(temp, target);
        return measure(data);
      }
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
    if (!isImageKey(key)) return null;
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
    if (!isSessionFolder(sessionId)) return sizes;
    let entries;
    try {
      entries = await readdir(path.join(this.root, sessionId), { recursive: true, withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return sizes;
      throw err;
    }
    for (const entry of entries) {
      const key = path.relative(this.root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/');
      if (!entry.isFile() || !isImageKey(key)) continue;
      const found = await stat(path.join(this.root, key)).catch(() => null);
      if (found) sizes.set(key, found.size);
    }
    return sizes;
  }

  async removeSession(sessionId: string): Promise<number> {
    if (!isSessionFolder(sessionId)) return 0;
    const folder = path.join(this.root, sessionId);
    const files = await countFiles(folder);
    await rm(folder, { recursive: true, force: true });
    return files;
  }

  async check(): Promise<void> {
    try {
      await mkdir(this.root, { recursive: true });
      await access(this.root, constants.W_OK);
    } catch (err) {
      throw new StorageUnavailableError(
        `${this.root} cannot be created or written: ${(err as Error).message}`.split('\n')[0],
        'IMAGE_DIR',
      );
    }
  }

  async close(): Promise<void> {}

  private pathOf(key: string): string {
    if (!isImageKey(key)) throw new ImageNotFoundError(key);
    return path.join(this.root, key);
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

async function countFiles(folder: string): Promise<number> {
  try {
    const entries = await readdir(folder, { recursive: true, withFileTypes: true });
    return entries.filter((entry) => entry.isFile()).length;
  } catch {
    return 0;
  }
}
