export const MEDIA_TYPES = ['cinematic', 'cartoon', 'realistic'] as const;
export type MediaType = (typeof MEDIA_TYPES)[number];

export type SessionStatus = 'processing' | 'completed' | 'failed';
export type SessionPhase = 'queued' | 'planning' | 'casting' | 'rendering' | 'awaiting_approval' | 'failed';
export const SESSION_PHASES: SessionPhase[] = [
  'queued',
  'planning',
  'casting',
  'rendering',
  'awaiting_approval',
  'failed',
];
export type SceneStatus = 'pending' | 'rendering' | 'done' | 'failed';
export type DownloadStatus = 'not_started' | 'started' | 'completed' | 'failed';

/**
 * Where a rendered image can be fetched from: a provider URL, or an image this service rendered itself, by
 * its storage key. `local` (an absolute path under IMAGE_DIR) is how sessions made before the storage port
 * recorded it; it is still read, as the key it ends with.
 */
export type ImageSource =
  { kind: 'remote'; url: string } | { kind: 'stored'; key: string } | { kind: 'local'; path: string };

export interface SceneRecord {
  index: number;
  title: string;
  description: string;
  image_prompt: string;
  negative_prompt: string | null;
  characters: string[];
  status: SceneStatus;
  image_url: string | null;
  seed: number | null;
  provider: string | null;
  model: string | null;
  error: string | null;
  attempts: number;
  source: ImageSource | null;
  rendered_at: string | null;
  /** host:pid of the worker process that rendered it (for operators; not in the public view). */
  rendered_by: string | null;
  /** The current version (1 for the first render; absent on records written before versions existed). */
  version?: number;
  /** The prompt the current version was (or is being) rendered with; `image_prompt` is the editable one. */
  prompt?: string;
  /** When the current version was asked for (a regeneration); absent for the first render. */
  requested_at?: string;
  /** Versions other than the current one, kept until the session expires (src/scenes/scene-versions.ts). */
  history?: SceneRender[];
  /** The cast portraits the current version was rendered from (none: from the text alone). */
  references?: PortraitUse[];
  /** How they were passed (reference-images, ip-adapters, offline); null: text only. */
  reference_mode?: string | null;
}

/** A portrait a scene version was rendered from: whose, and which version of it. */
export interface PortraitUse {
  name: string;
  version: number;
}

/** The part of a scene its render job changes, stored apart from the planned part. */
export type SceneRender = Partial<
  Pick<
    SceneRecord,
    | 'status'
    | 'image_url'
    | 'seed'
    | 'provider'
    | 'model'
    | 'error'
    | 'attempts'
    | 'source'
    | 'rendered_at'
    | 'rendered_by'
    | 'version'
    | 'prompt'
    | 'requested_at'
    | 'references'
    | 'reference_mode'
  >
>;

export interface SceneDownload {
  status: 'done' | 'failed';
  file: string | null;
  bytes: number | null;
  content_type: string | null;
  error: string | null;
  /** CRC-32 of the file as written, so the ZIP export can put it in the entry's header up front. */
  crc32?: number | null;
  /** The version of the image it is a copy of (cast portraits). */
  version?: number;
}

/** Where a session's webhook events go, and how the last delivery went (GET /status `webhook`). */
export interface WebhookRecord {
  url: string;
  /** The type of the last event a delivery was attempted for. */
  last_event: string | null;
  /** The receiver's HTTP status on the last attempt; null when it gave none (timeout, refused). */
  last_status_code: number | null;
  /** Attempts made so far for the last event. */
  attempts: number;
  /** When the last event was delivered (a 2xx); null while it is not. */
  delivered_at: string | null;
}

/**
 * The storyboard PDF built for the session's export (src/download/storyboard/), kept in the image storage
 * so every export streams the same bytes without building it again.
 */
export interface StoryboardRecord {
  /** sha256 (hex) of everything the PDF shows: an export whose content differs builds a new one. */
  fingerprint: string;
  /** Its storage key (image-keys.ts storyboardKey). */
  key: string;
  /** Size and CRC-32 as written, for the ZIP entry's header. */
  bytes: number;
  crc32: number;
}

export interface CastMember {
  name: string;
  /** What the character looks like: age, build, hair, clothing, palette. */
  description: string;
  /**
   * The casting step's portrait (stored in its own field, `portrait:<cast index>`, so parallel portrait jobs
   * never overwrite each other); absent for members beyond CAST_PORTRAITS_MAX or in no scene, and in
   * sessions from before casting.
   */
  portrait?: PortraitRecord;
}

/** A cast member's portrait: rendered like a scene, and then passed to the renders of its scenes. */
export interface PortraitRecord {
  status: SceneStatus;
  version: number;
  image_url: string | null;
  source: ImageSource | null;
  /** How the renderer takes it back as a reference (Runware's image UUID; offline, its storage key). */
  reference: string | null;
  seed: number;
  model: string | null;
  provider: string | null;
  error: string | null;
  attempts: number;
  rendered_at: string | null;
  /**
   * The last version that was drawn, while a newer one renders or after it failed: scenes keep being
   * rendered from it, and the export keeps it, so a redraw never loses a good portrait.
   */
  last_done?: DrawnPortrait;
}

/** A portrait version that was drawn: what scenes are rendered from and the export copies. */
export type DrawnPortrait = Pick<PortraitRecord, 'version' | 'image_url' | 'source' | 'reference' | 'seed'>;

/** The portrait scenes are rendered from now: the current version once drawn, else the last one drawn. */
export function drawnPortrait(portrait: PortraitRecord | undefined): DrawnPortrait | undefined {
  if (portrait?.status !== 'done' || !portrait.reference) return portrait?.last_done;
  const { version, image_url, source, reference, seed } = portrait;
  return { version, image_url, source, reference, seed };
}

export interface SessionRecord {
  id: string;
  /**
   * The tenant that created it (an API key's name, or a hash of the key); `*` when the deployment had no
   * API_KEYS; null for sessions from before owners were recorded. Never the key itself.
   */
  owner: string | null;
  /** Write counter: bumped by every change. */
  version: number;
  status: SessionStatus;
  phase: SessionPhase;
  media_type: MediaType;
  /** What the client asked for; `scenes.length` is what the planner produced. */
  requested_scenes: number;
  seed: number;
  planner: string | null;
  style: string | null;
  cast: CastMember[];
  scenes: SceneRecord[];
  planned: boolean;
  finalized: boolean;
  warnings: string[];
  error: string | null;
  approved: number[];
  download_status: DownloadStatus;
  download_error: string | null;
  downloads: Record<number, SceneDownload>;
  /** The approved export's copies of the cast portraits, by cast index (`cast/<name>.<ext>` in the ZIP). */
  cast_downloads: Record<number, SceneDownload>;
  /** The callback_url and its delivery record; null without one. */
  webhook: WebhookRecord | null;
  /** The storyboard PDF last built for an export; absent until one is (and in sessions from before it). */
  storyboard?: StoryboardRecord | null;
  created_at: string;
  updated_at: string;
  planned_at: string | null;
  completed_at: string | null;
  downloaded_at: string | null;
}

export function newScene(
  index: number,
  fields: Pick<SceneRecord, 'title' | 'description' | 'image_prompt'> & Partial<SceneRecord>,
): SceneRecord {
  return {
    negative_prompt: null,
    characters: [],
    status: 'pending',
    image_url: null,
    seed: null,
    provider: null,
    model: null,
    error: null,
    attempts: 0,
    source: null,
    rendered_at: null,
    rendered_by: null,
    ...fields,
    index,
  };
}
