import { Injectable, Logger } from '@nestjs/common';
import { SceneRecord } from '../domain/session.model';
import { isRendering, RENDER_NOT_COMPLETED } from '../domain/scene-versions';
import { countSessionEnd } from '../common/metrics';
import { WebhookEvents } from './webhook-events';
import { isRenderFailureWarning, outcomeOfRender } from './session-lifecycle';
import { SessionStore } from './session.store';

/**
 * Ends a session: a planned one once its renders are over (by the render that ends its last scene, or by
 * the watchdog when nothing is left to end it; scenes whose render never recorded an end count as failed),
 * or any processing one by failing it. Either way, a session's first outcome is reported to its webhook.
 */
@Injectable()
export class SessionFinalizer {
  private readonly logger = new Logger('Generation');

  constructor(
    private readonly sessions: SessionStore,
    private readonly webhooks: WebhookEvents,
  ) {}

  /**
   * Writes the session's outcome once; returns whether this call did. Called when the session's last render
   * has ended, it writes nothing if a render has started since (a regeneration). The watchdog's call
   * (`stalled`) ends the renders that never recorded an end as failed.
   */
  async finalize(sessionId: string, { stalled = false } = {}): Promise<boolean> {
    const session = await this.sessions.get(sessionId);
    if (!session || session.finalized || !session.planned) return false;
    const scenes = session.scenes.map((scene): SceneRecord =>
      isRendering(scene) ? { ...scene, status: 'failed', error: scene.error ?? RENDER_NOT_COMPLETED } : scene,
    );
    const unfinished = scenes.filter((scene, i) => scene !== session.scenes[i]);
    const outcome = outcomeOfRender(scenes);
    const written = await this.sessions.finalize(
      sessionId,
      {
        status: outcome.status,
        phase: outcome.phase,
        error: outcome.error,
        // A session finalised again after a regeneration states its scenes' failures afresh.
        warnings: [...session.warnings.filter((w) => !isRenderFailureWarning(w)), ...outcome.warnings],
        completed_at: new Date().toISOString(),
      },
      // The render record is replaced whole: it keeps saying which version it is.
      unfinished.map(({ index, status, error, version, prompt, requested_at }) => ({
        index,
        status,
        error,
        version,
        prompt,
        requested_at,
      })),
      { onlyIfNoneLeft: !stalled },
    );
    if (written) {
      this.logger.log(`Session ${sessionId} ${outcome.status}`);
      // Finalised again after a regeneration: that is not a session ending (sessions_total counts each once),
      // and scene.regenerated reports it, with the session's new state. Without a callback_url (read above)
      // nothing is read again: the render ending the session waits less.
      const firstOutcome = session.completed_at === null;
      if (firstOutcome) countSessionEnd(outcome.status === 'completed' ? 'completed' : 'failed');
      if (firstOutcome && session.webhook) await this.webhooks.sessionEnded(sessionId);
    }
    return written;
  }

  /**
   * Fails a processing session (SessionStore.fail: once, with the error users see); returns whether this
   * call failed it, and only then reports it.
   */
  async fail(sessionId: string, error: string): Promise<boolean> {
    const failed = await this.sessions.fail(sessionId, error);
    if (failed) await this.webhooks.sessionEnded(sessionId);
    return failed;
  }
}
