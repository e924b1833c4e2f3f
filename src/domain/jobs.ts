import type { Job } from 'bullmq';
import { MediaType } from './session.model';

/** Queue and job names. Each job name is handled by exactly one processor (checked when workers start). */
export enum QueueName {
  Generation = 'generation',
  Download = 'download',
  Housekeeping = 'housekeeping',
  Webhooks = 'webhooks',
}

export enum JobName {
  PlanStory = 'plan-story',
  RenderScene = 'render-scene',
  RenderPortrait = 'render-portrait',
  DownloadImages = 'download-images',
  /**
   * The flow parent of sessions planned before renders fanned in by a counter: still handled (it finalises
   * its session) so sessions in flight across that upgrade complete. Nothing adds it any more.
   */
  LegacyFinalizeSession = 'finalize-session',
  SweepExpiredSessions = 'sweep-expired-sessions',
  CheckStalledSessions = 'check-stalled-sessions',
  DeliverWebhook = 'deliver-webhook',
}

export interface SessionJob {
  sessionId: string;
  /** Written by the job itself while a provider fails it (src/generation/provider-outages.ts). */
  outage?: OutageTrack;
}

/** Times (Redis clock, ms) of a job's brush with a failing provider. */
export interface OutageTrack {
  /** First retryable failure since the provider last answered this job. */
  failingSince?: number;
  /** When it started waiting for the provider: the outage tolerance counts from here. */
  waitingSince?: number;
}

/**
 * A cast member's portrait as a scene render passes it on, so the character keeps one look in every scene.
 */
export interface PortraitReference {
  /** The cast member, as the scene's `characters` name them. */
  name: string;
  /**
   * The portrait as the renderer takes it back: Runware's image UUID of it (or its URL on Runware's host);
   * for the offline renderer, its storage key. Never a URL of this service, which a provider may not reach.
   */
  image: string;
  /** The portrait's seed: with the name, what the offline renderer draws the character's mark from. */
  seed: number;
  /** The portrait's version, recorded with the scene it is used for. */
  version?: number;
}

/** One portrait of the casting step: a neutral, full-figure character sheet in the media type's style. */
export interface PortraitRenderRequest extends SessionJob {
  /** The cast member's position in the session's cast sheet. */
  castIndex: number;
  name: string;
  description: string;
  prompt: string;
  negativePrompt: string | null;
  mediaType: MediaType;
  seed: number;
  /** The portrait version this render makes: absent or 1 for the casting step, higher for a regeneration. */
  version?: number;
}

/**
 * One scene's render: what the render job carries and what the renderer is asked for, so rendering reads
 * nothing from the session.
 */
export interface SceneRenderRequest extends SessionJob {
  sceneIndex: number;
  title: string;
  prompt: string;
  negativePrompt: string | null;
  mediaType: MediaType;
  seed: number;
  /** The scene version this render makes: absent or 1 for the first render, higher for a regeneration. */
  version?: number;
  /** When a regeneration was asked for: recorded as its version's `created_at`. */
  requestedAt?: string;
  /** The portraits of the cast members in this scene, to render it from; absent or empty: text only. */
  references?: PortraitReference[];
}

/**
 * One webhook event, fixed when it is emitted: every attempt sends the same `webhook-id` and the same body
 * (only the signature's timestamp is the attempt's own), so receivers can deduplicate retries.
 */
export interface WebhookDelivery {
  sessionId: string;
  /** Standard Webhooks `webhook-id`; also (without its prefix) the job id, so an event is queued once. */
  webhookId: string;
  type: string;
  url: string;
  /** The exact JSON body, as signed. */
  body: string;
}

/** Each job's data, by name: producers and handlers are typed from this one map. */
export interface JobDataOf {
  [JobName.PlanStory]: SessionJob;
  [JobName.RenderScene]: SceneRenderRequest;
  [JobName.RenderPortrait]: PortraitRenderRequest;
  [JobName.DownloadImages]: SessionJob;
  [JobName.LegacyFinalizeSession]: SessionJob;
  [JobName.SweepExpiredSessions]: Record<string, never>;
  [JobName.CheckStalledSessions]: Record<string, never>;
  [JobName.DeliverWebhook]: WebhookDelivery;
}

/** A job of one of `Names`; switching on `job.name` narrows `job.data` without casts. */
export type JobOf<Names extends JobName> = { [N in Names]: Job<JobDataOf[N], void, N> }[Names];

/** Which queue each job runs on. */
export const QUEUE_OF: Record<JobName, QueueName> = {
  [JobName.PlanStory]: QueueName.Generation,
  [JobName.RenderScene]: QueueName.Generation,
  [JobName.RenderPortrait]: QueueName.Generation,
  [JobName.DownloadImages]: QueueName.Download,
  [JobName.LegacyFinalizeSession]: QueueName.Generation,
  [JobName.SweepExpiredSessions]: QueueName.Housekeeping,
  [JobName.CheckStalledSessions]: QueueName.Housekeeping,
  [JobName.DeliverWebhook]: QueueName.Webhooks,
};

/** What a processor declares, so start-up can check that every job name has exactly one handler. */
export interface JobProcessor {
  readonly queue: QueueName;
  readonly handles: readonly JobName[];
}
