import { Inject, Injectable, Logger } from '@nestjs/common';
import { hostname } from 'node:os';
import { IMAGE_RENDERER, ImageRenderer } from '../providers/image-renderer';
import { MEDIA_PRESETS } from '../providers/media-presets';
import { buildImagePrompt } from '../providers/prompt-builder';
import { ProviderError, userMessage } from '../providers/provider-error';
import { SCENE_PLANNER, ScenePlanner } from '../providers/scene-planner';
import { JobQueue } from '../queue/job-queue.service';
import { FailureHandlers, JobContext, JobHandlers, JobName, RenderSceneJob, SessionJob } from '../queue/jobs';
import { outcomeOfRender } from '../sessions/session-lifecycle';
import { newScene, SceneRecord, SessionRecord } from '../sessions/session.model';
import { SessionStore } from '../sessions/session.store';

const WORKER_ID = `${hostname()}:${process.pid}`;

/** Worker-side steps of a session: plan the story, render each scene, then finalise. */
@Injectable()
export class GenerationProcessor {
  private readonly logger = new Logger('Generation');

  constructor(
    private readonly sessions: SessionStore,
    private readonly queue: JobQueue,
    @Inject(SCENE_PLANNER) private readonly planner: ScenePlanner,
    @Inject(IMAGE_RENDERER) private readonly renderer: ImageRenderer,
  ) {}

  handlers(): JobHandlers {
    return {
      [JobName.PlanStory]: (data, context) => this.plan(data as SessionJob, context),
      [JobName.RenderScene]: (data, context) => this.render(data as RenderSceneJob, context),
      [JobName.FinalizeSession]: (data) => this.finalize(data as SessionJob),
    };
  }

  failureHandlers(): FailureHandlers {
    return {
      [JobName.PlanStory]: (data) =>
        this.failUnfinished(data as SessionJob, 'Scene planning could not be completed'),
      [JobName.FinalizeSession]: (data) =>
        this.failUnfinished(data as SessionJob, 'The session could not be finalised'),
    };
  }

  /**
   * A plan or finalize job that failed for good, however it failed (its handler may never have run, e.g.
   * when workers kept dying or Redis was away through every retry): the session must not stay processing.
   */
  async failUnfinished({ sessionId }: SessionJob, error: string): Promise<void> {
    const session = await this.sessions.get(sessionId);
    if (!session || session.status !== 'processing' || session.finalized) return;
    await this.sessions.update(sessionId, { status: 'failed', phase: 'failed', error });
  }

  async plan({ sessionId }: SessionJob, context: JobContext): Promise<void> {
    const session = await this.sessions.get(sessionId);
    if (!session || session.status === 'failed') return;
    // A retried plan job (e.g. its worker died after planning) must not plan twice.
    if (!session.planned) {
      const [, story] = await Promise.all([
        this.sessions.update(sessionId, { phase: 'planning' }),
        this.sessions.getStory(sessionId),
      ]);
      if (story === null) {
        await this.sessions.update(sessionId, {
          status: 'failed',
          phase: 'failed',
          error: 'The story text is missing',
        });
        return;
      }
      let plan;
      try {
        plan = await this.planner.plan({
          story,
          mediaType: session.media_type,
          numScenes: session.requested_scenes,
        });
      } catch (err) {
        await this.failIfFinal(sessionId, err, context, 'Scene planning failed');
        throw err;
      }
      if (plan.scenes.length === 0) {
        await this.sessions.update(sessionId, {
          status: 'failed',
          phase: 'failed',
          error: 'The story has no text to illustrate',
        });
        throw new ProviderError('The story has no text to illustrate', false);
      }
      const preset = MEDIA_PRESETS[session.media_type];
      const scenes = plan.scenes.map((scene, index) =>
        newScene(index, {
          title: scene.title,
          description: scene.passage,
          image_prompt: buildImagePrompt({
            presetStyle: preset.style,
            storyStyle: plan.style,
            scene: scene.imagePrompt,
            characters: scene.characters,
            cast: plan.cast,
          }),
          negative_prompt: preset.negativePrompt,
          characters: scene.characters,
        }),
      );
      const written = await this.sessions.update(
        sessionId,
        {
          planned: true,
          phase: 'rendering',
          planner: this.planner.name,
          style: plan.style,
          cast: plan.cast,
          warnings: [...session.warnings, ...plan.warnings],
          planned_at: new Date().toISOString(),
        },
        scenes,
      );
      if (!written) return;
      await this.queue.renderScenes(
        sessionId,
        scenes.map((scene) => renderJob(sessionId, scene, session)),
      );
      return;
    }
    await this.queue.renderScenes(
      sessionId,
      session.scenes.map((scene) => renderJob(sessionId, scene, session)),
    );
  }

