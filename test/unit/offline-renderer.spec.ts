import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { PortraitReference, PortraitRenderRequest, SceneRenderRequest } from '../../src/domain/jobs';
import { MEDIA_PRESETS } from '../../src/providers/media-presets';
import { characterColour, channels, relativeLuminance } from '../../src/providers/offline/character-colour';
import { composeSvg, OfflineImageRenderer } from '../../src/providers/offline/offline-image-renderer';
import { portraitMarkPosition } from '../../src/providers/offline/portrait-svg';
import { referenceMarkPosition } from '../../src/providers/offline/reference-marks';
import { portraitKey, renderKey } from '../../src/storage/image-keys';
import { ImageStorage } from '../../src/storage/image-storage';
import { LocalImageStorage } from '../../src/storage/local/local-image-storage';

async function readStored(storage: ImageStorage, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await storage.read(key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface RawImage {
  width: number;
  height: number;
  /** `#rrggbb` of the pixel at (x, y). */
  at(x: number, y: number): string;
  /** How many pixels are exactly `hex`. */
  count(hex: string): number;
}

async function raw(png: Buffer): Promise<RawImage> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const hexAt = (offset: number) =>
    `#${[data[offset], data[offset + 1], data[offset + 2]].map((c) => c.toString(16).padStart(2, '0')).join('')}`;
  return {
    width: info.width,
    height: info.height,
    at: (x, y) => hexAt((y * info.width + x) * info.channels),
    count: (hex) => {
      const [r, g, b] = channels(hex);
      let n = 0;
      for (let offset = 0; offset < data.length; offset += info.channels) {
        if (data[offset] === r && data[offset + 1] === g && data[offset + 2] === b) n++;
      }
      return n;
    },
  };
}

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

  it('draws the same image as before references existed when a scene has none', () => {
    // sha256 of the SVG the renderer drew for these requests before references were added: a scene without
    // references must keep its exact image (the SVG is pure text; its PNG bytes follow from it).
    const before = {
      cinematic: '7994c08583cc3c97e3e108ae74aa816520e49231cf9c0355949f8b7fcb31fe82',
      cartoon: '6b76e6886381d028fbcb490d899a115c63569da0f804a2a4f6e4d2b703a4fbea',
      realistic: '357827cd381b61b685451ef520e8fcfb515c8b1ce1fd384a142c47c2138b3c47',
    };
    for (const mediaType of ['cinematic', 'cartoon', 'realistic'] as const) {
      for (const references of [undefined, []]) {
        const svg = composeSvg({ ...request, mediaType, references }, MEDIA_PRESETS[mediaType]);
        expect(createHash('sha256').update(svg).digest('hex')).toBe(before[mediaType]);
      }
    }
  });

  it('says it was rendered from no references, and how to take it back as one', async () => {
    const image = await renderer.render(request);
    expect(image).toMatchObject({ reference: key, referenceMode: null });
  });
});

describe('OfflineImageRenderer portraits', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'portrait-'));
  const storage = new LocalImageStorage(dir);
  const renderer = new OfflineImageRenderer(storage);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const sessionId = '3f6c2a4e-8b1d-4e5f-a7c9-0d2e4f6a8b1c';
  const portrait = (overrides: Partial<PortraitRenderRequest> = {}): PortraitRenderRequest => ({
    sessionId,
    castIndex: 1,
    name: 'Mara',
    description: 'a girl of about ten, slight build, red braids, green wool coat; palette green and mustard',
    prompt: 'Character reference sheet: Mara',
    negativePrompt: null,
    mediaType: 'cinematic',
    seed: 42,
    ...overrides,
  });

  it('stores a standing PNG under the cast key and is taken back as a reference by that key', async () => {
    const key = portraitKey(sessionId, 1, 'png');
    expect(key).toBe(`${sessionId}/renders/cast_02.png`);
    const image = await renderer.renderPortrait(portrait());
    expect(image).toEqual({
      imageUrl: `/static/${key}`,
      source: { kind: 'stored', key },
      reference: key,
      seed: 42,
      model: 'offline-svg@576x1024',
    });
    expect(await storage.info(key)).toMatchObject({ contentType: 'image/png' });
    const versioned = await renderer.renderPortrait(portrait({ version: 3 }));
    expect(versioned.reference).toBe(`${sessionId}/renders/cast_02_v3.png`);
  });

  it('stands in portrait orientation in every media type', async () => {
    for (const [mediaType, size] of [
      ['cinematic', [576, 1024]],
      ['cartoon', [768, 1024]],
      ['realistic', [832, 1216]],
    ] as const) {
      const image = await renderer.renderPortrait(portrait({ mediaType }));
      const meta = await sharp(await readStored(storage, image.reference!)).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', ...size]);
      expect(image.model).toBe(`offline-svg@${size[0]}x${size[1]}`);
    }
  });

  it('gives the same bytes for the same character, seed and description', async () => {
    const first = await readStored(storage, (await renderer.renderPortrait(portrait())).reference!);
    const again = await readStored(storage, (await renderer.renderPortrait(portrait())).reference!);
    expect(again.equals(first)).toBe(true);
    for (const change of [
      { seed: 43 },
      { description: 'an old sailor in a yellow oilskin' },
      { name: 'Theo' },
    ]) {
      const other = await readStored(storage, (await renderer.renderPortrait(portrait(change))).reference!);
      expect(other.equals(first)).toBe(false);
    }
  });

  it("dresses the figure in the character's colour: a point of its torso, and a good part of the image", async () => {
    for (const [name, seed] of [
      ['Mara', 42],
      ['Theo', 42],
      ['Mara', 7],
      ['Ana', 0],
    ] as const) {
      for (const mediaType of ['cinematic', 'cartoon', 'realistic'] as const) {
        const image = await renderer.renderPortrait(portrait({ name, seed, mediaType }));
        const pixels = await raw(await readStored(storage, image.reference!));
        const { x, y } = portraitMarkPosition(pixels.width, pixels.height);
        expect(pixels.at(x, y)).toBe(characterColour(name, seed));
        expect(pixels.count(characterColour(name, seed)) / (pixels.width * pixels.height)).toBeGreaterThan(
          0.05,
        );
      }
    }
  });
});

