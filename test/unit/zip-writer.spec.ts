import { randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { StoredFile, ZipWriter } from '../../src/download/zip-writer';
import { ImageNotFoundError } from '../../src/storage/image-storage';
import { readZip } from '../support/zip-reader';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'zip-writer-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Buffer): StoredFile {
  const filePath = path.join(dir, name.replace(/\//g, '_'));
  writeFileSync(filePath, bytes);
  return {
    name,
    open: () => Promise.resolve(createReadStream(filePath)),
    size: bytes.length,
    crc: crc32(bytes),
  };
}

/** A file served from memory, in slices, as a bucket's response body would arrive. */
function streamed(name: string, bytes: Buffer, open?: (stream: Readable) => void): StoredFile {
  return {
    name,
    open: () => {
      const stream = Readable.from(slices(bytes, 64 * 1024));
      open?.(stream);
      return Promise.resolve(stream);
    },
    size: bytes.length,
    crc: crc32(bytes),
  };
}

function* slices(bytes: Buffer, size: number): Generator<Buffer> {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size);
}

/** Bytes of the archive up to the end of the stored data of the entry `name` (local header and data). */
const entryEnd = (offset: number, name: string, size: number) => offset + 30 + Buffer.byteLength(name) + size;

/** A destination that counts what it received; slow, like writeToBuffer's. */
function counting(): { out: Writable; received: () => number; data: () => Buffer } {
  const chunks: Buffer[] = [];
  let received = 0;
  const out = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      received += chunk.length;
      setImmediate(callback);
    },
  });
  return { out, received: () => received, data: () => Buffer.concat(chunks) };
}

/** Resolves when `stream` has been destroyed, or rejects after `ms`. */
function destroyedWithin(stream: Readable, ms: number): Promise<void> {
  if (stream.destroyed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the stream was never destroyed')), ms);
    stream.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Collects what the writer sends, through a slow consumer so backpressure is exercised. */
async function writeToBuffer(writer: ZipWriter): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const out = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      setImmediate(callback);
    },
  });
  await writer.write(out);
  return Buffer.concat(chunks);
}

