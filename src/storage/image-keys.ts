import { ImageKind, MIME_TYPES } from '../common/image-sniff';

/**
 * Object keys (and so file names, URLs under /static and ZIP entry names) are generated here, never taken
 * from input: `<session_id>/renders/scene_NN[_vN].<ext>` for a render this service made itself, and
 * `<session_id>/scene_NN.<ext>` for an approved image fetched for export.
 */
export function sceneFileBase(index: number): string {
  return `scene_${String(index + 1).padStart(2, '0')}`;
}

const SAFE_FILE = /^scene_\d{2,3}\.(png|jpg|webp|gif)$/;
// Renders of a regenerated scene carry their version (`renders/scene_01_v2.png`); downloads never do.
const IMAGE_KEY =
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/(renders\/scene_\d{2,3}(_v\d{1,3})?|scene_\d{2,3})\.(png|jpg|webp|gif)$/;

export function isSceneFileName(name: string): boolean {
  return SAFE_FILE.test(name);
}

/** A key this service could have written: anything else (traversal, other folders) is refused unread. */
export function isImageKey(key: string): boolean {
  return IMAGE_KEY.test(key);
}

/** The first render keeps the name it always had; each later version gets its own, so none is overwritten. */
export function renderKey(sessionId: string, index: number, ext: string, version = 1): string {
  const suffix = version > 1 ? `_v${version}` : '';
  return `${sessionId}/renders/${sceneFileBase(index)}${suffix}.${ext}`;
}

export function downloadKey(sessionId: string, file: string): string {
  return `${sessionId}/${file}`;
}

export function contentTypeOfKey(key: string): string {
  return MIME_TYPES[key.slice(key.lastIndexOf('.') + 1) as ImageKind] ?? 'application/octet-stream';
}
