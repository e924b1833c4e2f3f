import { ImageKind, MIME_TYPES } from '../common/image-sniff';

/**
 * Object keys (and so file names, URLs under /static and ZIP entry names) are generated here, never taken
 * from input: `<session_id>/renders/scene_NN[_vN].<ext>` for a render this service made itself,
 * `<session_id>/scene_NN.<ext>` for an approved image fetched for export, and
 * `<session_id>/storyboard/<fingerprint>.pdf` for the export's storyboard PDF (not an image: /static does
 * not serve it).
 */
export function sceneFileBase(index: number): string {
  return `scene_${String(index + 1).padStart(2, '0')}`;
}

const SAFE_FILE = /^scene_\d{2,3}\.(png|jpg|webp|gif)$/;
const SAFE_PORTRAIT_FILE = /^cast_\d{2}\.(png|jpg|webp|gif)$/;
// Renders of a regenerated scene or portrait carry their version (`renders/scene_01_v2.png`); downloads never do.
const IMAGE_KEY =
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/(renders\/(scene_\d{2,3}|cast_\d{2})(_v\d{1,3})?|scene_\d{2,3}|cast_\d{2})\.(png|jpg|webp|gif)$/;
const STORYBOARD_KEY =
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/storyboard\/[0-9a-f]{16}\.pdf$/;
/** Hex digits of the storyboard's fingerprint in its key: enough that two contents never share one. */
const FINGERPRINT_DIGITS = 16;

export function isSceneFileName(name: string): boolean {
  return SAFE_FILE.test(name);
}

/** An image key this service could have written: what /static serves; anything else is refused unread. */
export function isImageKey(key: string): boolean {
  return IMAGE_KEY.test(key);
}

export function isStoryboardKey(key: string): boolean {
  return STORYBOARD_KEY.test(key);
}

/** Any key this service could have written: what the storage drivers read, write and list. */
export function isStoredKey(key: string): boolean {
  return isImageKey(key) || isStoryboardKey(key);
}

/** The first render keeps the name it always had; each later version gets its own, so none is overwritten. */
export function renderKey(sessionId: string, index: number, ext: string, version = 1): string {
  const suffix = version > 1 ? `_v${version}` : '';
  return `${sessionId}/renders/${sceneFileBase(index)}${suffix}.${ext}`;
}

/** A cast portrait (by its place in the cast sheet), named like a scene render: `renders/cast_01[_vN].png`. */
export function portraitKey(sessionId: string, castIndex: number, ext: string, version = 1): string {
  const suffix = version > 1 ? `_v${version}` : '';
  return `${sessionId}/renders/${portraitFileBase(castIndex)}${suffix}.${ext}`;
}

export function portraitFileBase(castIndex: number): string {
  return `cast_${String(castIndex + 1).padStart(2, '0')}`;
}

export function isPortraitFileName(name: string): boolean {
  return SAFE_PORTRAIT_FILE.test(name);
}

export function downloadKey(sessionId: string, file: string): string {
  return `${sessionId}/${file}`;
}

/**
 * The storyboard PDF of one content (its sha256 fingerprint, hex): a changed content gets a new key, so a
 * PDF being exported is never overwritten by a different one, and concurrent builds of one content write
 * the same bytes under the same key.
 */
export function storyboardKey(sessionId: string, fingerprint: string): string {
  if (!/^[0-9a-f]{64}$/.test(fingerprint)) throw new Error('A storyboard fingerprint is a sha256 in hex');
  return `${sessionId}/storyboard/${fingerprint.slice(0, FINGERPRINT_DIGITS)}.pdf`;
}

export function contentTypeOfKey(key: string): string {
  if (key.endsWith('.pdf')) return 'application/pdf';
  return MIME_TYPES[key.slice(key.lastIndexOf('.') + 1) as ImageKind] ?? 'application/octet-stream';
}