describe('ZipWriter', () => {
  const modifiedAt = new Date('2026-03-04T05:06:08Z');

  it('writes a valid archive: stored files, deflated texts, correct CRCs, exactly totalBytes long', async () => {
    const big = randomBytes(3 * 1024 * 1024 + 17); // several read chunks
    const small = randomBytes(10);
    const files = [
      file('images/scene_01.png', big),
      file('images/scene_02.png', small),
      file('images/empty.png', Buffer.alloc(0)),
    ];
    const manifest = JSON.stringify([{ title: 'Scène première — 🌙' }], null, 2);
    const writer = new ZipWriter(
      files,
      [
        { name: 'scenes.json', text: manifest },
        { name: 'story.txt', text: 'Mara walked. '.repeat(1000) },
      ],
      modifiedAt,
    );

    const zip = await writeToBuffer(writer);
    expect(zip.length).toBe(writer.totalBytes());

    const entries = await readZip(zip);
    expect(entries.map((e) => [e.name, e.compressionMethod])).toEqual([
      ['images/scene_01.png', 0],
      ['images/scene_02.png', 0],
      ['images/empty.png', 0],
      ['scenes.json', 8],
      ['story.txt', 8],
    ]);
    expect(entries[0].data.equals(big)).toBe(true);
    expect(entries[1].data.equals(small)).toBe(true);
    expect(entries[2].data.length).toBe(0);
    expect(entries[3].data.toString('utf8')).toBe(manifest);
    expect(entries[4].data.length).toBe('Mara walked. '.length * 1000);
    for (const entry of entries) {
      expect(entry.crc32).toBe(crc32(entry.data));
      expect(entry.mode).toBe(0o644);
    }
    // Deflate did compress the repetitive story.
    expect(zip.length).toBeLessThan(big.length + small.length + 5000);

    // Every local header is complete (no data descriptor), so streaming readers can use it as it is.
    const first = zip.subarray(0, 30);
    expect(first.readUInt32LE(0)).toBe(0x04034b50);
    expect(first.readUInt16LE(6) & 0x0008).toBe(0);
    expect(first.readUInt16LE(6) & 0x0800).toBe(0x0800);
    expect(first.readUInt32LE(14)).toBe(crc32(big));
    expect(first.readUInt32LE(18)).toBe(big.length);
    expect(first.readUInt32LE(22)).toBe(big.length);
  });

  it('fails when a file no longer matches its recorded CRC', async () => {
    const changed = { ...file('images/changed.png', randomBytes(1000)), crc: 12345 };
    await expect(writeToBuffer(new ZipWriter([changed], [], modifiedAt))).rejects.toThrow(/changed while/);
  });

  it('writes the same bytes twice (fixed timestamp, no randomness)', async () => {
    const files = [file('images/a.png', randomBytes(1000))];
    const make = () => new ZipWriter(files, [{ name: 'story.txt', text: 'x' }], modifiedAt);
    expect((await writeToBuffer(make())).equals(await writeToBuffer(make()))).toBe(true);
  });

  it('fails, without sending more than announced, when a file grew after stat', async () => {
    const grown = { ...file('images/grown.png', randomBytes(3 * 1024 * 1024)), size: 1000 };
    const writer = new ZipWriter([grown], [], modifiedAt);
    const chunks: Buffer[] = [];
    const out = new PassThrough();
    out.on('data', (chunk: Buffer) => chunks.push(chunk));
    await expect(writer.write(out)).rejects.toThrow(/changed size/);
    expect(Buffer.concat(chunks).length).toBeLessThan(writer.totalBytes());
  });

  it('fails when a file shrank after stat', async () => {
    const shrunk = { ...file('images/shrunk.png', randomBytes(100)), size: 500 };
    await expect(writeToBuffer(new ZipWriter([shrunk], [], modifiedAt))).rejects.toThrow(/changed size/);
  });

  it('fails when a file disappeared', async () => {
    const gone: StoredFile = {
      name: 'images/gone.png',
      open: () => Promise.resolve(createReadStream(path.join(dir, 'nope.png'))),
      size: 10,
      crc: 0,
    };
    await expect(writeToBuffer(new ZipWriter([gone], [], modifiedAt))).rejects.toThrow(/ENOENT/);
  });

  it('fails when a file cannot be opened', async () => {
    const missing: StoredFile = {
      name: 'images/missing.png',
      open: () => Promise.reject(new ImageNotFoundError('k/scene_01.png')),
      size: 10,
      crc: 0,
    };
    await expect(writeToBuffer(new ZipWriter([missing], [], modifiedAt))).rejects.toThrow(ImageNotFoundError);
  });

  it('opens the next file while the current one is still being sent, and no more than one ahead', async () => {
    const first = randomBytes(1024 * 1024);
    const second = randomBytes(200 * 1024);
    const third = randomBytes(1000);
    const names = ['images/scene_01.png', 'images/scene_02.png', 'images/scene_03.png'];
    const { out, received, data } = counting();
    const sentWhenOpened: number[] = [];
    const files = [first, second, third].map((bytes, position) =>
      streamed(names[position], bytes, () => sentWhenOpened.push(received())),
    );
    const writer = new ZipWriter(files, [], modifiedAt);

    await writer.write(out);

    const firstEnd = entryEnd(0, names[0], first.length);
    const secondEnd = entryEnd(firstEnd, names[1], second.length);
    expect(sentWhenOpened).toHaveLength(3);
    // The second file was opened before the first one had been sent...
    expect(sentWhenOpened[1]).toBeLessThan(firstEnd);
    // ...and the third only once the second was being sent, not all at once.
    expect(sentWhenOpened[2]).toBeGreaterThanOrEqual(firstEnd);
    expect(sentWhenOpened[2]).toBeLessThan(secondEnd);

    const entries = await readZip(data());
    expect(entries.map((e) => e.name)).toEqual(names);
    expect(entries[0].data.equals(first)).toBe(true);
    expect(entries[1].data.equals(second)).toBe(true);
    expect(entries[2].data.equals(third)).toBe(true);
  });

  it.each([
    ['at once', 0],
    ['after the export failed', 50],
  ])(
    'fails when a file cannot be opened mid-archive, and closes the file opened ahead of it (opening %s)',
    async (_label, delayMs) => {
      const ahead = Readable.from(slices(randomBytes(1000), 100));
      let aheadOpened = false;
      const files: StoredFile[] = [
        file('images/scene_01.png', randomBytes(100 * 1024)),
        {
          name: 'images/scene_02.png',
          open: () => Promise.reject(new ImageNotFoundError('k/scene_02.png')),
          size: 10,
          crc: 0,
        },
        {
          name: 'images/scene_03.png',
          open: async () => {
            aheadOpened = true;
            await new Promise((resolve) => setTimeout(resolve, delayMs));
            return ahead;
          },
          size: 1000,
          crc: 0,
        },
      ];
      const writer = new ZipWriter(files, [], modifiedAt);
      const { out, received } = counting();

      await expect(writer.write(out)).rejects.toThrow(ImageNotFoundError);
      expect(received()).toBeLessThan(writer.totalBytes());
      expect(aheadOpened).toBe(true);
      await destroyedWithin(ahead, 1000);
    },
  );

  it.each([
    ['fewer bytes', [400], 1000],
    ['more bytes', [700, 700], 1000],
    ['more bytes in one chunk', [3000], 1000],
  ])('fails when a stream yields %s than its size', async (_label, chunkSizes, size) => {
    const bytes = randomBytes(chunkSizes.reduce((sum, n) => sum + n, 0));
    const chunks = chunkSizes.map((n, i) =>
      bytes.subarray(
        chunkSizes.slice(0, i).reduce((sum, m) => sum + m, 0),
        chunkSizes.slice(0, i + 1).reduce((sum, m) => sum + m, 0),
      ),
    );
    const next = Readable.from(slices(randomBytes(1000), 100));
    const files: StoredFile[] = [
      {
        name: 'images/scene_01.png',
        open: () => Promise.resolve(Readable.from(chunks)),
        size,
        crc: crc32(bytes),
      },
      { name: 'images/scene_02.png', open: () => Promise.resolve(next), size: 1000, crc: 0 },
    ];
    const writer = new ZipWriter(files, [], modifiedAt);
    const { out, received } = counting();

    await expect(writer.write(out)).rejects.toThrow(/images\/scene_01\.png changed size/);
    // Never more than announced for the entry: the response's Content-Length stays true.
    expect(received()).toBeLessThanOrEqual(entryEnd(0, 'images/scene_01.png', size));
    // The file opened ahead is not left open.
    await destroyedWithin(next, 1000);
  });

  it('stops when the destination closes early instead of waiting for ever', async () => {
    const files = [file('images/large.png', randomBytes(4 * 1024 * 1024))];
    const out = new PassThrough({ highWaterMark: 1024 });
    let received = 0;
    out.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > 64 * 1024) out.destroy();
    });
    await expect(new ZipWriter(files, [], modifiedAt).write(out)).rejects.toThrow(/closed/);
    expect(received).toBeLessThan(4 * 1024 * 1024);
  });
});

