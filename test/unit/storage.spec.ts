import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { AppConfig, ConfigError } from '../../src/config/app-config';
import { ensureStorage } from '../../src/storage/ensure-storage';
import {
  contentTypeOfKey,
  downloadKey,
  isImageKey,
  isStoredKey,
  renderKey,
  storyboardKey,
} from '../../src/storage/image-keys';
import { ImageNotFoundError, StorageUnavailableError } from '../../src/storage/image-storage';
import { LocalImageStorage } from '../../src/storage/local/local-image-storage';

const SESSION = '5d2c9e1a-7b3f-4a6d-9c8e-2f1a0b3c4d5e';
const OTHER_SESSION = 'e4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8';

let dir: string;
let storage: LocalImageStorage;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'storage-'));
  storage = new LocalImageStorage(dir);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Every file under the storage folder, relative to it (temporary files included). */
function files(): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function* chunksOf(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < bytes.length; offset += size) {
    await new Promise((resolve) => setImmediate(resolve));
    yield bytes.subarray(offset, offset + size);
  }
}

describe('LocalImageStorage', () => {
  const key = downloadKey(SESSION, 'scene_01.png');

  it('writes a whole image as <IMAGE_DIR>/<key> and reports its size and CRC-32', async () => {
    const image = randomBytes(5000);
    expect(await storage.write(key, image, 'image/png')).toEqual({ bytes: 5000, crc32: crc32(image) });
    expect(readFileSync(path.join(dir, SESSION, 'scene_01.png')).equals(image)).toBe(true);
    expect(files()).toEqual([path.join(SESSION, 'scene_01.png')]);
  });

  it('streams an image in, measuring the bytes that went through', async () => {
    const image = randomBytes(300 * 1024 + 7);
    const renders = renderKey(SESSION, 2, 'webp');
    expect(await storage.write(renders, chunksOf(image, 64 * 1024), 'image/webp')).toEqual({
      bytes: image.length,
      crc32: crc32(image),
    });
    expect((await bytesOf(await storage.read(renders))).equals(image)).toBe(true);
    expect(files()).toEqual([path.join(SESSION, 'renders', 'scene_03.webp')]);
  });

  it('replaces an image written again under the same key', async () => {
    await storage.write(key, randomBytes(100), 'image/png');
    const second = randomBytes(50);
    await storage.write(key, second, 'image/png');
    expect((await bytesOf(await storage.read(key))).equals(second)).toBe(true);
    expect(files()).toEqual([path.join(SESSION, 'scene_01.png')]);
  });

  it('keeps no file, temporary or not, of a stream that fails part-way', async () => {
    const failure = new Error('the connection broke');
    async function* breaking(): AsyncGenerator<Buffer> {
      yield randomBytes(64 * 1024);
      await new Promise((resolve) => setImmediate(resolve));
      yield randomBytes(64 * 1024);
      throw failure;
    }
    await expect(storage.write(key, breaking(), 'image/png')).rejects.toBe(failure);
    expect(await storage.info(key)).toBeNull();
    expect(files()).toEqual([]);
  });

  it('keeps the previous image when writing over it fails', async () => {
    const previous = randomBytes(100);
    await storage.write(key, previous, 'image/png');
    async function* breaking(): AsyncGenerator<Buffer> {
      yield randomBytes(10);
      throw new Error('cut');
    }
    await expect(storage.write(key, breaking(), 'image/png')).rejects.toThrow('cut');
    expect((await bytesOf(await storage.read(key))).equals(previous)).toBe(true);
    expect(files()).toEqual([path.join(SESSION, 'scene_01.png')]);
  });

  it('shows no image to readers until it is completely written', async () => {
    const image = randomBytes(256 * 1024);
    let release!: () => void;
    const halfway = new Promise<void>((resolve) => (release = resolve));
    let reachedHalfway!: () => void;
    const reached = new Promise<void>((resolve) => (reachedHalfway = resolve));
    async function* slow(): AsyncGenerator<Buffer> {
      yield image.subarray(0, 128 * 1024);
      reachedHalfway();
      await halfway;
      yield image.subarray(128 * 1024);
    }
    const writing = storage.write(key, slow(), 'image/png');
    await reached;
    expect(await storage.info(key)).toBeNull();
    await expect(storage.read(key)).rejects.toBeInstanceOf(ImageNotFoundError);
    release();
    await writing;
    expect((await storage.info(key))?.size).toBe(image.length);
  });

  it('describes a stored image: size, content type from the extension, validators', async () => {
    await storage.write(key, randomBytes(1234), 'image/png');
    await storage.write(downloadKey(SESSION, 'scene_02.jpg'), randomBytes(10), 'image/jpeg');
    const info = await storage.info(key);
    expect(info).toEqual({
      size: 1234,
      contentType: 'image/png',
      etag: expect.stringMatching(/^W\/"[0-9a-f]+-[0-9a-f]+"$/),
      lastModified: expect.anything(),
    });
    // Made in Node's own realm, so instanceof Date does not hold under Jest: its time is what counts.
    expect(Math.abs(info!.lastModified.getTime() - Date.now())).toBeLessThan(60_000);
    expect((await storage.info(downloadKey(SESSION, 'scene_02.jpg')))?.contentType).toBe('image/jpeg');
  });

  it('answers null for an image that is not there', async () => {
    expect(await storage.info(key)).toBeNull();
    expect(await storage.info(downloadKey(OTHER_SESSION, 'scene_01.png'))).toBeNull();
  });

  it.each([
    '../etc/passwd',
    'abc/scene_01.png',
    `${SESSION.toUpperCase()}/scene_01.png`,
    `${SESSION}/../${OTHER_SESSION}/scene_01.png`,
    `${SESSION}/other/scene_01.png`,
    `${SESSION}/scene_01.exe`,
    `/${SESSION}/scene_01.png`,
    `${SESSION}`,
  ])('treats the key %j, which it could not have written, as no image', async (badKey) => {
    expect(await storage.info(badKey)).toBeNull();
    await expect(storage.read(badKey)).rejects.toBeInstanceOf(ImageNotFoundError);
  });

  it('refuses to write under a key it would not generate, and writes nothing', async () => {
    const outside = path.join(dir, 'outside');
    await expect(
      storage.write(`../${path.basename(dir)}/outside`, Buffer.from('x'), 'image/png'),
    ).rejects.toBeInstanceOf(ImageNotFoundError);
    await expect(storage.write('abc/scene_01.png', Buffer.from('x'), 'image/png')).rejects.toBeInstanceOf(
      ImageNotFoundError,
    );
    expect(existsSync(outside)).toBe(false);
    expect(files()).toEqual([]);
  });

  it('reads exactly the bytes of an inclusive range', async () => {
    const image = randomBytes(1024 * 1024);
    await storage.write(key, image, 'image/png');
    expect(
      (await bytesOf(await storage.read(key, { start: 10, end: 19 }))).equals(image.subarray(10, 20)),
    ).toBe(true);
    expect((await bytesOf(await storage.read(key, { start: 0, end: 0 }))).equals(image.subarray(0, 1))).toBe(
      true,
    );
    const tail = { start: image.length - 300_000, end: image.length - 1 };
    expect((await bytesOf(await storage.read(key, tail))).equals(image.subarray(tail.start))).toBe(true);
    expect((await bytesOf(await storage.read(key))).equals(image)).toBe(true);
  });

  it('rejects reading an image that is not there with ImageNotFoundError', async () => {
    const error = await storage.read(key).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(ImageNotFoundError);
    expect((error as ImageNotFoundError).key).toBe(key);
  });

  it("lists a session's images with their sizes, and nothing else", async () => {
    await storage.write(downloadKey(SESSION, 'scene_01.png'), randomBytes(10), 'image/png');
    await storage.write(downloadKey(SESSION, 'scene_02.jpg'), randomBytes(25), 'image/jpeg');
    await storage.write(renderKey(SESSION, 0, 'png'), randomBytes(7), 'image/png');
    await storage.write(downloadKey(OTHER_SESSION, 'scene_01.png'), randomBytes(3), 'image/png');
    // A leftover that is no image key (a temporary file) is not listed.
    writeFileSync(path.join(dir, SESSION, 'scene_03.png.abc.tmp'), 'partial');

    expect(await storage.sizes(SESSION)).toEqual(
      new Map([
        [downloadKey(SESSION, 'scene_01.png'), 10],
        [downloadKey(SESSION, 'scene_02.jpg'), 25],
        [renderKey(SESSION, 0, 'png'), 7],
      ]),
    );
    expect(await storage.sizes('5d2c9e1a-0000-4a6d-9c8e-2f1a0b3c4d5e')).toEqual(new Map());
    expect(await storage.sizes('..')).toEqual(new Map());
  });

  it('keeps a storyboard PDF beside the images: written, read, listed and removed like them', async () => {
    const pdf = storyboardKey(SESSION, 'a1'.repeat(32));
    const bytes = randomBytes(3000);
    await storage.write(downloadKey(SESSION, 'scene_01.png'), randomBytes(10), 'image/png');
    expect(await storage.write(pdf, chunksOf(bytes, 1024), 'application/pdf')).toEqual({
      bytes: 3000,
      crc32: crc32(bytes),
    });
    expect(files()).toEqual([
      path.join(SESSION, 'scene_01.png'),
      path.join(SESSION, 'storyboard', 'a1a1a1a1a1a1a1a1.pdf'),
    ]);
    expect((await bytesOf(await storage.read(pdf))).equals(bytes)).toBe(true);
    expect((await storage.info(pdf))?.contentType).toBe('application/pdf');
    expect(await storage.sizes(SESSION)).toEqual(
      new Map([
        [downloadKey(SESSION, 'scene_01.png'), 10],
        [pdf, 3000],
      ]),
    );
    await storage.remove(pdf);
    expect(files()).toEqual([path.join(SESSION, 'scene_01.png')]);
    // Removing what is not there, or a key it would never write, is not an error and removes nothing.
    await expect(storage.remove(pdf)).resolves.toBeUndefined();
    await expect(storage.remove(`${SESSION}/../${OTHER_SESSION}`)).resolves.toBeUndefined();
    expect(files()).toEqual([path.join(SESSION, 'scene_01.png')]);
    await storage.write(pdf, bytes, 'application/pdf');
    await storage.removeSession(SESSION);
    expect(files()).toEqual([]);
  });

  it('removes every image of a session, and only that session', async () => {
    await storage.write(downloadKey(SESSION, 'scene_01.png'), randomBytes(10), 'image/png');
    await storage.write(downloadKey(SESSION, 'scene_02.jpg'), randomBytes(10), 'image/jpeg');
    await storage.write(renderKey(SESSION, 0, 'png'), randomBytes(10), 'image/png');
    await storage.write(downloadKey(OTHER_SESSION, 'scene_01.png'), randomBytes(10), 'image/png');

    await storage.removeSession(SESSION);
    expect(existsSync(path.join(dir, SESSION))).toBe(false);
    expect(files()).toEqual([path.join(OTHER_SESSION, 'scene_01.png')]);
    // Again, with nothing left: not an error.
    await expect(storage.removeSession(SESSION)).resolves.toBeUndefined();
  });

  it.each(['..', '.', '', 'not-a-session', `${OTHER_SESSION}/..`])(
    'removes nothing for the session id %j',
    async (id) => {
      await storage.write(downloadKey(OTHER_SESSION, 'scene_01.png'), randomBytes(10), 'image/png');
      await storage.removeSession(id);
      expect(existsSync(dir)).toBe(true);
      expect(files()).toEqual([path.join(OTHER_SESSION, 'scene_01.png')]);
    },
  );

  it('checks that IMAGE_DIR can be used, creating it when missing', async () => {
    const nested = path.join(dir, 'a', 'b');
    const fresh = new LocalImageStorage(nested);
    await expect(fresh.check()).resolves.toBeUndefined();
    expect(existsSync(nested)).toBe(true);
    expect(fresh.location).toBe(nested);
    expect(fresh.driver).toBe('local');
  });

  it('names IMAGE_DIR, in one line, when the folder cannot be created', async () => {
    const unusable = new LocalImageStorage('/dev/null/images');
    const error = await unusable.check().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect((error as StorageUnavailableError).variable).toBe('IMAGE_DIR');
    expect((error as StorageUnavailableError).message).toContain('/dev/null/images');
    expect((error as StorageUnavailableError).message).not.toContain('\n');
  });

  it('stops start-up with a configuration error naming IMAGE_DIR', async () => {
    const config = { storage: { driver: 'local', imageDir: '/dev/null/images' } } as AppConfig;
    const error = await ensureStorage(config).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe('IMAGE_DIR');
    expect((error as ConfigError).message).toMatch(/^Invalid configuration: IMAGE_DIR is not usable: /);
    expect((error as ConfigError).message).not.toContain('\n');
  });
});

