import { Inject, Injectable, Logger } from '@nestjs/common';
import archiver from 'archiver';
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { SessionRecord } from '../sessions/session.model';
import { isSceneFileName } from './scene-files';

export interface ZipImage {
  index: number;
  file: string;
  absolutePath: string;
}

/**
 * Builds the project ZIP as a stream: images are stored as they are (already compressed), scenes.json and
 * story.txt are deflated. Nothing is held in memory beyond archiver's buffers.
 */
@Injectable()
export class ZipExportService {
  private readonly logger = new Logger('Export');

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /** The downloaded images of approved scenes that exist on disk, checked before any byte is sent. */
  async collectImages(session: SessionRecord): Promise<ZipImage[]> {
    const images: ZipImage[] = [];
    for (const index of session.approved) {
      const download = session.downloads[index];
      if (download?.status !== 'done' || !download.file || !isSceneFileName(download.file)) continue;
      const absolutePath = path.join(this.config.imageDir, session.id, download.file);
      try {
        if ((await stat(absolutePath)).isFile()) images.push({ index, file: download.file, absolutePath });
      } catch {
        this.logger.warn(`Image ${download.file} of ${session.id} is missing on disk`);
      }
    }
    return images;
  }

  write(
    session: SessionRecord,
    story: string,
    images: ZipImage[],
    baseUrl: string,
    out: Writable,
  ): Promise<void> {
    const archive = archiver('zip', { zlib: { level: 6 } });
    const done = new Promise<void>((resolve, reject) => {
      archive.on('error', reject);
      archive.on('warning', reject);
      out.on('finish', resolve);
      out.on('error', reject);
      // Closed before finishing: the client went away mid-download; stop reading files for it.
      out.on('close', () => reject(new Error('the client closed the connection')));
    });
    archive.pipe(out);
    for (const image of images) {
      const entry: archiver.ZipEntryData = { name: `images/${image.file}`, store: true };
      archive.file(image.absolutePath, entry);
    }
    archive.append(JSON.stringify(this.manifest(session, images, baseUrl), null, 2), { name: 'scenes.json' });
    archive.append(story, { name: 'story.txt' });
    void archive.finalize().catch(() => undefined);
    return done.catch((err: Error) => {
      archive.abort();
      out.destroy(err);
      throw err;
    });
  }

  private manifest(session: SessionRecord, images: ZipImage[], baseUrl: string) {
    return images.map(({ index, file }) => {
      const scene = session.scenes[index];
      const source =
        scene.source?.kind === 'remote' ? scene.source.url : `${baseUrl}${scene.image_url ?? ''}`;
      return {
        index,
        scene_number: index + 1,
        file: `images/${file}`,
        title: scene.title,
        description: scene.description,
        prompt: scene.image_prompt,
        negative_prompt: scene.negative_prompt,
        characters: scene.characters,
        seed: scene.seed,
        model: scene.model,
        provider: scene.provider,
        planner: session.planner,
        media_type: session.media_type,
        source_url: source,
      };
    });
  }
}
