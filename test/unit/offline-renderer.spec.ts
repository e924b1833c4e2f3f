import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { OfflineImageRenderer } from '../../src/providers/offline/offline-image-renderer';

describe('OfflineImageRenderer', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'render-'));
  const renderer = new OfflineImageRenderer(dir);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const request = {
    sessionId: 's1',
    sceneIndex: 2,
    title: 'The <tower> & “dusk”',
    prompt: 'a tower at dusk',
    negativePrompt: null,
    mediaType: 'cinematic' as const,
    seed: 42,
  };

  it('writes a PNG of the media type size, served under /static', async () => {
    const image = await renderer.render(request);
    expect(image.imageUrl).toBe('/static/s1/renders/scene_03.png');
    expect(image.seed).toBe(42);
    const meta = await sharp(readFileSync(path.join(dir, 's1', 'renders', 'scene_03.png'))).metadata();
    expect(meta).toMatchObject({ format: 'png', width: 1024, height: 576 });
  });

  it('gives the same bytes for the same prompt and seed, different bytes otherwise', async () => {
    const file = path.join(dir, 's1', 'renders', 'scene_03.png');
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
      const source = image.source as { path: string };
      const meta = await sharp(source.path).metadata();
      expect([meta.width, meta.height]).toEqual(size);
    }
  });
});