describe('storyboard keys', () => {
  const fingerprint = '0123456789abcdef'.repeat(4);

  it('name the PDF by its fingerprint, under the session, as a key the drivers store but /static does not serve', () => {
    const key = storyboardKey(SESSION, fingerprint);
    expect(key).toBe(`${SESSION}/storyboard/0123456789abcdef.pdf`);
    expect(isStoredKey(key)).toBe(true);
    expect(isImageKey(key)).toBe(false);
    expect(contentTypeOfKey(key)).toBe('application/pdf');
  });

  it('refuse a fingerprint that is not a sha256 in hex', () => {
    expect(() => storyboardKey(SESSION, '../x')).toThrow();
    expect(() => storyboardKey(SESSION, fingerprint.toUpperCase())).toThrow();
  });

  it.each([
    `${SESSION}/storyboard/0123456789abcde.pdf`,
    `${SESSION}/storyboard/0123456789abcdeg.pdf`,
    `${SESSION}/storyboard/../0123456789abcdef.pdf`,
    `${SESSION}/0123456789abcdef.pdf`,
    `${SESSION}/storyboard/0123456789abcdef.png`,
    `${SESSION}/renders/storyboard/0123456789abcdef.pdf`,
  ])('are never %j', (key) => {
    expect(isStoredKey(key)).toBe(false);
  });
});
