import { Injectable } from '@nestjs/common';
import { referencesFor } from '../domain/cast-references';
import { SceneRenderRequest } from '../domain/jobs';
import { isRendering, RENDER_NOT_COMPLETED } from '../domain/scene-versions';
import { SceneRecord, SessionRecord } from '../domain/session.model';
import { JobQueue } from '../queue/job-queue.service';
import { SessionStore } from '../sessions/session.store';
import { portraitFailureWarning, portraitRequest } from './casting';

/**
 * Queues a planned session's renders: its scenes once casting is over, and whatever has not ended when a
 * job runs again. Shared by the generation worker and the stalled-session watchdog, so a session whose
 * portrait jobs were all lost moves on to its scenes the way one with failed portraits does.
 */
@Injectable()
export class SceneDispatch {
  constructor(
    private readonly sessions: SessionStore,
    private readonly jobs: JobQueue,
  ) {}

  /**
   * Casting is over: the session moves on to its scenes, once (of several portraits ending together, one
   * does it), each rendered from the portraits of its characters that were drawn.
   */
  async startScenes(sessionId: string): Promise<void> {
    const session = await this.sessions.get(sessionId);
    if (!session) return;
    // Moved on already, by a run that may have stopped before its scenes were queued (this is a retry):
    // queue those still to render again; job ids make a scene already queued a no-op.
    if (session.phase === 'rendering') return this.queueUnfinished(session);
    if (session.phase !== 'casting') return;
    const failures = session.cast
      .filter((member) => member.portrait?.status === 'failed')
      .map((member) => portraitFailureWarning(member.name, member.portrait?.error ?? null));
    const warnings = [...session.warnings, ...failures.filter((w) => !session.warnings.includes(w))];
    if (!(await this.sessions.beginScenes(sessionId, { warnings }))) return;
    await this.jobs.renderScenes(sessionId, session.scenes.map(renderRequest(session)));
  }

  /**
   * Renders of a planned session that have not ended, queued again (a job id that still exists is not
   * added twice): a scene that already ended is never rendered, and paid for, again.
   */
  async queueUnfinished(session: SessionRecord): Promise<void> {
    if (session.finalized) return;
    if (session.phase === 'casting') {
      const drawing = session.cast.flatMap((member, castIndex) =>
        member.portrait && isRendering(member.portrait)
          ? [portraitRequest(session, castIndex, member, member.portrait)]
          : [],
      );
      if (drawing.length > 0) await this.jobs.renderPortraits(drawing);
      // Every portrait had ended, but the run that ended the last one stopped before moving on.
      else await this.startScenes(session.id);
      return;
    }
    const unfinished = session.scenes.filter(isRendering);
    if (unfinished.length > 0)
      await this.jobs.renderScenes(session.id, unfinished.map(renderRequest(session)));
  }

  /**
   * Closes the casting step of a session none of whose jobs is left (the watchdog found it quiet): the
   * portraits that never recorded an end count as failed, with the usual warning, and the scenes render
   * from what was drawn. Returns whether the session was casting.
   */
  async closeAbandonedCasting(sessionId: string): Promise<boolean> {
    const session = await this.sessions.get(sessionId);
    if (!session || session.status !== 'processing' || session.phase !== 'casting') return false;
    for (const [castIndex, member] of session.cast.entries()) {
      const portrait = member.portrait;
      if (!portrait || portrait.version !== 1 || !isRendering(portrait)) continue;
      await this.sessions.savePortrait(
        sessionId,
        castIndex,
        { ...portrait, status: 'failed', error: RENDER_NOT_COMPLETED },
        true,
      );
    }
    await this.startScenes(sessionId);
    return true;
  }
}

/**
 * The render of a scene's current version: the first render, or a regeneration queued again with its own
 * prompt, seed and request time, under its version's job id.
 */
export const renderRequest =
  (session: Pick<SessionRecord, 'id' | 'media_type' | 'seed' | 'cast'>) =>
  (scene: SceneRecord): SceneRenderRequest => ({
    sessionId: session.id,
    sceneIndex: scene.index,
    title: scene.title,
    prompt: scene.prompt ?? scene.image_prompt,
    negativePrompt: scene.negative_prompt,
    mediaType: session.media_type,
    seed: scene.seed ?? session.seed,
    version: scene.version,
    ...(scene.requested_at ? { requestedAt: scene.requested_at } : {}),
    references: referencesFor(session.cast, scene.characters),
  });
