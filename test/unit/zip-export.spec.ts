import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { crc32 } from 'node:zlib';
import { ZipExportService } from '../../src/download/zip-export.service';
import { ZipWriter } from '../../src/download/zip-writer';
import { newScene, SceneDownload, SessionRecord } from '../../src/domain/session.model';
import { downloadKey, storyboardKey } from '../../src/storage/image-keys';
import { LocalImageStorage } from '../../src/storage/local/local-image-storage';
import { session } from '../support/session-record';
import { readZip } from '../support/zip-reader';

const SESSION_A = '6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b';
const SESSION_B = 'b7e2d1c0-9f8e-4d7c-a6b5-4c3d2e1f0a9b';

let imageDir: string;
let storage: LocalImageStorage;
beforeAll(() => {
  imageDir = mkdtempSync(path.join(tmpdir(), 'zip-export-'));
  storage = new LocalImageStorage(imageDir);
});
afterAll(() => rmSync(imageDir, { recursive: true, force: true }));

function sessionWith(downloads: Record<number, SceneDownload>): SessionRecord {
  return session({
    id: SESSION_A,
    status: 'completed',
    phase: 'awaiting_approval',
    planned: true,
    finalized: true,
    approved: Object.keys(downloads).map(Number),
    download_status: 'completed',
    downloads,
  });
}

describe('ZipExportService.collectImages', () => {
  let service: ZipExportService;
  const bytes = randomBytes(5000);
  const done = (file: string, extra: Partial<SceneDownload>): SceneDownload => ({
    status: 'done',
    file,
    bytes: bytes.length,
    content_type: 'image/png',
    error: null,
    ...extra,
  });

  beforeAll(async () => {
    service = new ZipExportService(storage);
    for (const file of ['scene_01.png', 'scene_02.png', 'scene_03.png'])
      await storage.write(downloadKey(SESSION_A, file), bytes, 'image/png');
  });

  it('uses the CRC recorded at download time when the file still has the recorded size', async () => {
    // A deliberately different recorded value shows which source was used.
    const { images } = await service.collectImages(sessionWith({ 0: done('scene_01.png', { crc32: 42 }) }));
    expect(images).toEqual([
      { index: 0, file: 'scene_01.png', key: `${SESSION_A}/scene_01.png`, size: bytes.length, crc: 42 },
    ]);
  });

  it('computes the CRC when the record has none (older sessions) or the size no longer matches', async () => {
    const { images } = await service.collectImages(
      sessionWith({
        1: done('scene_02.png', {}),
        2: done('scene_03.png', { crc32: 42, bytes: 10 }),
      }),
    );
    expect(images.map((i) => [i.index, i.crc])).toEqual([
      [1, crc32(bytes)],
      [2, crc32(bytes)],
    ]);
  });

  it('skips images that are missing from the storage or have names outside the scene pattern', async () => {
    const { images } = await service.collectImages(
      sessionWith({ 0: done('scene_09.png', { crc32: 1 }), 1: done('../../etc/passwd', { crc32: 1 }) }),
    );
    expect(images).toEqual([]);
  });

  it('hands on the one listing it made: every object of the session, storyboard PDFs included', async () => {
    const pdf = storyboardKey(SESSION_A, 'ab'.repeat(32));
    await storage.write(pdf, Buffer.from('%PDF-1.3 stand-in'), 'application/pdf');
    const { stored } = await service.collectImages(sessionWith({ 0: done('scene_01.png', { crc32: 42 }) }));
    expect(stored).toEqual(
      new Map([
        [downloadKey(SESSION_A, 'scene_01.png'), bytes.length],
        [downloadKey(SESSION_A, 'scene_02.png'), bytes.length],
        [downloadKey(SESSION_A, 'scene_03.png'), bytes.length],
        [pdf, 17],
      ]),
    );
  });
});

