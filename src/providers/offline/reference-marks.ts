import { PortraitReference } from '../../domain/jobs';
import { characterColour } from './character-colour';
import { PixelPosition } from './portrait-svg';
import { fittedText, FONT_FAMILY } from './svg-text';

/** Marks per row along the top edge; a fifth reference starts a second row under the first. */
const PER_ROW = 4;

interface Slot {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Where the mark of the `index`th reference sits in a `width`×`height` scene: slots along the top edge, in
 * the order of the request's references, sized from the image's shorter side so four fit in a row.
 */
function slot(index: number, width: number, height: number): Slot {
  const short = Math.min(width, height);
  const margin = Math.round(short * 0.025);
  const badge = Math.round(short * 0.12);
  const slotWidth = Math.min(Math.round(badge * 2.6), Math.floor((width - (PER_ROW + 1) * margin) / PER_ROW));
  return {
    x: margin + (index % PER_ROW) * (slotWidth + margin),
    y: margin + Math.floor(index / PER_ROW) * (badge + margin),
    width: slotWidth,
    height: badge,
  };
}

/** The mark's figure: the centre of its body, across the left part of the badge. */
function body(s: Slot): {
  cx: number;
  headY: number;
  headR: number;
  top: number;
  bottom: number;
  half: number;
} {
  return {
    cx: s.x + Math.round(s.height * 0.38),
    headY: s.y + Math.round(s.height * 0.25),
    headR: Math.round(s.height * 0.13),
    top: s.y + Math.round(s.height * 0.42),
    bottom: s.y + Math.round(s.height * 0.84),
    half: Math.round(s.height * 0.2),
  };
}

/**
 * A pixel of the `index`th reference's mark in a `width`×`height` scene that is painted in exactly that
 * character's colour (`characterColour(name, seed)`, the colour of its portrait's torso): the middle of
 * the mark figure's body.
 */
export function referenceMarkPosition(index: number, width: number, height: number): PixelPosition {
  const b = body(slot(index, width, height));
  return { x: b.cx, y: Math.round((b.top + b.bottom) / 2) };
}

/**
 * One mark per reference: a light badge outlined in the character's colour, holding a small figure in
 * that colour (the portrait's figure, in little) and the character's name. Drawn over everything else.
 */
export function referenceMarksSvg(references: PortraitReference[], width: number, height: number): string {
  return references
    .map((reference, index) => {
      const s = slot(index, width, height);
      const b = body(s);
      const colour = characterColour(reference.name, reference.seed);
      const stroke = Math.max(2, Math.round(s.height * 0.05));
      const nameSize = Math.round(s.height * 0.3);
      const textX = s.x + Math.round(s.height * 0.72);
      const name = fittedText(reference.name, s.x + s.width - textX - stroke * 2, nameSize);
      return [
        `<rect x="${s.x}" y="${s.y}" width="${s.width}" height="${s.height}" rx="${Math.round(s.height * 0.15)}" fill="#ffffff" fill-opacity="0.9" stroke="${colour}" stroke-width="${stroke}"/>`,
        `<circle cx="${b.cx}" cy="${b.headY}" r="${b.headR}" fill="${colour}"/>`,
        `<rect x="${b.cx - b.half}" y="${b.top}" width="${2 * b.half}" height="${b.bottom - b.top}" rx="${Math.round(b.half * 0.5)}" fill="${colour}"/>`,
        `<text x="${textX}" y="${s.y + Math.round(s.height * 0.61)}" font-family="${FONT_FAMILY}" font-weight="bold" font-size="${nameSize}" fill="#1b1b1b">${name}</text>`,
      ].join('\n');
    })
    .join('\n');
}
