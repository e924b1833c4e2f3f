import { Inject, Injectable, Logger } from '@nestjs/common';
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { SessionRecord } from '../domain/session.model';
import { crc32OfFile } from './file-crc';
import { isSceneFileName } from './scene-files';
import { ZipWriter } from './zip-writer';

export interface ZipImage {
  index: number;
  file: string;
  absolutePath: string;
  size: number;
  crc: number;
}

/**
 * Builds the project ZIP: images are stored as they are (already compressed) and streamed from disk,
 * scenes.json and story.txt are deflated. Nothing is held in memory beyond one read buffer per download.
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
        const info = await stat(absolutePath);
        if (!info.isFile()) continue;
        // The CRC recorded at download time, unless the record predates it or the file no longer matches.
        const recorded = typeof download.crc32 === 'number' && download.bytes === info.size;
        const crc = recorded ? (download.crc32 as number) : await crc32OfFile(absolutePath);
        images.push({ index, file: download.file, absolutePath, size: info.size, crc });
      } catch {
        this.logger.warn(`Image ${download.file} of ${session.id} is missing on disk`);
      }
    }
    return images;
  }

  /** The archive for these images; its size is known before anything is sent. */
  archive(session: SessionRecord, story: string, images: ZipImage[], baseUrl: string): ZipWriter {
    const modifiedAt = new Date(session.completed_at ?? session.created_at);
    return new ZipWriter(
      images.map((image) => ({
        name: `images/${image.file}`,
        path: image.absolutePath,
        size: image.size,
        crc: image.crc,
      })),
      [
        { name: 'scenes.json', text: JSON.stringify(this.manifest(session, images, baseUrl), null, 2) },
        { name: 'story.txt', text: story },
      ],
      Number.isNaN(modifiedAt.getTime()) ? new Date() : modifiedAt,
    );
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
