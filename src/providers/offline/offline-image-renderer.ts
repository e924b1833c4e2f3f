import sharp from 'sharp';
import { ImageRenderer, RenderedImage } from '../image-renderer';
import { SceneRenderRequest } from '../../domain/jobs';
import { MEDIA_PRESETS, MediaPreset } from '../media-presets';
import { truncate } from '../prompt-builder';
import { seededRandom } from './seeded-random';
import { ImageStorage } from '../../storage/image-storage';
import { renderKey } from '../../storage/image-keys';

/**
 * Draws a real PNG per scene without any network: a landscape composed from the prompt (shapes and
 * placement come from a PRNG seeded by the prompt and the seed, so the same input gives the same bytes),
 * in the media type's size and palette, with the scene number and title written on it.
 */
export class OfflineImageRenderer implements ImageRenderer {
  readonly name = 'offline';

  constructor(private readonly storage: ImageStorage) {}

  async render(request: SceneRenderRequest): Promise<RenderedImage> {
    const preset = MEDIA_PRESETS[request.mediaType];
    const png = await renderScenePng(request, preset);
    const key = renderKey(request.sessionId, request.sceneIndex, 'png', request.version);
    await this.storage.write(key, png, 'image/png');
    return {
      imageUrl: `/static/${key}`,
      source: { kind: 'stored', key },
      seed: request.seed,
      model: `offline-svg@${preset.width}x${preset.height}`,
    };
  }
}

export async function renderScenePng(request: SceneRenderRequest, preset: MediaPreset): Promise<Buffer> {
  const svg = composeSvg(request, preset);
  return sharp(Buffer.from(svg)).png({ compressionLevel: 6 }).toBuffer();
}

export function composeSvg(request: SceneRenderRequest, preset: MediaPreset): string {
  const { width: w, height: h, palette } = preset;
  const random = seededRandom(fnv1a(request.prompt) ^ (request.seed >>> 0));
  const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)];
  const shapes: string[] = [];

  const sunX = Math.round(w * (0.15 + random() * 0.7));
  const sunY = Math.round(h * (0.12 + random() * 0.25));
  shapes.push(
    `<circle cx="${sunX}" cy="${sunY}" r="${Math.round(h * (0.06 + random() * 0.06))}" fill="${pick(palette.accents)}" opacity="0.9"/>`,
  );

  for (let layer = 0; layer < 3; layer++) {
    const baseY = h * (0.45 + layer * 0.12);
    const points = [`0,${h}`];
    const peaks = 4 + Math.floor(random() * 5);
    for (let p = 0; p <= peaks; p++) {
      points.push(`${Math.round((p / peaks) * w)},${Math.round(baseY - random() * h * 0.18)}`);
    }
    points.push(`${w},${h}`);
    const fill = layer === 2 ? palette.ground : pick(palette.accents);
    shapes.push(`<polygon points="${points.join(' ')}" fill="${fill}" opacity="${0.55 + layer * 0.2}"/>`);
  }

  const figures = 3 + Math.floor(random() * 6);
  for (let f = 0; f < figures; f++) {
    const x = Math.round(random() * w);
    const y = Math.round(h * (0.55 + random() * 0.25));
    const size = Math.round(h * (0.03 + random() * 0.07));
    shapes.push(
      random() < 0.5
        ? `<circle cx="${x}" cy="${y}" r="${size}" fill="${pick(palette.accents)}" opacity="0.85"/>`
        : `<rect x="${x}" y="${y}" width="${size}" height="${size * 2}" rx="${Math.round(size / 3)}" fill="${pick(palette.accents)}" opacity="0.85"/>`,
    );
  }

  const banner = Math.round(h * 0.2);
  const numberSize = Math.round(banner * 0.32);
  const titleSize = Math.round(banner * 0.26);
  const label = `Scene ${request.sceneIndex + 1}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">
<defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${palette.sky}"/><stop offset="1" stop-color="${palette.ground}"/></linearGradient></defs>
<rect width="${w}" height="${h}" fill="url(#sky)"/>
${shapes.join('\n')}
<rect x="0" y="${h - banner}" width="${w}" height="${banner}" fill="#000000" opacity="0.55"/>
<text x="${Math.round(w * 0.04)}" y="${h - banner + numberSize + Math.round(banner * 0.1)}" font-family="DejaVu Sans, Arial, sans-serif" font-weight="bold" font-size="${numberSize}" fill="#ffffff">${escapeXml(label)}</text>
<text x="${Math.round(w * 0.04)}" y="${h - Math.round(banner * 0.15)}" font-family="DejaVu Sans, Arial, sans-serif" font-size="${titleSize}" fill="#ffffff">${escapeXml(truncate(request.title, Math.floor(w / (titleSize * 0.6))))}</text>
</svg>`;
}

function escapeXml(text: string): string {
  // Control characters are not allowed in XML 1.0 at all, escaped or not.
  return (
    text
      // eslint-disable-next-line no-control-regex -- matching control characters is the point
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
      .replace(/[\ud800-\udfff]/g, (c, i: number, s: string) => (isPaired(s, i) ? c : ''))
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
  );
}

function isPaired(s: string, i: number): boolean {
  const code = s.charCodeAt(i);
  if (code <= 0xdbff)
    return i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff;
  return i > 0 && s.charCodeAt(i - 1) >= 0xd800 && s.charCodeAt(i - 1) <= 0xdbff;
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
