import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { SceneDispatch } from '../generation/scene-dispatch';
import { JobQueue } from '../queue/job-queue.service';
import { SessionFinalizer } from '../sessions/session-finalizer';
import { SessionActivity, SessionStore } from '../sessions/session.store';
import { WebhookEvents } from '../sessions/webhook-events';

const PAGE = 500;

/**
 * The last line of defence against a session that never ends: jobs retry, failures are recorded, but if
 * a session still shows no change for SESSION_STALL_MINUTES while processing (or downloading), and none of
 * its jobs is waiting or running any more, it is failed with a clear error rather than left for the client
 * to poll forever. One stuck in its casting step moves on to its scenes instead, as when portraits
 * fail. It runs once per tick for the whole cluster (HousekeepingProcessor).
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
    let stopped = 0;
    let movedOn = 0;
    for (let offset = 0; ; offset += PAGE) {
      const ids = await this.sessions.listActive(PAGE, offset);
      const states = await Promise.all(ids.map((id) => this.sessions.activity(id)));
      for (const [i, state] of states.entries()) {
        if (!state || now - Date.parse(state.updated_at) < stallMs) continue;
        // One session's Redis error must not leave the others of this tick unchecked.
        const outcome = await this.handleQuiet(ids[i], state).catch((err: unknown) => {
          this.logger.warn(`Could not check the stalled session ${ids[i]}: ${String(err)}`);
          return null;
        });
        if (outcome === 'stopped') stopped++;
        if (outcome === 'moved-on') movedOn++;
      }
      if (ids.length < PAGE) break;
    }
    if (stopped > 0) this.logger.warn(`Stopped ${stopped} stalled session(s)`);
    if (movedOn > 0)
      this.logger.warn(`Moved ${movedOn} stalled session(s) on from casting: their portraits never ended`);
    return stopped + movedOn;
  }

  /** A session unchanged for SESSION_STALL_MINUTES: what, if anything, was done about it. */
  private async handleQuiet(id: string, state: SessionActivity): Promise<'stopped' | 'moved-on' | null> {
    const minutes = this.config.sessionStallMinutes;
    // Most quiet sessions are simply finished: only a moving one is worth asking the queue about.
    const moving = state.status === 'processing' || state.download_status === 'started';
    if (!moving || (await this.queue.hasPendingJobs(id, state.scene_count, state.cast_count))) return null;
    if (state.status === 'processing' && state.phase === 'casting') {
      // Its portrait jobs were lost: like portraits that failed, they cost the session only their
      // references, and its scenes render from the text. A session that changed since it was read (a
      // last portrait's failure moving it on just now) is left to the next tick.
      return (await this.dispatch.closeAbandonedCasting(id)) ? 'moved-on' : null;
    }
    if (state.status === 'processing') {
      // A planned session whose renders all ended but whose last signal was lost is finalised: its
      // rendered scenes stay usable. Only one that cannot be finalised is failed.
      if (await this.finalizer.finalize(id, { stalled: true })) return 'stopped';
      await this.finalizer.fail(
        id,
        `The session made no progress for ${minutes} minutes and was stopped; please try again`,
      );
      return 'stopped';
    }
    await this.sessions.update(id, {
      download_status: 'failed',
      download_error: `The download made no progress for ${minutes} minutes and was stopped`,
    });
    await this.webhooks.downloadEnded(id);
    return 'stopped';
  }
}
