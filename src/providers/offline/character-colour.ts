import { hashText, seededRandom } from './seeded-random';

/**
 * The colour the offline renderer dresses a character in, on its portrait and on its mark in every scene
 * rendered from that portrait, so a glance (or a test sampling one pixel) tells that they match.
 *
 * A pure function of the name and the portrait's seed: a scene needs nothing but its PortraitReference to
 * draw the mark, and a portrait rendered again with a new seed visibly changes colour. Hues cover the whole
 * wheel, saturated; lightness is lowered where needed so the colour keeps a 3:1 contrast with white (WCAG's
 * bar for graphics), as the marks' badges are white. Two characters can land on close hues: the name on
 * every mark tells them apart.
 */
export function characterColour(name: string, seed: number): string {
  const random = seededRandom(hashText(name) ^ Math.imul(seed >>> 0, 0x9e3779b1));
  const hue = random() * 360;
  const saturation = 0.62 + random() * 0.14;
  let lightness = 0.4 + random() * 0.1;
  let colour = hslToHex(hue, saturation, lightness);
  // Yellows and greens are bright at any lightness: darken them towards mustard and olive.
  while (relativeLuminance(colour) > MAX_LUMINANCE) {
    lightness -= 0.02;
    colour = hslToHex(hue, saturation, lightness);
  }
  return colour;
}

/** Relative luminance at which a colour has a 3:1 contrast with white: (1 + 0.05) / (L + 0.05) = 3. */
const MAX_LUMINANCE = 0.3;

/** `hex` mixed with black: `amount` 0 leaves it, 1 is black. For the darker parts of an outfit. */
export function shade(hex: string, amount: number): string {
  return toHex(channels(hex).map((c) => c * (1 - amount)));
}

/** [r, g, b] in 0..255 of a `#rrggbb` colour. */
export function channels(hex: string): [number, number, number] {
  const value = parseInt(hex.slice(1), 16);
  return [(value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff];
}

function hslToHex(hue: number, saturation: number, lightness: number): string {
  const chroma = (1 - Math.abs(2 * lightness - 1)) * saturation;
  const section = hue / 60;
  const x = chroma * (1 - Math.abs((section % 2) - 1));
  const sextants = [
    [chroma, x, 0],
    [x, chroma, 0],
    [0, chroma, x],
    [0, x, chroma],
    [x, 0, chroma],
    [chroma, 0, x],
  ];
  const [r, g, b] = sextants[Math.floor(section) % 6];
  const m = lightness - chroma / 2;
  return toHex([r, g, b].map((c) => (c + m) * 255));
}

function toHex(values: number[]): string {
  return `#${values
    .map((v) =>
      Math.round(Math.min(255, Math.max(0, v)))
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')}`;
}

/** WCAG 2 relative luminance of a `#rrggbb` colour, 0 (black) to 1 (white). */
export function relativeLuminance(hex: string): number {
  const [r, g, b] = channels(hex).map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
