import { WEBHOOK_EVENTS } from './webhook-events';
import { ApiProperty } from '@nestjs/swagger';
import { Progress, progressOf } from './session-lifecycle';
import {
  CastMember,
  DownloadStatus,
  drawnPortrait,
  SESSION_PHASES,
  MEDIA_TYPES,
  MediaType,
  SceneRecord,
  SceneStatus,
  SessionPhase,
  SessionRecord,
  SessionStatus,
  WebhookRecord,
} from '../domain/session.model';
import { versionsOf } from '../domain/scene-versions';

export class ProgressView implements Progress {
  @ApiProperty({ type: 'integer', minimum: 0, description: 'Never decreases' }) current_step!: number;
  @ApiProperty({
    type: 'integer',
    minimum: 1,
    description: 'Planning, one per cast portrait, one per scene, finalising',
  })
  total_steps!: number;
  @ApiProperty() description!: string;
}

export class SceneDownloadView {
  @ApiProperty({ enum: ['done', 'failed'] }) status!: 'done' | 'failed';
  @ApiProperty({
    type: String,
    nullable: true,
    description:
      'URL of the downloaded file, served under /static (signed when API_KEYS is set: a plain GET loads ' +
      'it until its `expires`); null when the download failed',
  })
  file_url!: string | null;
  @ApiProperty({ type: String, nullable: true }) error!: string | null;
}

export class SceneVersionView {
  @ApiProperty({ type: 'integer', minimum: 1, description: '1 for the first render' }) version!: number;
  @ApiProperty({ enum: ['pending', 'rendering', 'done', 'failed'], enumName: 'SceneStatus' })
  status!: SceneStatus;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The image of this version (signed like `image_url`); kept until the session expires',
  })
  image_url!: string | null;
  @ApiProperty({ description: 'The prompt this version was rendered with' }) image_prompt!: string;
  @ApiProperty({ type: 'integer', nullable: true, description: 'The seed it was rendered with' })
  seed!: number | null;
  @ApiProperty({ format: 'date-time', description: 'When this version was asked for' }) created_at!: string;
}

export class PortraitUseView {
  @ApiProperty({ description: 'The cast member' }) name!: string;
  @ApiProperty({ type: 'integer', minimum: 1, description: 'The version of the portrait used' })
  version!: number;
}

export class CastMemberView {
  @ApiProperty() name!: string;
  @ApiProperty({ description: 'What the character looks like: age, build, hair, clothing, palette' })
  description!: string;
  @ApiProperty({
    enum: ['pending', 'rendering', 'done', 'failed', 'not_cast'],
    description:
      "The portrait's status; `not_cast`: no portrait (beyond CAST_PORTRAITS_MAX, in no scene, or casting off)",
  })
  status!: SceneStatus | 'not_cast';
  @ApiProperty({
    type: String,
    nullable: true,
    description: "The portrait: a provider URL, or this service's /static URL (signed like scene images)",
  })
  image_url!: string | null;
  @ApiProperty({ type: 'integer', nullable: true, description: 'The seed it was rendered with' })
  seed!: number | null;
  @ApiProperty({
    type: 'integer',
    nullable: true,
    description: 'The current version (POST …/cast/{name}/regenerate adds one); null without a portrait',
  })
  version!: number | null;
  @ApiProperty({ type: String, nullable: true }) error!: string | null;
}

