import { Inject, Injectable, Logger } from '@nestjs/common';
import { SceneDownload, SessionRecord } from '../domain/session.model';
import { mapWithLimit } from '../common/concurrency';
import { downloadKey, isPortraitFileName, isSceneFileName } from '../storage/image-keys';
import { IMAGE_STORAGE, ImageNotFoundError, ImageStorage } from '../storage/image-storage';
import { measured } from '../storage/measured';
import { StoredFile, TextEntry, ZipWriter } from './zip-writer';

export interface ZipImage {
  index: number;
  file: string;
  key: string;
  size: number;
  crc: number;
}

/** A cast portrait the approval copied for export, as `cast/<name>.<ext>`. */
export interface ZipPortrait {
  castIndex: number;
  /** Its entry name: the member's name made safe for file systems. */
  entry: string;
  key: string;
  size: number;
  crc: number;
  /** The portrait version it is. */
  version: number;
}

/** What an export holds of the image storage, as one listing saw it. */
export interface ExportImages {
  /** The approved scenes' downloaded images that are in storage, in index order. */
  images: ZipImage[];
  /** The cast portraits copied for export that are in storage, in cast order. */
  cast: ZipPortrait[];
  /** Every object of the session (storyboard PDFs too), key → size: the listing the images came from. */
  stored: Map<string, number>;
}

/** Entries beside the images, the manifest and the story (the storyboard): files stored, texts deflated. */
export interface ExtraEntries {
  files: StoredFile[];
  texts: TextEntry[];
}

/** CRCs recomputed at once for records that predate them. */
const LOOKUP_CONCURRENCY = 8;

/**
 * Builds the project ZIP: images are stored as they are (already compressed) and streamed from the image
 * storage, scenes.json and story.txt are deflated; the storyboard, when given, follows them (its PDF
 * streamed from the storage like an image). Nothing is held in memory beyond a read buffer or two.
 */
@Injectable()
export class ZipExportService {
  private readonly logger = new Logger('Export');

  constructor(@Inject(IMAGE_STORAGE) private readonly storage: ImageStorage) {}

  /** The downloaded images of approved scenes that are in storage, checked before any byte is sent. */
  async collectImages(session: SessionRecord): Promise<ExportImages> {
    const wanted = session.approved.filter((index) => {
      const download = session.downloads[index];
      return download?.status === 'done' && !!download.file && isSceneFileName(download.file);
    });
    // One listing of the session's images (one request to a bucket) instead of a lookup per image.
    const sizes = wanted.length > 0 ? await this.storage.sizes(session.id) : new Map<string, number>();
    const found = await mapWithLimit(wanted, LOOKUP_CONCURRENCY, async (index) => {
      const download = session.downloads[index];
      const file = download.file as string;
      const stored = await this.locate(session.id, download, sizes);
      return stored && { index, file, ...stored };
    });
    return {
      images: found.filter((image): image is ZipImage => image !== null),
      cast: wanted.length > 0 ? await this.collectPortraits(session, sizes) : [],
      stored: sizes,
    };
  }

  /** The portraits the approval copied, under entry names unique within the ZIP. */
  private async collectPortraits(session: SessionRecord, sizes: Map<string, number>): Promise<ZipPortrait[]> {
    const copied = [...session.cast.keys()].filter((castIndex) => {
      const download = session.cast_downloads[castIndex];
      return download?.status === 'done' && !!download.file && isPortraitFileName(download.file);
    });
    const located = await mapWithLimit(copied, LOOKUP_CONCURRENCY, (castIndex) =>
      this.locate(session.id, session.cast_downloads[castIndex], sizes),
    );
    const taken = new Set<string>();
    return copied.flatMap((castIndex, i) => {
      const stored = located[i];
      if (!stored) return [];
      const download = session.cast_downloads[castIndex];
      const file = download.file as string;
      const entry = uniqueName(
        `cast/${safeFileName(session.cast[castIndex].name)}`,
        file.slice(file.lastIndexOf('.')),
        taken,
      );
      return [{ castIndex, entry, ...stored, version: download.version ?? 1 }];
    });
  }

  /**
   * Where a copied image is, and its size and CRC: the CRC recorded when it was written, unless the record
   * predates it or the size differs. Null when it is missing from the listing, or gone by the time it is
   * read (an expiry sweep): it is left out like any missing image.
   */
  private async locate(
    sessionId: string,
    download: SceneDownload,
    sizes: Map<string, number>,
  ): Promise<{ key: string; size: number; crc: number } | null> {
    const key = downloadKey(sessionId, download.file as string);
    const size = sizes.get(key);
    if (size === undefined) {
      this.logger.warn(`Image ${download.file} of ${sessionId} is missing from the image storage`);
      return null;
    }
    const recorded = typeof download.crc32 === 'number' && download.bytes === size;
    const crc = recorded ? (download.crc32 as number) : await this.crcOf(key);
    return crc === null ? null : { key, size, crc };
  }

  /** The archive for these images (and `extra` entries); its size is known before anything is sent. */
  archive(
    session: SessionRecord,
    story: string,
    exported: Pick<ExportImages, 'images' | 'cast'>,
    baseUrl: string,
    extra: ExtraEntries = { files: [], texts: [] },
  ): ZipWriter {
    const { images, cast } = exported;
    const modifiedAt = new Date(session.completed_at ?? session.created_at);
    const stored = (name: string, file: { key: string; size: number; crc: number }): StoredFile => ({
      name,
      open: () => this.storage.read(file.key),
      size: file.size,
      crc: file.crc,
    });
    return new ZipWriter(
      [
        ...images.map((image) => stored(`images/${image.file}`, image)),
        ...cast.map((portrait) => stored(portrait.entry, portrait)),
        ...extra.files,
      ],
      [
        {
          name: 'scenes.json',
          text: JSON.stringify(this.manifest(session, images, cast, baseUrl), null, 2),
        },
        { name: 'story.txt', text: story },
        ...extra.texts,
      ],
      Number.isNaN(modifiedAt.getTime()) ? new Date() : modifiedAt,
      this.storage.readAhead,
    );
  }

  private manifest(session: SessionRecord, images: ZipImage[], cast: ZipPortrait[], baseUrl: string) {
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
        // The cast portraits this version was rendered from; `file` when the ZIP holds that very version.
        references: (scene.references ?? []).map(({ name, version }) => {
          const castIndex = session.cast.findIndex((member) => member.name === name);
          const portrait = cast.find((p) => p.castIndex === castIndex && p.version === version);
          return { name, version, file: portrait?.entry ?? null };
        }),
        reference_mode: scene.reference_mode ?? null,
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

/**
 * A name as a file name on any system: letters and digits of any script kept, anything else (separators,
 * reserved characters, control characters) as "_", at most 60 characters, never empty or a reserved name.
 */
export function safeFileName(name: string): string {
  const cleaned = name
    .normalize('NFC')
    .replace(/[^\p{L}\p{N}\p{M} ._-]/gu, '_')
    .replace(/\s+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^[._]+|[._]+$/g, '');
  const short = [...cleaned].slice(0, 60).join('');
  if (short === '' || /^(con|prn|aux|nul|com\d|lpt\d)$/i.test(short)) return `character_${short}`;
  return short;
}

function uniqueName(base: string, ext: string, taken: Set<string>): string {
  let name = `${base}${ext}`;
  for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${base}_${n}${ext}`;
  taken.add(name.toLowerCase());
  return name;
}
