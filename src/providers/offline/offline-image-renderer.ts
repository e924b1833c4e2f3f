import sharp from 'sharp';
import { ImageRenderer, RenderedImage } from '../image-renderer';
import { PortraitRenderRequest, SceneRenderRequest } from '../../domain/jobs';
import { MEDIA_PRESETS, MediaPreset } from '../media-presets';
import { truncate } from '../prompt-builder';
import { hashText, seededRandom } from './seeded-random';
import { ImageStorage } from '../../storage/image-storage';
import { portraitKey, renderKey } from '../../storage/image-keys';
import { composePortraitSvg, portraitSize } from './portrait-svg';
import { referenceMarksSvg } from './reference-marks';
import { escapeXml } from './svg-text';

/**
 * Draws real PNGs without any network. A scene is a landscape composed from the prompt (shapes and
 * placement come from a PRNG seeded by the prompt and the seed, so the same input gives the same bytes), in
 * the media type's size and palette, with the scene number and title written on it, and a mark per
 * character it was rendered from. A portrait is a standing figure in the character's colour; each mark
 * repeats that colour, which is how consistency shows (and is tested) without any keys.
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
      reference: key,
      referenceMode: request.references?.length ? 'offline' : null,
    };
  }

  async renderPortrait(request: PortraitRenderRequest): Promise<RenderedImage> {
    const preset = MEDIA_PRESETS[request.mediaType];
    const png = await svgToPng(composePortraitSvg(request, preset));
    const key = portraitKey(request.sessionId, request.castIndex, 'png', request.version);
    await this.storage.write(key, png, 'image/png');
    const { width, height } = portraitSize(preset);
    return {
      imageUrl: `/static/${key}`,
      source: { kind: 'stored', key },
      seed: request.seed,
      model: `offline-svg@${width}x${height}`,
      reference: key,
    };
  }
}

export async function renderScenePng(request: SceneRenderRequest, preset: MediaPreset): Promise<Buffer> {
  return svgToPng(composeSvg(request, preset));
}

function svgToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg)).png({ compressionLevel: 6 }).toBuffer();
}

export function composeSvg(request: SceneRenderRequest, preset: MediaPreset): string {
  const { width: w, height: h, palette } = preset;
  const random = seededRandom(hashText(request.prompt) ^ (request.seed >>> 0));
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
  // Without references the SVG is the same string as before references existed: the same bytes.
  const marks = request.references?.length ? `${referenceMarksSvg(request.references, w, h)}\n` : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">
<defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${palette.sky}"/><stop offset="1" stop-color="${palette.ground}"/></linearGradient></defs>
<rect width="${w}" height="${h}" fill="url(#sky)"/>
${shapes.join('\n')}
<rect x="0" y="${h - banner}" width="${w}" height="${banner}" fill="#000000" opacity="0.55"/>
<text x="${Math.round(w * 0.04)}" y="${h - banner + numberSize + Math.round(banner * 0.1)}" font-family="DejaVu Sans, Arial, sans-serif" font-weight="bold" font-size="${numberSize}" fill="#ffffff">${escapeXml(label)}</text>
<text x="${Math.round(w * 0.04)}" y="${h - Math.round(banner * 0.15)}" font-family="DejaVu Sans, Arial, sans-serif" font-size="${titleSize}" fill="#ffffff">${escapeXml(truncate(request.title, Math.floor(w / (titleSize * 0.6))))}</text>
${marks}</svg>`;
}