export class SceneView {
  @ApiProperty({ type: 'integer', minimum: 0, description: '0-based' }) index!: number;
  @ApiProperty({ type: 'integer', minimum: 1, description: 'index + 1' }) scene_number!: number;
  @ApiProperty() title!: string;
  @ApiProperty({ description: 'The passage of the story this scene shows' }) description!: string;
  @ApiProperty() image_prompt!: string;
  @ApiProperty({ enum: ['pending', 'rendering', 'done', 'failed'], enumName: 'SceneStatus' })
  status!: SceneStatus;
  @ApiProperty({
    type: String,
    nullable: true,
    description:
      "The rendered image: a provider URL, or this service's /static URL (signed when API_KEYS is set); " +
      'null until rendered',
  })
  image_url!: string | null;
  @ApiProperty({ type: 'integer', nullable: true, description: "The session's seed, once rendered" })
  seed!: number | null;
  @ApiProperty({ type: String, nullable: true }) error!: string | null;
  @ApiProperty({
    type: 'integer',
    minimum: 1,
    description: 'The current version: the one shown here, approved and exported',
  })
  version!: number;
  @ApiProperty({
    type: [SceneVersionView],
    description:
      'Every version of the scene, oldest first (POST …/regenerate adds one, POST …/select picks one)',
  })
  versions!: SceneVersionView[];
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Renderer that made the image: offline or runware',
  })
  provider!: string | null;
  @ApiProperty({ type: String, nullable: true }) model!: string | null;
  @ApiProperty({ type: [String], description: 'Cast members this scene shows' }) characters!: string[];
  @ApiProperty({
    type: [PortraitUseView],
    description:
      'The cast portraits the current version was rendered from; empty: from the text alone (no portraits, ' +
      'or the model refused them)',
  })
  references!: PortraitUseView[];
  @ApiProperty() approved!: boolean;
  @ApiProperty({
    type: SceneDownloadView,
    nullable: true,
    description: "The approved scene's download; null for scenes not approved and while it is running",
  })
  download!: SceneDownloadView | null;
}

export class WebhookView {
  @ApiProperty({ description: 'The callback_url given to POST /generate' }) url!: string;
  @ApiProperty({
    type: String,
    nullable: true,
    enum: WEBHOOK_EVENTS,
    description: 'The last event a delivery was attempted for; null before the first',
  })
  last_event!: string | null;
  @ApiProperty({
    type: 'integer',
    nullable: true,
    description:
      "The receiver's HTTP status on the last attempt; null when it answered none (timeout, refused)",
  })
  last_status_code!: number | null;
  @ApiProperty({ type: 'integer', minimum: 0, description: 'Attempts made for the last event' })
  attempts!: number;
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'When the last event was delivered (a 2xx answer); null while it is not',
  })
  delivered_at!: string | null;
}

export class StatusView {
  @ApiProperty({ format: 'uuid' }) session_id!: string;
  @ApiProperty({ enum: ['processing', 'completed', 'failed'], enumName: 'SessionStatus' })
  status!: SessionStatus;
  @ApiProperty({ enum: SESSION_PHASES, enumName: 'SessionPhase' })
  phase!: SessionPhase;
  @ApiProperty({ type: ProgressView }) progress!: ProgressView;
  @ApiProperty({ enum: MEDIA_TYPES, enumName: 'MediaType' }) media_type!: MediaType;
  @ApiProperty({
    type: 'integer',
    minimum: 0,
    description: 'Scenes planned (requested_scenes until planning is done)',
  })
  num_scenes!: number;
  @ApiProperty({ type: 'integer', minimum: 1 }) requested_scenes!: number;
  @ApiProperty({
    type: [CastMemberView],
    description: "The plan's cast sheet, each with its portrait (the casting step draws the main characters)",
  })
  cast!: CastMemberView[];
  @ApiProperty({ type: [SceneView] }) scenes!: SceneView[];
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Planner that made the scenes: offline or openrouter',
  })
  planner!: string | null;
  @ApiProperty({ type: 'integer', isArray: true, description: 'Approved scene indices' })
  approved_scenes!: number[];
  @ApiProperty({ enum: ['not_started', 'started', 'completed', 'failed'], enumName: 'DownloadStatus' })
  download_status!: DownloadStatus;
  @ApiProperty({ type: String, nullable: true }) error!: string | null;
  @ApiProperty({ type: [String] }) warnings!: string[];
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time' }) updated_at!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) planned_at!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) completed_at!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) downloaded_at!: string | null;
  @ApiProperty({
    type: WebhookView,
    nullable: true,
    description:
      'Signed webhook deliveries to the callback_url (never the secret); null without a callback_url',
  })
  webhook!: WebhookView | null;
}

