import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { OfflineImageRenderer } from '../../src/providers/offline/offline-image-renderer';
import { renderKey } from '../../src/storage/image-keys';
import { LocalImageStorage } from '../../src/storage/local/local-image-storage';

describe('OfflineImageRenderer', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'render-'));
  const storage = new LocalImageStorage(dir);
  const renderer = new OfflineImageRenderer(storage);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const sessionId = '3f6c2a4e-8b1d-4e5f-a7c9-0d2e4f6a8b1c';
  const request = {
    sessionId,
    sceneIndex: 2,
    title: 'The <tower> & “dusk”',
    prompt: 'a tower at dusk',
    negativePrompt: null,
    mediaType: 'cinematic' as const,
    seed: 42,
  };
  const key = `${sessionId}/renders/scene_03.png`;

  it('stores a PNG of the media type size under its render key, served under /static', async () => {
    const image = await renderer.render(request);
    expect(renderKey(sessionId, 2, 'png')).toBe(key);
    expect(image.imageUrl).toBe(`/static/${key}`);
    expect(image.source).toEqual({ kind: 'stored', key });
    expect(image.seed).toBe(42);
    expect(await storage.info(key)).toMatchObject({ contentType: 'image/png' });
    const meta = await sharp(readFileSync(path.join(dir, sessionId, 'renders', 'scene_03.png'))).metadata();
    expect(meta).toMatchObject({ format: 'png', width: 1024, height: 576 });
  });

  it('gives the same bytes for the same prompt and seed, different bytes otherwise', async () => {
    const file = path.join(dir, sessionId, 'renders', 'scene_03.png');
    await renderer.render(request);
    const first = readFileSync(file);
    await renderer.render(request);
    expect(readFileSync(file).equals(first)).toBe(true);
    await renderer.render({ ...request, seed: 43 });
    expect(readFileSync(file).equals(first)).toBe(false);
  });

  it('sizes cartoon and realistic scenes by their presets', async () => {
    for (const [mediaType, size] of [
      ['cartoon', [1024, 1024]],
      ['realistic', [1216, 832]],
    ] as const) {
      const image = await renderer.render({ ...request, mediaType, sceneIndex: 0 });
      expect(image.source).toEqual({ kind: 'stored', key: `${sessionId}/renders/scene_01.png` });
      const source = image.source as { key: string };
      const chunks: Buffer[] = [];
      for await (const chunk of await storage.read(source.key)) chunks.push(chunk as Buffer);
      const meta = await sharp(Buffer.concat(chunks)).metadata();
      expect([meta.width, meta.height]).toEqual(size);
    }
  });
});