  /** The job carries everything the render needs, so it reads nothing and writes only its scene's outcome. */
  async render(job: RenderSceneJob, context: JobContext): Promise<void> {
    const { sessionId, sceneIndex } = job;
    if (!(await this.sessions.startRender(sessionId, sceneIndex, context.attempt))) return;
    try {
      const image = await this.renderer.render({
        sessionId,
        sceneIndex,
        title: job.title,
        prompt: job.prompt,
        negativePrompt: job.negativePrompt,
        mediaType: job.mediaType,
        seed: job.seed,
      });
      await this.sessions.saveRender(sessionId, sceneIndex, {
        status: 'done',
        attempts: context.attempt,
        image_url: image.imageUrl,
        source: image.source,
        seed: image.seed,
        model: image.model,
        provider: this.renderer.name,
        error: null,
        rendered_at: new Date().toISOString(),
        rendered_by: WORKER_ID,
      });
    } catch (err) {
      const final = context.isLastAttempt || (err instanceof ProviderError && !err.retryable);
      if (!(err instanceof ProviderError))
        this.logger.warn(`Scene ${sceneIndex} of ${sessionId}: ${String(err)}`);
      await this.sessions.saveRender(sessionId, sceneIndex, {
        status: final ? 'failed' : 'pending',
        attempts: context.attempt,
        provider: this.renderer.name,
        error: final ? userMessage(err) : `Attempt ${context.attempt} failed, retrying: ${userMessage(err)}`,
      });
      throw err;
    }
  }

  /** Runs once every render job has finished, successfully or not. */
  async finalize({ sessionId }: SessionJob): Promise<void> {
    const session = await this.sessions.get(sessionId);
    if (!session || session.finalized) return;
    // A render job that died without recording its end (e.g. stalled too often) counts as failed.
    const unfinished = session.scenes
      .filter((scene) => scene.status === 'pending' || scene.status === 'rendering')
      .map((scene): SceneRecord => ({
        ...scene,
        status: 'failed',
        error: scene.error ?? 'Rendering did not complete',
      }));
    const scenes = session.scenes.map((scene) => unfinished.find((u) => u.index === scene.index) ?? scene);
    const outcome = outcomeOfRender(scenes);
    await this.sessions.update(
      sessionId,
      {
        status: outcome.status,
        phase: outcome.phase,
        error: outcome.error,
        warnings: [...session.warnings, ...outcome.warnings],
        finalized: true,
        completed_at: new Date().toISOString(),
      },
      [],
      unfinished.map(({ index, status, error }) => ({ index, status, error })),
    );
    this.logger.log(`Session ${sessionId} ${outcome.status}`);
  }

  private async failIfFinal(
    sessionId: string,
    err: unknown,
    context: JobContext,
    what: string,
  ): Promise<void> {
    const final = context.isLastAttempt || (err instanceof ProviderError && !err.retryable);
    if (!final) return;
    await this.sessions.update(sessionId, {
      status: 'failed',
      phase: 'failed',
      error: `${what}: ${userMessage(err)}`,
    });
  }
}

function renderJob(sessionId: string, scene: SceneRecord, session: SessionRecord): RenderSceneJob {
  return {
    sessionId,
    sceneIndex: scene.index,
    title: scene.title,
    prompt: scene.image_prompt,
    negativePrompt: scene.negative_prompt,
    mediaType: session.media_type,
    seed: session.seed,
  };
}