/** Turns a path of this service's images into the URL clients get: signed, when API_KEYS is set. */
export type ImageUrlSigner = (path: string) => string;

const unsigned: ImageUrlSigner = (path) => path;

/**
 * The public shape of a session. `baseUrl` makes this service's own relative URLs absolute, and `sign`
 * signs them (provider URLs are left alone).
 */
export function toStatusView(session: SessionRecord, baseUrl: string, sign = unsigned): StatusView {
  const approved = new Set(session.approved);
  return {
    session_id: session.id,
    status: session.status,
    phase: session.phase,
    progress: progressOf(session),
    media_type: session.media_type,
    num_scenes: session.planned ? session.scenes.length : session.requested_scenes,
    requested_scenes: session.requested_scenes,
    cast: session.cast.map((member) => castMemberView(member, (path) => `${baseUrl}${sign(path)}`)),
    scenes: session.scenes.map((scene) =>
      sceneView(session, scene, approved.has(scene.index), (path) => `${baseUrl}${sign(path)}`),
    ),
    planner: session.planner,
    approved_scenes: session.approved,
    download_status: session.download_status,
    error: session.error,
    warnings: session.warnings,
    created_at: session.created_at,
    updated_at: session.updated_at,
    planned_at: session.planned_at,
    completed_at: session.completed_at,
    downloaded_at: session.downloaded_at,
    webhook: session.webhook ? webhookView(session.webhook) : null,
  };
}

function castMemberView(member: CastMember, ownUrl: (path: string) => string): CastMemberView {
  const portrait = member.portrait;
  // While a portrait is drawn again, or after the redraw failed, the last version drawn is shown.
  const url = drawnPortrait(portrait)?.image_url ?? null;
  return {
    name: member.name,
    description: member.description,
    status: portrait?.status ?? 'not_cast',
    image_url: url?.startsWith('/') ? ownUrl(url) : url,
    seed: portrait?.seed ?? null,
    version: portrait?.version ?? null,
    error: portrait?.error ?? null,
  };
}

/** The delivery record, field by field: nothing else stored with it is ever shown. */
function webhookView(record: WebhookRecord): WebhookView {
  const { url, last_event, last_status_code, attempts, delivered_at } = record;
  return { url, last_event, last_status_code, attempts, delivered_at };
}

/** One scene of a session, as `GET /status` shows it (the scene endpoints answer with it). */
export function toSceneView(
  session: SessionRecord,
  scene: SceneRecord,
  baseUrl: string,
  sign = unsigned,
): SceneView {
  return sceneView(
    session,
    scene,
    session.approved.includes(scene.index),
    (path) => `${baseUrl}${sign(path)}`,
  );
}

function sceneView(
  session: SessionRecord,
  scene: SceneRecord,
  approved: boolean,
  ownUrl: (path: string) => string,
): SceneView {
  const download = session.downloads[scene.index];
  // Offline renders are this service's own (`/static/…`); provider URLs are the provider's.
  const imageUrl = (url: string | null | undefined) => (url?.startsWith('/') ? ownUrl(url) : (url ?? null));
  return {
    index: scene.index,
    scene_number: scene.index + 1,
    title: scene.title,
    description: scene.description,
    image_prompt: scene.image_prompt,
    status: scene.status,
    image_url: imageUrl(scene.image_url),
    seed: scene.seed,
    error: scene.error,
    version: scene.version ?? 1,
    versions: versionsOf(scene).map((v) => ({
      version: v.version,
      status: v.status ?? 'pending',
      image_url: imageUrl(v.image_url),
      image_prompt: v.prompt ?? scene.image_prompt,
      seed: v.seed ?? null,
      created_at: v.requested_at ?? session.planned_at ?? v.rendered_at ?? session.created_at,
    })),
    provider: scene.provider,
    model: scene.model,
    characters: scene.characters,
    references: scene.references ?? [],
    approved,
    download: download
      ? {
          status: download.status,
          file_url: download.file ? ownUrl(`/static/${session.id}/${download.file}`) : null,
          error: download.error,
        }
      : null,
  };
}
