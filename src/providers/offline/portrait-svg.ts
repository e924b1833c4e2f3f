import { PortraitRenderRequest } from '../../domain/jobs';
import { MediaPreset } from '../media-presets';
import { characterColour, shade } from './character-colour';
import { characterLook } from './character-look';
import { hashText } from './seeded-random';
import { escapeXml, fittedText, FONT_FAMILY, wrapText } from './svg-text';

export interface PixelPosition {
  x: number;
  y: number;
}

/**
 * A portrait stands: as tall as the media type's longer side, at most 3:4 wide, in multiples of 64 like
 * every size Runware takes (cinematic 576×1024, cartoon 768×1024, realistic 832×1216).
 */
export function portraitSize(preset: MediaPreset): { width: number; height: number } {
  const height = Math.max(preset.width, preset.height);
  const width = Math.min(preset.width, preset.height, Math.round((height * 0.75) / 64) * 64);
  return { width, height };
}

/** Feet of the figure, and top of the name band, in hundredths of the portrait's height. */
const FEET = 80;
const BAND_TOP = 83;

/**
 * A point of a portrait `width`×`height` that is always inside the figure's torso, whatever the
 * character's height and build: it is painted in exactly `characterColour(name, seed)`.
 */
export function portraitMarkPosition(width: number, height: number): PixelPosition {
  return { x: Math.round(width / 2), y: Math.round(height * 0.45) };
}

/**
 * A neutral character sheet: one full figure standing on the media type's background, dressed in the
 * character's colour, with the name and the description written under it. Its height, build and hair come
 * from the name (the offline planner's look for it), its colour from the name and the seed.
 */
export function composePortraitSvg(request: PortraitRenderRequest, preset: MediaPreset): string {
  const { width: w, height: h } = portraitSize(preset);
  const { palette } = preset;
  const u = h / 100;
  const colour = characterColour(request.name, request.seed);
  const nameSize = Math.round(5 * u);
  const lineSize = Math.round(2.4 * u);
  const left = Math.round(w * 0.05);
  const lines = wrapText(request.description.replace(/\s+/g, ' ').trim(), w - 2 * left, lineSize, 3);
  const text = (y: number, size: number, content: string, bold = false) =>
    `<text x="${left}" y="${Math.round(y * u)}" font-family="${FONT_FAMILY}"${bold ? ' font-weight="bold"' : ''} font-size="${size}" fill="#ffffff">${content}</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">
<defs><linearGradient id="backdrop" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${palette.sky}"/><stop offset="1" stop-color="${palette.ground}"/></linearGradient></defs>
<rect width="${w}" height="${h}" fill="url(#backdrop)"/>
<rect x="0" y="${r(FEET * u)}" width="${w}" height="${r((BAND_TOP - FEET) * u)}" fill="${palette.ground}" opacity="0.6"/>
${figure(request.name, colour, w, u).join('\n')}
<rect x="0" y="${r(BAND_TOP * u)}" width="${w}" height="${r(h - BAND_TOP * u)}" fill="#000000" opacity="0.55"/>
${text(89.5, nameSize, fittedText(request.name, w - 2 * left, nameSize), true)}
${lines.map((line, i) => text(93 + i * 2.9, lineSize, escapeXml(line))).join('\n')}
</svg>`;
}

/** Skin tones to pick from by the name; the figure is a sketch, not a likeness. */
const SKIN = ['#f1c9a5', '#e0ac7e', '#c68a5c', '#8d5a3b', '#5c3a24'];

/**
 * The figure, front view, feet on the floor line. Distances are measured up from the feet in hundredths of
 * the height and scaled by the character's stature, so a child is shorter, never wider than the torso's
 * sample point allows (see `portraitMarkPosition`).
 */
function figure(name: string, colour: string, w: number, u: number): string[] {
  const look = characterLook(name);
  const s = look.stature;
  const cx = w / 2;
  const at = (d: number) => r(FEET * u - d * s * u);
  const len = (d: number) => r(d * s * u);
  const skin = SKIN[hashText(`skin:${name}`) % SKIN.length];
  const torso = look.torsoWidth * u * s;
  const arm = 4.5 * u * s;
  const gap = 0.6 * u * s;
  const leg = torso * 0.4;
  const headR = 7 * u * s;
  const headY = FEET * u - 62 * s * u;
  const dark = shade(colour, 0.45);
  const parts: string[] = [];
  parts.push(
    `<ellipse cx="${r(cx)}" cy="${r(FEET * u)}" rx="${r(torso * 0.9)}" ry="${r(1.6 * u)}" fill="#000000" opacity="0.25"/>`,
  );
  if (look.longHair) {
    parts.push(
      `<rect x="${r(cx - headR * 1.25)}" y="${at(70)}" width="${r(headR * 2.5)}" height="${len(22)}" rx="${r(headR * 0.6)}" fill="${look.hairColour}"/>`,
    );
  }
  for (const x of [cx - torso * 0.45, cx + torso * 0.05]) {
    parts.push(`<rect x="${r(x)}" y="${at(28)}" width="${r(leg)}" height="${len(25)}" fill="${dark}"/>`);
    parts.push(
      `<rect x="${r(x - gap)}" y="${at(3.5)}" width="${r(leg + 2 * gap)}" height="${len(3.5)}" rx="${r(gap)}" fill="#2b2b2b"/>`,
    );
  }
  for (const x of [cx - torso / 2 - arm - gap, cx + torso / 2 + gap]) {
    parts.push(
      `<rect x="${r(x)}" y="${at(53)}" width="${r(arm)}" height="${len(25)}" rx="${r(arm / 2)}" fill="${colour}"/>`,
    );
    parts.push(`<circle cx="${r(x + arm / 2)}" cy="${at(27)}" r="${r(arm * 0.55)}" fill="${skin}"/>`);
  }
  parts.push(
    `<rect x="${r(cx - 1.5 * u * s)}" y="${at(57)}" width="${r(3 * u * s)}" height="${len(4)}" fill="${skin}"/>`,
    `<rect x="${r(cx - torso / 2)}" y="${at(54)}" width="${r(torso)}" height="${len(26)}" rx="${r(2 * u * s)}" fill="${colour}"/>`,
    `<circle cx="${r(cx)}" cy="${r(headY)}" r="${r(headR)}" fill="${skin}"/>`,
  );
  const capR = headR * 1.05;
  const capY = headY - headR * 0.1;
  parts.push(
    `<path d="M ${r(cx - capR)} ${r(capY)} A ${r(capR)} ${r(capR)} 0 0 1 ${r(cx + capR)} ${r(capY)} Q ${r(cx)} ${r(headY - headR * 0.55)} ${r(cx - capR)} ${r(capY)} Z" fill="${look.hairColour}"/>`,
  );
  for (const x of [cx - headR * 0.38, cx + headR * 0.38]) {
    parts.push(
      `<circle cx="${r(x)}" cy="${r(headY + headR * 0.12)}" r="${r(0.55 * u * s)}" fill="#222222"/>`,
    );
  }
  return parts;
}

/** Coordinates rounded to a tenth of a pixel: short SVG, same bytes on every run. */
function r(value: number): number {
  return Math.round(value * 10) / 10;
}
