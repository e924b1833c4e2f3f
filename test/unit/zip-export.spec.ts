import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { AppConfig } from '../../src/config/app-config';
import { ZipExportService } from '../../src/download/zip-export.service';
import { SceneDownload, SessionRecord } from '../../src/domain/session.model';
import { session } from '../support/session-record';

let imageDir: string;
beforeAll(() => {
  imageDir = mkdtempSync(path.join(tmpdir(), 'zip-export-'));
});
afterAll(() => rmSync(imageDir, { recursive: true, force: true }));

function sessionWith(downloads: Record<number, SceneDownload>): SessionRecord {
  return session({
    id: 'session-a',
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

  beforeAll(() => {
    service = new ZipExportService({ imageDir } as AppConfig);
    mkdirSync(path.join(imageDir, 'session-a'), { recursive: true });
    for (const file of ['scene_01.png', 'scene_02.png', 'scene_03.png'])
      writeFileSync(path.join(imageDir, 'session-a', file), bytes);
  });

  it('uses the CRC recorded at download time when the file still has the recorded size', async () => {
    // A deliberately different recorded value shows which source was used.
    const images = await service.collectImages(sessionWith({ 0: done('scene_01.png', { crc32: 42 }) }));
    expect(images).toEqual([expect.objectContaining({ index: 0, size: bytes.length, crc: 42 })]);
  });

  it('computes the CRC when the record has none (older sessions) or the size no longer matches', async () => {
    const images = await service.collectImages(
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

  it('skips files that are missing on disk or have names outside the scene pattern', async () => {
    const images = await service.collectImages(
      sessionWith({ 0: done('scene_09.png', { crc32: 1 }), 1: done('../../etc/passwd', { crc32: 1 }) }),
    );
    expect(images).toEqual([]);
  });
});