describe('OfflineImageRenderer scenes rendered from portraits', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'references-'));
  const storage = new LocalImageStorage(dir);
  const renderer = new OfflineImageRenderer(storage);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const sessionId = '3f6c2a4e-8b1d-4e5f-a7c9-0d2e4f6a8b1c';
  const names = ['Mara', 'Theo', 'Ana', 'Bartholomew', 'Zoë'];

  /** Renders each character's portrait; returns the references a scene job would carry, and their colours. */
  async function cast(mediaType: SceneRenderRequest['mediaType'], seed: number) {
    const references: PortraitReference[] = [];
    const colours: string[] = [];
    for (const [castIndex, name] of names.entries()) {
      const image = await renderer.renderPortrait({
        sessionId,
        castIndex,
        name,
        description: `${name}, drawn plainly`,
        prompt: name,
        negativePrompt: null,
        mediaType,
        seed,
      });
      references.push({ name, image: image.reference!, seed: image.seed });
      const pixels = await raw(await readStored(storage, image.reference!));
      const { x, y } = portraitMarkPosition(pixels.width, pixels.height);
      colours.push(pixels.at(x, y));
    }
    return { references, colours };
  }

  const scene = (overrides: Partial<SceneRenderRequest>): SceneRenderRequest => ({
    sessionId,
    sceneIndex: 0,
    title: 'At the lighthouse',
    prompt: 'two friends row out to the lighthouse at dawn',
    negativePrompt: null,
    mediaType: 'cinematic',
    seed: 42,
    ...overrides,
  });

  it.each(['cinematic', 'cartoon', 'realistic'] as const)(
    'marks each referenced character, in order, in the colour of its portrait (%s)',
    async (mediaType) => {
      const { references, colours } = await cast(mediaType, 42);
      // Any subset, in any order: the scene's own cast. Five references take a second row of marks.
      for (const order of [[0], [2, 0], [4, 3, 2, 1, 0]]) {
        const image = await renderer.render(
          scene({ mediaType, references: order.map((i) => references[i]) }),
        );
        expect(image).toMatchObject({
          referenceMode: 'offline',
          reference: `${sessionId}/renders/scene_01.png`,
        });
        const pixels = await raw(await readStored(storage, image.reference!));
        order.forEach((castIndex, slot) => {
          const { x, y } = referenceMarkPosition(slot, pixels.width, pixels.height);
          expect(pixels.at(x, y)).toBe(colours[castIndex]);
        });
      }
    },
  );

  it('changes the mark with the portrait: a portrait rendered again with a new seed has a new colour', async () => {
    const before = await cast('cinematic', 42);
    const after = await cast('cinematic', 4242);
    expect(after.colours[0]).not.toBe(before.colours[0]);
    const image = await renderer.render(scene({ references: [after.references[0]] }));
    const pixels = await raw(await readStored(storage, image.reference!));
    const { x, y } = referenceMarkPosition(0, pixels.width, pixels.height);
    expect(pixels.at(x, y)).toBe(after.colours[0]);
  });

  it('gives the same bytes for the same scene and references', async () => {
    const { references } = await cast('cartoon', 42);
    const request = scene({ mediaType: 'cartoon', references: references.slice(0, 2) });
    const first = await readStored(storage, (await renderer.render(request)).reference!);
    const again = await readStored(storage, (await renderer.render(request)).reference!);
    expect(again.equals(first)).toBe(true);
    const plain = await readStored(
      storage,
      (await renderer.render({ ...request, references: [] })).reference!,
    );
    expect(plain.equals(first)).toBe(false);
  });
});

describe('characterColour', () => {
  const names = Array.from({ length: 60 }, (_, i) => `Character${i}`);

  it('is a pure function of the name and the seed', () => {
    expect(characterColour('Mara', 42)).toBe(characterColour('Mara', 42));
    expect(characterColour('Mara', 42)).toMatch(/^#[0-9a-f]{6}$/);
    expect(characterColour('Mara', 43)).not.toBe(characterColour('Mara', 42));
    expect(characterColour('Theo', 42)).not.toBe(characterColour('Mara', 42));
  });

  it('spreads over the whole colour wheel', () => {
    const sextants = new Set(names.map((name) => hueSextant(characterColour(name, 42))));
    expect(sextants.size).toBe(6);
    expect(new Set(names.map((name) => characterColour(name, 42))).size).toBe(names.length);
  });

  it("stays readable: saturated, and at least 3:1 against the white of the marks' badges", () => {
    for (const name of names) {
      const colour = characterColour(name, 7);
      const [r, g, b] = channels(colour);
      expect(Math.max(r, g, b) - Math.min(r, g, b)).toBeGreaterThan(80);
      expect(relativeLuminance(colour)).toBeGreaterThan(0.04);
      expect(1.05 / (relativeLuminance(colour) + 0.05)).toBeGreaterThanOrEqual(3);
    }
  });
});

function hueSextant(hex: string): number {
  const [r, g, b] = channels(hex);
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const d = max - min;
  const hue = max === r ? ((g - b) / d + 6) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
  return Math.floor(hue);
}
