export type ImageKind = 'png' | 'jpg' | 'webp' | 'gif';

/** Bytes needed to recognise every supported format (WebP's signature ends at byte 12). */
export const SNIFF_BYTES = 12;

export const MIME_TYPES: Record<ImageKind, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
};

/** Recognises an image by its magic bytes; null for anything else (including too few bytes). */
export function sniffImageType(buf: Uint8Array): ImageKind | null {
  const starts = (bytes: number[], offset = 0) => bytes.every((b, i) => buf[offset + i] === b);
  if (buf.length >= 8 && starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (buf.length >= 3 && starts([0xff, 0xd8, 0xff])) return 'jpg';
  if (buf.length >= 6 && (starts(ascii('GIF87a')) || starts(ascii('GIF89a')))) return 'gif';
  if (buf.length >= 12 && starts(ascii('RIFF')) && starts(ascii('WEBP'), 8)) return 'webp';
  return null;
}

/** The image kind a `Content-Type` announces; null for non-images and image types we do not store. */
export function kindOfContentType(contentType: string): ImageKind | null {
  switch (contentType) {
    case 'image/png':
    case 'image/apng':
      return 'png';
    case 'image/jpeg':
    case 'image/jpg':
    case 'image/pjpeg':
      return 'jpg';
    case 'image/webp':
      return 'webp';
    case 'image/gif':
      return 'gif';
    default:
      return null;
  }
}

function ascii(text: string): number[] {
  return Array.from(text, (c) => c.charCodeAt(0));
}
