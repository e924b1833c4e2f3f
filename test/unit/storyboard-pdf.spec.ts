import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { Storyboard, StoryboardScene } from '../../src/download/storyboard/storyboard-content';
import { ImageReader, storyboardPdf } from '../../src/download/storyboard/storyboard-pdf';
import { ZipImage } from '../../src/download/zip-export.service';
import { pdfFonts, pdfInfo, pdfPageTexts, pdfText } from '../support/pdf-tools';

const SESSION = '6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b';

function scene(
  number: number,
  title: string,
  description: string,
  file = `scene_0${number}.png`,
): StoryboardScene {
  const image: ZipImage = { index: number - 1, file, key: `${SESSION}/${file}`, size: 1, crc: number };
  return { sceneNumber: number, title, description, version: 1, image };
}

function board(scenes: StoryboardScene[], overrides: Partial<Storyboard> = {}): Storyboard {
  return {
    heading: 'Mara found the lantern in her grandmother’s attic.',
    mediaType: 'cartoon',
    createdAt: new Date('2026-11-26T01:11:38.642Z'),
    completedAt: new Date('2026-11-26T01:11:42.310Z'),
    date: '2026-11-26',
    scenes,
    ...overrides,
  };
}

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

/** Images by file name, in the formats renderers deliver: PNG with alpha, JPEG, WebP. */
const images = new Map<string, Promise<Buffer>>();
const imageOf = (file: string, make: () => Promise<Buffer>) => {
  if (!images.has(file)) images.set(file, make());
  return images.get(file)!;
};
const pngWithAlpha = () =>
  sharp({
    create: { width: 640, height: 480, channels: 4, background: { r: 200, g: 90, b: 40, alpha: 0.5 } },
  })
    .png()
    .toBuffer();
const jpeg = () =>
  sharp({ create: { width: 2400, height: 1200, channels: 3, background: { r: 20, g: 90, b: 160 } } })
    .jpeg()
    .toBuffer();
const webp = () =>
  sharp({ create: { width: 512, height: 768, channels: 3, background: { r: 90, g: 160, b: 40 } } })
    .webp()
    .toBuffer();

const reader: ImageReader = (image) => {
  if (image.file.endsWith('.jpg')) return imageOf(image.file, jpeg);
  if (image.file.endsWith('.webp')) return imageOf(image.file, webp);
  return imageOf(image.file, pngWithAlpha);
};

const SCENES = [
  scene(1, 'The lantern', 'Mara found a glowing lantern in the attic.'),
  scene(2, 'Мара у реки', 'Мара и Том шли вдоль реки. Ο φάρος έλαμπε, café crème.', 'scene_02.jpg'),
  scene(3, 'The tower', 'At dusk they reached the tower.\nThe stairs were long.', 'scene_03.webp'),
];

