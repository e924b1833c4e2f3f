import { randomBytes } from 'node:crypto';
import { copyFile, rename, rm } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import * as path from 'node:path';
import { FetchedImage } from '../image-fetcher';
import { MIME_TYPES, sniffImageType, SNIFF_BYTES } from '../http/image-sniff';
import { ProviderError } from '../provider-error';

/**
 * "Downloads" an image this service rendered itself (offline mode) by copying it, so approval and export
 * treat offline and provider images alike. Only files inside IMAGE_DIR are ever read.
 */
export class LocalImageCopier {
  constructor(private readonly imageDir: string) {}

  async copyTo(sourcePath: string, targetBase: string): Promise<FetchedImage> {
    const resolved = path.resolve(sourcePath);
    if (!resolved.startsWith(path.resolve(this.imageDir) + path.sep)) {
      throw new ProviderError('Rendered image is outside the image directory', false);
    }
    const kind = await this.sniff(resolved);
    const target = `${targetBase}.${kind.ext}`;
    const temp = `${target}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await copyFile(resolved, temp);
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    const handle = await open(target, 'r');
    try {
      const { size } = await handle.stat();
      return { path: target, bytes: size, contentType: kind.type };
    } finally {
      await handle.close();
    }
  }

  private async sniff(file: string): Promise<{ ext: string; type: string }> {
    let handle;
    try {
      handle = await open(file, 'r');
    } catch {
      throw new ProviderError('Rendered image is missing; it may have expired', false);
    }
    try {
      const head = Buffer.alloc(SNIFF_BYTES);
      await handle.read(head, 0, SNIFF_BYTES, 0);
      const kind = sniffImageType(head);
      if (!kind) throw new ProviderError('Rendered file is not an image', false);
      return { ext: kind, type: MIME_TYPES[kind] };
    } finally {
      await handle.close();
    }
  }
}
