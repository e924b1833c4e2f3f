import { randomBytes } from 'node:crypto';
import sharp from 'sharp';

export type FakeImageFormat = 'png' | 'jpg' | 'webp';

export const CONTENT_TYPES: Record<FakeImageFormat, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  webp: 'image/webp',
};

const cache = new Map<string, Promise<Buffer>>();

/**
 * A real, decodable image. Small requests get a 64×64 gradient; with `approxBytes` the image is random
 * noise sized so an uncompressed-ish PNG is about that big (noise does not compress), for benchmarks.
 * Results are cached per format and size.
 */
export function fakeImage(format: FakeImageFormat, approxBytes?: number): Promise<Buffer> {
  const key = `${format}:${approxBytes ?? 0}`;
  let image = cache.get(key);
  if (!image) {
    image = render(format, approxBytes);
    cache.set(key, image);
  }
  return image;
}

async function render(format: FakeImageFormat, approxBytes?: number): Promise<Buffer> {
  const side = approxBytes ? Math.max(64, Math.ceil(Math.sqrt(approxBytes / 3))) : 64;
  const pixels = approxBytes ? randomBytes(side * side * 3) : gradient(side);
  const image = sharp(pixels, { raw: { width: side, height: side, channels: 3 } });
  if (format === 'jpg') return image.jpeg({ quality: 90 }).toBuffer();
  if (format === 'webp') return image.webp({ quality: 90 }).toBuffer();
  return image.png({ compressionLevel: approxBytes ? 0 : 6 }).toBuffer();
}

function gradient(side: number): Buffer {
  const pixels = Buffer.alloc(side * side * 3);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const i = (y * side + x) * 3;
      pixels[i] = (x * 255) / side;
      pixels[i + 1] = (y * 255) / side;
      pixels[i + 2] = 160;
    }
  }
  return pixels;
}