describe('ZipExportService.archive', () => {
  let service: ZipExportService;
  // Different bytes per scene, so an image filed under the wrong scene cannot pass.
  const images = new Map([
    [0, randomBytes(3000)],
    [2, randomBytes(4000)],
  ]);
  let record: SessionRecord;

  beforeAll(async () => {
    service = new ZipExportService(storage);
    const downloads: Record<number, SceneDownload> = {};
    for (const [index, bytes] of images) {
      const file = `scene_0${index + 1}.png`;
      await storage.write(downloadKey(SESSION_B, file), bytes, 'image/png');
      downloads[index] = {
        status: 'done',
        file,
        bytes: bytes.length,
        content_type: 'image/png',
        error: null,
        crc32: crc32(bytes),
      };
    }
    record = session({
      id: SESSION_B,
      status: 'completed',
      scenes: [0, 1, 2].map((index) =>
        newScene(index, {
          title: `Scene ${index + 1}`,
          description: `Passage ${index + 1}`,
          image_prompt: `Prompt ${index + 1}`,
          status: 'done',
          source: { kind: 'remote', url: `https://im.example/${index}.png` },
        }),
      ),
      approved: [0, 2],
      download_status: 'completed',
      downloads,
      completed_at: '2026-03-04T05:06:08Z',
    });
  });

  async function zipOf(writer: ZipWriter): Promise<Buffer> {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (chunk: Buffer) => chunks.push(chunk));
    await writer.write(out);
    const zip = Buffer.concat(chunks);
    expect(zip.length).toBe(writer.totalBytes());
    return zip;
  }

  it('stores each approved image byte for byte under its scene name, with CRC-32s that match', async () => {
    const { images: exported } = await service.collectImages(record);
    const entries = await readZip(
      await zipOf(service.archive(record, 'The story.', { images: exported, cast: [] }, 'http://x')),
    );
    expect(entries.map((e) => e.name)).toEqual([
      'images/scene_01.png',
      'images/scene_03.png',
      'scenes.json',
      'story.txt',
    ]);
    expect(entries[0].data.equals(images.get(0)!)).toBe(true);
    expect(entries[1].data.equals(images.get(2)!)).toBe(true);
    expect(entries[3].data.toString('utf8')).toBe('The story.');
    const manifest = JSON.parse(entries[2].data.toString('utf8')) as Record<string, unknown>[];
    expect(manifest).toMatchObject([
      { index: 0, file: 'images/scene_01.png', title: 'Scene 1', source_url: 'https://im.example/0.png' },
      { index: 2, file: 'images/scene_03.png', title: 'Scene 3', source_url: 'https://im.example/2.png' },
    ]);
  });

  it('adds extra entries: stored files after the images, texts deflated after story.txt', async () => {
    const pdf = Buffer.from('%PDF-1.3 stand-in for a storyboard');
    const key = storyboardKey(SESSION_B, 'cd'.repeat(32));
    const written = await storage.write(key, pdf, 'application/pdf');
    const { images: exported } = await service.collectImages(record);
    const extra = {
      files: [
        { name: 'storyboard.pdf', open: () => storage.read(key), size: written.bytes, crc: written.crc32 },
      ],
      texts: [{ name: 'storyboard.html', text: '<!doctype html><p>Storyboard</p>' }],
    };
    const entries = await readZip(
      await zipOf(service.archive(record, 'The story.', { images: exported, cast: [] }, 'http://x', extra)),
    );
    expect(entries.map((e) => [e.name, e.compressionMethod])).toEqual([
      ['images/scene_01.png', 0],
      ['images/scene_03.png', 0],
      ['storyboard.pdf', 0],
      ['scenes.json', 8],
      ['story.txt', 8],
      ['storyboard.html', 8],
    ]);
    expect(entries[2].data.equals(pdf)).toBe(true);
    expect(entries[5].data.toString('utf8')).toBe('<!doctype html><p>Storyboard</p>');
  });
});