describe('the test ZIP reader', () => {
  const image = randomBytes(1000);
  const archive = () =>
    writeToBuffer(
      new ZipWriter(
        [file('images/scene_01.png', image)],
        [{ name: 'story.txt', text: 'Mara walked.' }],
        new Date('2026-03-04T05:06:08Z'),
      ),
    );
  const LOCAL_CRC = 14;
  const CENTRAL_CRC = 16;

  it('returns entries whose CRC-32 matches their bytes', async () => {
    const entries = await readZip(await archive());
    expect(entries.map((e) => [e.name, e.crc32])).toEqual([
      ['images/scene_01.png', crc32(image)],
      ['story.txt', crc32('Mara walked.')],
    ]);
  });

  it('rejects a stored file whose bytes no longer match the recorded CRC-32', async () => {
    const zip = await archive();
    zip[30 + 'images/scene_01.png'.length + 500] ^= 0xff; // inside the stored image, sizes unchanged
    await expect(readZip(zip)).rejects.toThrow(/CRC-32 mismatch in images\/scene_01\.png/);
  });

  it('rejects a local header whose CRC-32 differs from the bytes and the central directory', async () => {
    const zip = await archive();
    zip.writeUInt32LE((zip.readUInt32LE(LOCAL_CRC) ^ 1) >>> 0, LOCAL_CRC);
    await expect(readZip(zip)).rejects.toThrow(
      `the central directory records 0x${crc32(image).toString(16).padStart(8, '0')}, the local header`,
    );
  });

  it('rejects a central directory whose CRC-32 differs from the bytes', async () => {
    const zip = await archive();
    // The end-of-central-directory record (the last 22 bytes: no comment) gives the directory's offset.
    const directory = zip.readUInt32LE(zip.length - 22 + 16);
    expect(zip.readUInt32LE(directory)).toBe(0x02014b50);
    zip.writeUInt32LE((zip.readUInt32LE(directory + CENTRAL_CRC) ^ 1) >>> 0, directory + CENTRAL_CRC);
    await expect(readZip(zip)).rejects.toThrow(/CRC-32 mismatch in images\/scene_01\.png/);
  });
});
