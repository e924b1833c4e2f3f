import { Inject, Injectable, Logger } from '@nestjs/common';
import { SessionRecord } from '../domain/session.model';
import { mapWithLimit } from '../common/concurrency';
import { downloadKey, isSceneFileName } from '../storage/image-keys';
import { IMAGE_STORAGE, ImageNotFoundError, ImageStorage } from '../storage/image-storage';
import { measured } from '../storage/measured';
import { ZipWriter } from './zip-writer';

export interface ZipImage {
  index: number;
  file: string;
  key: string;
  size: number;
  crc: number;
}

/** CRCs recomputed at once for records that predate them. */
const LOOKUP_CONCURRENCY = 8;

/**
 * Builds the project ZIP: images are stored as they are (already compressed) and streamed from the image
 * storage, scenes.json and story.txt are deflated. Nothing is held in memory beyond a read buffer or two.
 */
@Injectable()
export class ZipExportService {
  private readonly logger = new Logger('Export');

  constructor(@Inject(IMAGE_STORAGE) private readonly storage: ImageStorage) {}

  /** The downloaded images of approved scenes that are in storage, checked before any byte is sent. */
  async collectImages(session: SessionRecord): Promise<ZipImage[]> {
    const wanted = session.approved.filter((index) => {
      const download = session.downloads[index];
      return download?.status === 'done' && !!download.file && isSceneFileName(download.file);
    });
    // One listing of the session's images (one request to a bucket) instead of a lookup per image.
    const sizes = wanted.length > 0 ? await this.storage.sizes(session.id) : new Map<string, number>();
    const found = await mapWithLimit(wanted, LOOKUP_CONCURRENCY, async (index) => {
      const download = session.downloads[index];
      const file = download.file as string;
      const key = downloadKey(session.id, file);
      const size = sizes.get(key);
      if (size === undefined) {
        this.logger.warn(`Image ${file} of ${session.id} is missing from the image storage`);
        return null;
      }
      // The CRC recorded when the image was written, unless the record predates it or the size differs.
      const recorded = typeof download.crc32 === 'number' && download.bytes === size;
      const crc = recorded ? (download.crc32 as number) : await this.crcOf(key);
      // Gone between the listing and the read (an expiry sweep): skipped like any missing image.
      if (crc === null) return null;
      return { index, file, key, size, crc };
    });
    return found.filter((image): image is ZipImage => image !== null);
  }

  /** The archive for these images; its size is known before anything is sent. */
  archive(session: SessionRecord, story: string, images: ZipImage[], baseUrl: string): ZipWriter {
    const modifiedAt = new Date(session.completed_at ?? session.created_at);
    return new ZipWriter(
      images.map((image) => ({
        name: `images/${image.file}`,
        open: () => this.storage.read(image.key),
        size: image.size,
        crc: image.crc,
      })),
      [
        { name: 'scenes.json', text: JSON.stringify(this.manifest(session, images, baseUrl), null, 2) },
        { name: 'story.txt', text: story },
      ],
      Number.isNaN(modifiedAt.getTime()) ? new Date() : modifiedAt,
      this.storage.readAhead,
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
        // The scene's current version: the one approval downloaded.
        version: scene.version ?? 1,
        file: `images/${file}`,
        title: scene.title,
        description: scene.description,
        // What the image was rendered with (an edit made since, without regenerating, is not in it).
        prompt: scene.prompt ?? scene.image_prompt,
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

  private async crcOf(key: string): Promise<number | null> {
    try {
      const { chunks, result } = measured(await this.storage.read(key));
      for await (const chunk of chunks) void chunk;
      return result().crc32;
    } catch (err) {
      if (err instanceof ImageNotFoundError) return null;
      throw err;
    }
  }
}