describe('storyboardPdf', () => {
  it('shows the title page, then each scene with its number, title and description as extractable text', async () => {
    const pdf = await collect(storyboardPdf(board(SCENES), reader));
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    const pages = await pdfPageTexts(pdf);
    expect(pages).toHaveLength(1 + SCENES.length);
    expect(pages[0]).toContain('Mara found the lantern in her grandmother’s attic.');
    expect(pages[0]).toContain('Media type: cartoon');
    expect(pages[0]).toContain('Scenes: 3');
    expect(pages[0]).toContain('Date: 2026-11-26');
    expect(pages[1]).toBe('Scene 1 The lantern Mara found a glowing lantern in the attic.');
    // Cyrillic, Greek and accents survive extraction: the embedded font has a ToUnicode map.
    expect(pages[2]).toBe('Scene 2 Мара у реки Мара и Том шли вдоль реки. Ο φάρος έλαμπε, café crème.');
    expect(pages[3]).toBe('Scene 3 The tower At dusk they reached the tower. The stairs were long.');
    expect((await pdfInfo(pdf)).Pages).toBe('4');
  });

  it('embeds DejaVu Sans and uses no other font', async () => {
    const fonts = await pdfFonts(await collect(storyboardPdf(board(SCENES), reader)));
    expect(fonts.length).toBeGreaterThan(0);
    for (const font of fonts) {
      expect(font.embedded).toBe(true);
      expect(font.name).toMatch(/^[A-Z]{6}\+DejaVuSans(-Bold)?$/);
    }
  });

  it('gives the same bytes for the same storyboard, with the dates of the session, not of the clock', async () => {
    const first = await collect(storyboardPdf(board(SCENES), reader));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = await collect(storyboardPdf(board(SCENES), reader));
    expect(second.equals(first)).toBe(true);
    const info = await pdfInfo(first);
    expect(info.CreationDate).toBe('2026-11-26T01:11:38Z');
    expect(info.ModDate).toBe('2026-11-26T01:11:42Z');
    // The file /ID follows the dates: another session's dates give another file.
    const later = await collect(
      storyboardPdf(board(SCENES, { completedAt: new Date('2026-11-27T00:00:00Z') }), reader),
    );
    expect(later.equals(first)).toBe(false);
  });

  it('scales each image into the page, re-encoded as JPEG, and keeps the file small', async () => {
    const pdf = await collect(storyboardPdf(board(SCENES), reader));
    // Three images as JPEG XObjects (DCTDecode), none left as a PNG or WebP.
    expect(pdf.toString('latin1').match(/\/Filter \/DCTDecode/g)).toHaveLength(3);
    expect(pdf.length).toBeLessThan(400_000);
  });

  it('still builds when an image cannot be decoded, with a placeholder in its place', async () => {
    const broken: ImageReader = (image) =>
      image.file === 'scene_02.jpg' ? Promise.resolve(randomBytes(5000)) : reader(image);
    const pdf = await collect(storyboardPdf(board(SCENES), broken));
    const pages = await pdfPageTexts(pdf);
    expect(pages).toHaveLength(4);
    expect(pages[2]).toContain('The image scene_02.jpg could not be shown.');
    expect(pages[2]).toContain('Мара у реки');
    expect(pdf.toString('latin1').match(/\/Filter \/DCTDecode/g)).toHaveLength(2);
  });

  it('fails, for its reader, when an image cannot be read', async () => {
    const failing: ImageReader = (image) =>
      image.file === 'scene_03.webp' ? Promise.reject(new Error('bucket unreachable')) : reader(image);
    await expect(collect(storyboardPdf(board(SCENES), failing))).rejects.toThrow('bucket unreachable');
  });

  it('reads the next image only once the reader has taken the previous pages', async () => {
    const noise = await sharp(randomBytes(900 * 900 * 3), { raw: { width: 900, height: 900, channels: 3 } })
      .png({ compressionLevel: 0 })
      .toBuffer();
    const many = Array.from({ length: 20 }, (_, i) => scene(i + 1, `Scene ${i + 1}`, 'A passage.'));
    let reads = 0;
    const counting: ImageReader = () => {
      reads++;
      return Promise.resolve(noise);
    };
    const pdf = storyboardPdf(board(many), counting);
    const first = await pdf.next();
    expect(first.done).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Not all 20: the pages wait for their output to be taken (a page or two ahead at most).
    expect(reads).toBeLessThanOrEqual(3);
    let bytes = first.value!.length;
    for await (const chunk of pdf) bytes += chunk.length;
    expect(reads).toBe(20);
    expect(bytes).toBeGreaterThan(20 * 100_000);
  });

  it('lets a long description continue on the next page instead of losing it', async () => {
    const long = Array.from({ length: 400 }, (_, i) => `Sentence ${i + 1} of a long passage.`).join(' ');
    const pdf = await collect(storyboardPdf(board([scene(1, 'Long', long)]), reader));
    expect(Number((await pdfInfo(pdf)).Pages)).toBeGreaterThan(2);
    expect(await pdfText(pdf)).toContain('Sentence 400 of a long passage.');
  });
});
