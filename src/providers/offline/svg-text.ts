import { truncate } from '../prompt-builder';

/** DejaVu ships with the image (and with most Linux fonts packages); the rest are fallbacks. */
export const FONT_FAMILY = 'DejaVu Sans, Arial, sans-serif';

/** About how wide a DejaVu Sans character is, as a share of the font size: to fit text without measuring. */
const CHAR_WIDTH = 0.6;

/** Text cut at a word boundary so that it fits `width` pixels at `fontSize`, escaped for an SVG text node. */
export function fittedText(text: string, width: number, fontSize: number): string {
  return escapeXml(truncate(text, Math.max(1, Math.floor(width / (fontSize * CHAR_WIDTH)))));
}

/**
 * Up to `maxLines` lines of text that fit `width` pixels at `fontSize`, broken between words; the last line
 * ends with "…" when the text does not fit. Lines come back unescaped.
 */
export function wrapText(text: string, width: number, fontSize: number, maxLines: number): string[] {
  const perLine = Math.max(1, Math.floor(width / (fontSize * CHAR_WIDTH)));
  const lines: string[] = [];
  let line = '';
  const words = text.split(/\s+/).filter(Boolean);
  for (let i = 0; i < words.length; i++) {
    const candidate = line ? `${line} ${words[i]}` : words[i];
    if (candidate.length <= perLine || !line) {
      line = candidate;
      continue;
    }
    if (lines.length === maxLines - 1) {
      lines.push(truncate(`${line} ${words.slice(i).join(' ')}`, perLine));
      return lines;
    }
    lines.push(line);
    line = words[i];
  }
  if (line) lines.push(truncate(line, perLine));
  return lines;
}

export function escapeXml(text: string): string {
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
