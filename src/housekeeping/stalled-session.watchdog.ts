import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { SceneDispatch } from '../generation/scene-dispatch';
import { JobQueue } from '../queue/job-queue.service';
import { SessionFinalizer } from '../sessions/session-finalizer';
import { SessionStore } from '../sessions/session.store';
import { WebhookEvents } from '../sessions/webhook-events';

const PAGE = 500;

/**
 * The last line of defence against a session that never ends: jobs retry, failures are recorded, but if
 * a session still shows no change for SESSION_STALL_MINUTES while processing (or downloading), and none of
 * its jobs is waiting or running any more, it is failed with a clear error rather than left for the client
 * to poll forever. One stuck in its casting step moves on to its scenes instead, as when portraits fail. It runs once per tick for the whole cluster (HousekeepingProcessor).
 */
@Injectable()
export class StalledSessionWatchdog {
  private readonly logger = new Logger('Watchdog');

  constructor(
    private readonly sessions: SessionStore,
    private readonly finalizer: SessionFinalizer,
    private readonly queue: JobQueue,
    private readonly webhooks: WebhookEvents,
    private readonly dispatch: SceneDispatch,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Fails stalled sessions and downloads, or moves a stalled casting step on; returns how many it handled. */
  async check(now = Date.now()): Promise<number> {
    const stallMs = this.config.sessionStallMinutes * 60_000;
    const minutes = this.config.sessionStallMinutes;
    let stopped = 0;
    let movedOn = 0;
    for (let offset = 0; ; offset += PAGE) {
      const ids = await this.sessions.listActive(PAGE, offset);
      const states = await Promise.all(ids.map((id) => this.sessions.activity(id)));
      for (const [i, state] of states.entries()) {
        if (!state || now - Date.parse(state.updated_at) < stallMs) continue;
        // Most quiet sessions are simply finished: only a moving one is worth asking the queue about.
        const moving = state.status === 'processing' || state.download_status === 'started';
        if (!moving || (await this.queue.hasPendingJobs(ids[i], state.scene_count, state.cast_count)))
          continue;
        if (state.status === 'processing' && state.phase === 'casting') {
          // Its portrait jobs were lost: like portraits that failed, they cost the session only their
          // references, and its scenes render from the text.
          if (await this.dispatch.closeAbandonedCasting(ids[i])) {
            movedOn++;
            continue;
          }
        }
        if (state.status === 'processing') {
          // A planned session whose renders all ended but whose last signal was lost is finalised: its
          // rendered scenes stay usable. Only one that cannot be finalised is failed.
          if (await this.finalizer.finalize(ids[i])) {
            stopped++;
            continue;
          }
          await this.finalizer.fail(
            ids[i],
            `The session made no progress for ${minutes} minutes and was stopped; please try again`,
          );
          stopped++;
        } else {
          await this.sessions.update(ids[i], {
            download_status: 'failed',
            download_error: `The download made no progress for ${minutes} minutes and was stopped`,
          });
          await this.webhooks.downloadEnded(ids[i]);
          stopped++;
        }
      }
      if (ids.length < PAGE) break;
    }
    if (stopped > 0) this.logger.warn(`Stopped ${stopped} stalled session(s)`);
    if (movedOn > 0)
      this.logger.warn(`Moved ${movedOn} stalled session(s) on from casting: their portraits never ended`);
    return stopped + movedOn;
  }
}
