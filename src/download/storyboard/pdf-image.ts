import sharp from 'sharp';

/** Longest side in the PDF: about 230 dpi across an A4 page's text width, plenty for print. */
const MAX_SIDE = 1600;
const JPEG_QUALITY = 80;
/**
 * Images larger than this are not decoded (a placeholder is shown instead): 64 megapixels is 8K × 8K, far
 * beyond any renderer's output, and decoding a bigger one would hold gigabytes of pixels.
 */
const MAX_INPUT_PIXELS = 64_000_000;

export interface PdfImage {
  jpeg: Buffer;
  width: number;
  height: number;
}

/**
 * An exported image as the PDF embeds it: a baseline JPEG at most MAX_SIDE pixels on a side, without
 * metadata, transparency flattened onto white, EXIF orientation applied. Why re-encode: pdfkit takes
 * only JPEG and PNG, decodes a PNG with an alpha channel in slow JavaScript, and would embed a 2 MB
 * render as 2 MB, doubling the ZIP; a JPEG it copies as it is. Null when sharp cannot decode it (the
 * page then shows a placeholder): a broken image must not stop the storyboard.
 */
export async function pdfImageOf(bytes: Buffer): Promise<PdfImage | null> {
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS })
      .rotate()
      .resize({ width: MAX_SIDE, height: MAX_SIDE, fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: JPEG_QUALITY })
      .toBuffer({ resolveWithObject: true });
    return { jpeg: data, width: info.width, height: info.height };
  } catch {
    return null;
  }
}
