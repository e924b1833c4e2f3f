import { Inject, Injectable, Logger } from '@nestjs/common';
import { SessionRecord, StoryboardRecord } from '../../domain/session.model';
import { SessionStore } from '../../sessions/session.store';
import { storyboardKey } from '../../storage/image-keys';
import { IMAGE_STORAGE, ImageStorage } from '../../storage/image-storage';
import type { ExportImages, ExtraEntries } from '../zip-export.service';
import { fingerprintOf, Storyboard, storyboardOf } from './storyboard-content';
import { storyboardHtml } from './storyboard-html';
import { storyboardPdf } from './storyboard-pdf';

export const STORYBOARD_PDF = 'storyboard.pdf';
export const STORYBOARD_HTML = 'storyboard.html';

/**
 * The export's storyboard. The PDF costs an image re-encode per scene, so it is built once, written to the
 * image storage beside the images (streamed in: its size and CRC-32 are recorded as it is written, which
 * the ZIP's headers need before any byte is sent) and recorded on the session with the fingerprint of its
 * content. The download job builds it as soon as the images are in; an export reuses it when the
 * fingerprint still matches and the object is there with its recorded size, and builds it otherwise (a
 * session from before storyboards, a failed earlier build, a new layout). The HTML is a few kilobytes of
 * text, made at each export.
 *
 * Concurrent builds are harmless: the bytes are deterministic and the key carries the fingerprint, so two
 * builds of one content write the same object, and one of another content never replaces it.
 */
@Injectable()
export class StoryboardService {
  private readonly logger = new Logger('Storyboard');
  /** Builds under way in this process, by key: exports of one session at the same moment share one. */
  private readonly building = new Map<string, Promise<StoryboardRecord>>();

  constructor(
    @Inject(IMAGE_STORAGE) private readonly storage: ImageStorage,
    private readonly sessions: SessionStore,
  ) {}

  /**
   * storyboard.pdf and storyboard.html for this export. When the PDF cannot be had (the storage failed
   * while building it), the export goes on without it, with a warning: a ZIP without a PDF serves the
   * client better than an error.
   */
  async entries(session: SessionRecord, story: string, exported: ExportImages): Promise<ExtraEntries> {
    const board = storyboardOf(session, story, exported.images);
    const texts = [{ name: STORYBOARD_HTML, text: storyboardHtml(board) }];
    try {
      const pdf = await this.pdfFor(session, board, exported.stored);
      const file = {
        name: STORYBOARD_PDF,
        open: () => this.storage.read(pdf.key),
        size: pdf.bytes,
        crc: pdf.crc32,
      };
      return { files: [file], texts };
    } catch (err) {
      this.logger.warn(
        `The storyboard PDF of ${session.id} could not be built; exported without it: ${String(err)}`,
      );
      return { files: [], texts };
    }
  }

  /** Builds and records the PDF ahead of the first export (the download job), unless it already is. */
  async prepare(session: SessionRecord, story: string, exported: ExportImages): Promise<void> {
    await this.pdfFor(session, storyboardOf(session, story, exported.images), exported.stored);
  }

  private pdfFor(
    session: SessionRecord,
    board: Storyboard,
    stored: Map<string, number>,
  ): Promise<StoryboardRecord> {
    const fingerprint = fingerprintOf(board);
    const recorded = session.storyboard;
    if (recorded?.fingerprint === fingerprint && stored.get(recorded.key) === recorded.bytes)
      return Promise.resolve(recorded);
    const key = storyboardKey(session.id, fingerprint);
    let build = this.building.get(key);
    if (!build) {
      build = this.build(session, board, key, fingerprint).finally(() => this.building.delete(key));
      this.building.set(key, build);
    }
    return build;
  }

  private async build(
    session: SessionRecord,
    board: Storyboard,
    key: string,
    fingerprint: string,
  ): Promise<StoryboardRecord> {
    const started = performance.now();
    const pdf = storyboardPdf(board, (image) => this.readWhole(image.key));
    const written = await this.storage.write(key, pdf, 'application/pdf');
    const record: StoryboardRecord = { fingerprint, key, bytes: written.bytes, crc32: written.crc32 };
    this.logger.log(
      `Storyboard PDF of ${session.id}: ${board.scenes.length} scene(s), ${written.bytes} bytes ` +
        `in ${Math.round(performance.now() - started)} ms`,
    );
    // Best effort from here: the PDF is in storage and this export can use it. Unrecorded, the next export
    // builds it again; a superseded one left behind goes when the session expires.
    await this.sessions
      .saveStoryboard(session.id, record)
      .catch((err: unknown) => this.logger.warn(`Storyboard of ${session.id} not recorded: ${String(err)}`));
    const previous = session.storyboard?.key;
    if (previous && previous !== key) {
      await this.storage
        .remove(previous)
        .catch((err: unknown) =>
          this.logger.warn(`Superseded storyboard ${previous} not removed: ${String(err)}`),
        );
    }
    return record;
  }

  /** One image at a time, whole: sharp needs all of an image's bytes to decode it. */
  private async readWhole(key: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.storage.read(key)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }
}
