import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import PDFDocument from 'pdfkit';
import type { ZipImage } from '../zip-export.service';
import { PdfImage, pdfImageOf } from './pdf-image';
import { Storyboard, StoryboardScene } from './storyboard-content';

/** A4 portrait, in points. */
const PAGE = { width: 595.28, height: 841.89 };
const MARGIN = 50;
const TEXT_WIDTH = PAGE.width - 2 * MARGIN;
/** The image box of a scene page; what is left below it is for the description. */
const IMAGE_MAX_HEIGHT = 440;
const GREY = '#6e6e73';
const INK = '#1d1d1f';
/** Output is handed on in chunks of this size: pdfkit pushes every line of the file as a chunk of its own. */
const CHUNK_BYTES = 64 * 1024;

/**
 * DejaVu Sans from the `dejavu-fonts-ttf` package, embedded (subset) in every PDF, never a system font:
 * the same glyphs on every machine, Latin, Greek and Cyrillic text that renders, and a ToUnicode map (which
 * pdfkit writes for embedded fonts) so the text can be searched and copied. PDF's standard 14 fonts
 * cover only Latin-1. Read from disk once per process.
 */
let fonts: { regular: Buffer; bold: Buffer } | undefined;
function loadFonts(): { regular: Buffer; bold: Buffer } {
  if (!fonts) {
    const dir = path.join(path.dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');
    fonts = {
      regular: readFileSync(path.join(dir, 'DejaVuSans.ttf')),
      bold: readFileSync(path.join(dir, 'DejaVuSans-Bold.ttf')),
    };
  }
  return fonts;
}

/** Reads an exported image's bytes (from the image storage). */
export type ImageReader = (image: ZipImage) => Promise<Buffer>;

/**
 * storyboard.pdf: a title page (the story's first line, media type, scene count, date), then one page per
 * scene with its number and title, its image scaled to fit, and its description as real text. A very long
 * description continues on the next page.
 *
 * The bytes depend only on `board` and the images: the document's dates are the session's, and pdfkit's
 * file /ID is an MD5 of the info dictionary (dates included), so building twice gives the same file.
 *
 * Streamed: pages are produced one at a time, one image in memory at a time, and a page waits until the
 * reader has taken the output of the previous one, so memory stays bounded whatever the page count.
 */
export function storyboardPdf(board: Storyboard, readImage: ImageReader): AsyncGenerator<Buffer> {
  const { regular, bold } = loadFonts();
  const doc = new PDFDocument({
    size: [PAGE.width, PAGE.height],
    margin: MARGIN,
    autoFirstPage: false,
    displayTitle: true,
    info: {
      Title: board.heading,
      Creator: 'Story to Image Generator',
      CreationDate: board.createdAt,
      ModDate: board.completedAt,
    },
  });
  doc.registerFont('regular', regular);
  doc.registerFont('bold', bold);
  // A failure is reported to the reader through its iterator; without a listener of its own an 'error'
  // emitted before the reader starts would crash the process.
  doc.on('error', () => undefined);

  const produce = async () => {
    titlePage(doc, board);
    for (const scene of board.scenes) {
      const image = await pdfImageOf(await readImage(scene.image));
      if (doc.destroyed) return; // the reader stopped (its write failed): nothing more to make
      scenePage(doc, scene, image);
      await roomFor(doc);
    }
    if (!doc.destroyed) doc.end();
  };
  produce().catch((err: unknown) => doc.destroy(err instanceof Error ? err : new Error(String(err))));
  return chunked(doc);
}

function titlePage(doc: PDFKit.PDFDocument, board: Storyboard): void {
  doc.addPage();
  doc.y = 220;
  doc.font('regular').fontSize(11).fillColor(GREY).text('STORYBOARD', { characterSpacing: 2 });
  doc.moveDown(0.8);
  doc.font('bold').fontSize(26).fillColor(INK).text(board.heading, { width: TEXT_WIDTH });
  doc.moveDown(1.5);
  const facts: [string, string][] = [
    ['Media type', board.mediaType],
    ['Scenes', String(board.scenes.length)],
    ['Date', board.date],
  ];
  for (const [label, value] of facts) {
    doc.font('regular').fontSize(13).fillColor(GREY).text(`${label}: `, { continued: true });
    doc.fillColor(INK).text(value);
    doc.moveDown(0.3);
  }
}

function scenePage(doc: PDFKit.PDFDocument, scene: StoryboardScene, image: PdfImage | null): void {
  doc.addPage();
  doc.font('regular').fontSize(11).fillColor(GREY).text(`Scene ${scene.sceneNumber}`);
  doc.moveDown(0.2);
  doc.font('bold').fontSize(18).fillColor(INK).text(scene.title, { width: TEXT_WIDTH });
  doc.moveDown(0.8);

  const top = doc.y;
  // The image shrinks rather than pushing a short description off the page.
  const boxHeight = Math.max(120, Math.min(IMAGE_MAX_HEIGHT, PAGE.height - MARGIN - top - 140));
  let bottom: number;
  if (image) {
    const scale = Math.min(TEXT_WIDTH / image.width, boxHeight / image.height);
    const width = image.width * scale;
    const height = image.height * scale;
    doc.image(image.jpeg, MARGIN + (TEXT_WIDTH - width) / 2, top, { width, height });
    bottom = top + height;
  } else {
    const height = Math.min(boxHeight, 200);
    doc.save().rect(MARGIN, top, TEXT_WIDTH, height).dash(4, { space: 4 }).strokeColor(GREY).stroke();
    doc.restore();
    doc
      .font('regular')
      .fontSize(11)
      .fillColor(GREY)
      .text(`The image ${scene.image.file} could not be shown.`, MARGIN, top + height / 2 - 7, {
        width: TEXT_WIDTH,
        align: 'center',
      });
    bottom = top + height;
  }

  doc.x = MARGIN;
  doc.y = bottom + 18;
  doc
    .font('regular')
    .fontSize(11.5)
    .fillColor(INK)
    .text(scene.description, { width: TEXT_WIDTH, lineGap: 3 });
}

/**
 * pdfkit pushes its output as it goes, whatever the reader's pace. Between pages it waits here until the
 * reader has drained the buffer (Readable calls `_read` when its reader wants more; pdfkit's own `_read`
 * does nothing, since it pushes eagerly), so at most about one page's output is buffered.
 */
function roomFor(doc: PDFKit.PDFDocument): Promise<void> {
  const stream = doc as unknown as Readable;
  if (stream.destroyed || stream.readableLength <= stream.readableHighWaterMark) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream._read = noop;
      stream.off('close', done);
      resolve();
    };
    stream._read = done;
    stream.once('close', done);
  });
}

function noop(): void {}

/** The document's output gathered into CHUNK_BYTES buffers (each pdfkit chunk is a line or an object). */
async function* chunked(doc: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let length = 0;
  for await (const chunk of doc) {
    parts.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    length += chunk.byteLength;
    if (length >= CHUNK_BYTES) {
      yield Buffer.concat(parts, length);
      parts = [];
      length = 0;
    }
  }
  if (length > 0) yield Buffer.concat(parts, length);
}
