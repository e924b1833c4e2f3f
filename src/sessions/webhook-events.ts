import { Injectable, Logger } from '@nestjs/common';
import { SessionRecord } from '../domain/session.model';
import { JobQueue } from '../queue/job-queue.service';
import { SessionStore } from './session.store';

export const WEBHOOK_EVENTS = [
  'session.completed',
  'session.failed',
  'scene.regenerated',
  'download.completed',
  'download.failed',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

const RECONCILE_PAGE = 500;
/** How long after an outcome the reconciler waits before it queues the event itself. */
const RECONCILE_GRACE_MS = 5_000;

/** What every event's `data` holds: enough to act without a GET /status first. */
interface SessionSummary {
  session_id: string;
  status: string;
  phase: string;
  error: string | null;
  num_scenes: number;
  scenes_done: number;
  scenes_failed: number;
  download_status: string;
}

/**
 * Emits a session's webhook events, once the transition each one reports has been written. Each event is
 * fixed here (its `webhook-id` and its exact body) and handed to a delivery job whose id is the event's, so
 * retries resend the same event and the same transition reported twice is queued once. A session without a
 * callback_url emits nothing.
 */
@Injectable()
export class WebhookEvents {
  private readonly logger = new Logger('Webhooks');

  constructor(
    private readonly sessions: SessionStore,
    private readonly jobs: JobQueue,
  ) {}

  /** The session's first outcome: completed, or failed (planning failed, its renders failed, it stalled). */
  async sessionEnded(sessionId: string): Promise<void> {
    await this.emit(sessionId, (session) => {
      if (session.status === 'processing') return null;
      const type = session.status === 'completed' ? 'session.completed' : 'session.failed';
      return { type, key: type, data: {} };
    });
  }

  /** A regenerated version's render ended (done, or failed for good); carries the session's state after it. */
  async sceneRegenerated(sessionId: string, index: number, version: number): Promise<void> {
    await this.emit(sessionId, (session) => {
      const scene = session.scenes.find((s) => s.index === index);
      if (!scene) return null;
      // The current version may be another one if a client selected meanwhile: report the version rendered.
      const rendered =
        (scene.version ?? 1) === version ? scene : scene.history?.find((v) => v.version === version);
      return {
        type: 'scene.regenerated',
        key: `scene.regenerated-${index}-v${version}`,
        data: {
          scene: {
            index,
            version,
            status: rendered?.status ?? 'failed',
            error: rendered?.error ?? null,
            current_version: scene.version ?? 1,
          },
        },
      };
    });
  }

  /** The approved scenes' download ended: completed when every one arrived, failed otherwise. */
  async downloadEnded(sessionId: string): Promise<void> {
    await this.emit(sessionId, (session) => {
      if (session.download_status !== 'completed' && session.download_status !== 'failed') return null;
      const type = session.download_status === 'completed' ? 'download.completed' : 'download.failed';
      return {
        type,
        key: type,
        data: { approved_scenes: session.approved, download_error: session.download_error },
      };
    });
  }

  /**
   * The backstop of at-least-once delivery: a process that wrote an outcome but died (or lost Redis)
   * before queuing its event leaves the session without the event's marker. Once per housekeeping tick,
   * sessions with a callback_url whose outcome has been written for a while, and whose event was not
   * queued, get it queued now. Returns how many events it queued.
   */
  async reconcile(now = Date.now()): Promise<number> {
    let queued = 0;
    for (let offset = 0; ; offset += RECONCILE_PAGE) {
      const ids = await this.sessions.listActive(RECONCILE_PAGE, offset);
      const outcomes = await this.sessions.webhookOutcomes(ids);
      for (const [i, outcome] of outcomes.entries()) {
        // The process that wrote it may still be about to queue the event: leave it the moment.
        if (!outcome || now - Date.parse(outcome.updated_at) < RECONCILE_GRACE_MS) continue;
        const ended = outcome.status === 'completed' ? 'session.completed' : 'session.failed';
        if (outcome.status !== 'processing' && !outcome.queued.has(ended)) {
          await this.sessionEnded(ids[i]);
          queued++;
        }
        const download = `download.${outcome.download_status}`;
        if (
          (download === 'download.completed' || download === 'download.failed') &&
          !outcome.queued.has(download)
        ) {
          await this.downloadEnded(ids[i]);
          queued++;
        }
      }
      if (ids.length < RECONCILE_PAGE) break;
    }
    if (queued > 0) this.logger.warn(`Queued ${queued} webhook event(s) whose sessions had not queued them`);
    return queued;
  }

  /**
   * Reads the session as the transition left it and queues its event. A failure to queue is logged, not
   * thrown: the transition is written and stands, and the caller's job must not be retried for it.
   */
  private async emit(
    sessionId: string,
    event: (
      session: SessionRecord,
    ) => { type: WebhookEventType; key: string; data: Record<string, unknown> } | null,
  ): Promise<void> {
    try {
      const session = await this.sessions.get(sessionId);
      if (!session?.webhook) return;
      const chosen = event(session);
      if (!chosen) return;
      const body = JSON.stringify({
        type: chosen.type,
        timestamp: new Date().toISOString(),
        data: { ...summaryOf(session), ...chosen.data },
      });
      await this.jobs.deliverWebhook({
        sessionId,
        // Deterministic: the same transition reported again is the same event (and the same job).
        webhookId: `msg_${sessionId}_${chosen.key}`.replace(/[^A-Za-z0-9_.-]/g, '-'),
        type: chosen.type,
        url: session.webhook.url,
        body,
      });
      await this.sessions.markWebhookQueued(sessionId, chosen.key);
    } catch (err) {
      this.logger.warn(`Could not queue a webhook event of session ${sessionId}: ${String(err)}`);
    }
  }
}

function summaryOf(session: SessionRecord): SessionSummary {
  return {
    session_id: session.id,
    status: session.status,
    phase: session.phase,
    error: session.error,
    num_scenes: session.planned ? session.scenes.length : session.requested_scenes,
    scenes_done: session.scenes.filter((s) => s.status === 'done').length,
    scenes_failed: session.scenes.filter((s) => s.status === 'failed').length,
    download_status: session.download_status,
  };
}
