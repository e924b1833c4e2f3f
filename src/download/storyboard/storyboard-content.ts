import { createHash } from 'node:crypto';
import { MediaType, SessionRecord } from '../../domain/session.model';
import type { ZipImage } from '../zip-export.service';

/**
 * Bumped whenever the PDF's layout changes, so PDFs recorded by an earlier layout are built again instead
 * of being reused (it is part of the fingerprint).
 */
const LAYOUT_VERSION = 1;

/** The title page's heading is the story's first line; a story written as one long paragraph is cut. */
const HEADING_MAX_CHARS = 200;

export interface StoryboardScene {
  /** 1-based, as `scene_number` in GET /status and scenes.json. */
  sceneNumber: number;
  title: string;
  description: string;
  /** The scene's current version: the one approval downloaded and the export holds. */
  version: number;
  /** The exported image: its path inside the ZIP, storage key, size and CRC-32. */
  image: ZipImage;
}

/** Everything the storyboard PDF and HTML show, and nothing else: the PDF's fingerprint is taken over it. */
export interface Storyboard {
  heading: string;
  mediaType: MediaType;
  /** When the session was created and when its scenes were last completed: the PDF's own dates. */
  createdAt: Date;
  completedAt: Date;
  /** The date shown on the title page (UTC, YYYY-MM-DD): the completion date, as on the ZIP's entries. */
  date: string;
  scenes: StoryboardScene[];
}

/** The storyboard of an export: the exported images, in their order, with their scenes' current text. */
export function storyboardOf(session: SessionRecord, story: string, images: ZipImage[]): Storyboard {
  const createdAt = validDate(session.created_at, new Date(0));
  const completedAt = validDate(session.completed_at, createdAt);
  return {
    heading: headingOf(story),
    mediaType: session.media_type,
    createdAt,
    completedAt,
    date: completedAt.toISOString().slice(0, 10),
    scenes: images.map((image) => {
      const scene = session.scenes[image.index];
      return {
        sceneNumber: image.index + 1,
        title: scene?.title ?? '',
        description: scene?.description ?? '',
        version: scene?.version ?? 1,
        image,
      };
    }),
  };
}

/**
 * sha256 (hex) of everything the PDF depends on: the layout, the title page's facts, and for each scene its
 * number, text, version and exported image (file, size, CRC-32). Equal fingerprints mean equal PDFs, since
 * the PDF is built deterministically from exactly these.
 */
export function fingerprintOf(board: Storyboard): string {
  const facts = {
    layout: LAYOUT_VERSION,
    heading: board.heading,
    mediaType: board.mediaType,
    createdAt: board.createdAt.toISOString(),
    completedAt: board.completedAt.toISOString(),
    scenes: board.scenes.map((scene) => ({
      number: scene.sceneNumber,
      title: scene.title,
      description: scene.description,
      version: scene.version,
      image: {
        index: scene.image.index,
        file: scene.image.file,
        size: scene.image.size,
        crc: scene.image.crc,
      },
    })),
  };
  return createHash('sha256').update(JSON.stringify(facts)).digest('hex');
}

/** The story's first non-blank line, cut at a word near HEADING_MAX_CHARS with an ellipsis. */
export function headingOf(story: string): string {
  const line = story
    .split(/\r\n|\r|\n/)
    .map((l) => l.trim().replace(/\s+/g, ' '))
    .find((l) => l.length > 0);
  if (!line) return 'Storyboard';
  const chars = [...line];
  if (chars.length <= HEADING_MAX_CHARS) return line;
  const cut = chars.slice(0, HEADING_MAX_CHARS).join('');
  const space = cut.lastIndexOf(' ');
  return `${space > HEADING_MAX_CHARS / 2 ? cut.slice(0, space) : cut}…`;
}

function validDate(iso: string | null | undefined, fallback: Date): Date {
  const date = iso ? new Date(iso) : fallback;
  return Number.isNaN(date.getTime()) ? fallback : date;
}
