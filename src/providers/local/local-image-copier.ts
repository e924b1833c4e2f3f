import { randomBytes } from 'node:crypto';
import { copyFile, rename, rm } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import * as path from 'node:path';
import { FetchedImage } from '../image-fetcher';
import { ProviderError } from '../provider-error';

const SIGNATURES: { ext: string; type: string; test: (b: Buffer) => boolean }[] = [
  {
    ext: 'png',
    type: 'image/png',
    test: (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  },
  { ext: 'jpg', type: 'image/jpeg', test: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  {
    ext: 'webp',
    type: 'image/webp',
    test: (b) => b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP',
  },
];

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
      const head = Buffer.alloc(16);
      await handle.read(head, 0, 16, 0);
      const kind = SIGNATURES.find((s) => s.test(head));
      if (!kind) throw new ProviderError('Rendered file is not an image', false);
      return kind;
    } finally {
      await handle.close();
    }
  }
}
