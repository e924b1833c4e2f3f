import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger } from '@nestjs/common';
import { Job } from 'bullmq';
import { hostname } from 'node:os';
import { IMAGE_RENDERER, ImageRenderer } from '../providers/image-renderer';
import { MEDIA_PRESETS } from '../providers/media-presets';
import { buildImagePrompt } from '../providers/prompt-builder';
import { ProviderError, userMessage } from '../providers/provider-error';
import { SCENE_PLANNER, ScenePlanner } from '../providers/scene-planner';
import { attemptOf, failedForGood, isFinalFailure, runHandler, unknownJob } from '../queue/failure-policy';
import { JobQueue } from '../queue/job-queue.service';
import { JobName, JobOf, JobProcessor, QueueName, SceneRenderRequest } from '../domain/jobs';
import { outcomeOfRender } from '../sessions/session-lifecycle';
import { newScene, SceneRecord, SessionRecord } from '../domain/session.model';
import { SessionStore } from '../sessions/session.store';

const WORKER_ID = `${hostname()}:${process.pid}`;

type GenerationJob = JobOf<JobName.PlanStory | JobName.RenderScene | JobName.FinalizeSession>;

/** Worker-side steps of a session: plan the story, render each scene, then finalise. */
@Processor(QueueName.Generation)
export class GenerationProcessor extends WorkerHost implements JobProcessor {
  readonly queue = QueueName.Generation;
  readonly handles = [JobName.PlanStory, JobName.RenderScene, JobName.FinalizeSession];
  private readonly logger = new Logger('Generation');

  constructor(
    private readonly sessions: SessionStore,
    private readonly jobs: JobQueue,
    @Inject(SCENE_PLANNER) private readonly planner: ScenePlanner,
    @Inject(IMAGE_RENDERER) private readonly renderer: ImageRenderer,
  ) {
    super();
  }

  process(job: GenerationJob): Promise<void> {
    return runHandler(() => {
      switch (job.name) {
        case JobName.PlanStory:
          return this.plan(job);
        case JobName.RenderScene:
          return this.render(job);
        case JobName.FinalizeSession:
          return this.finalize(job.data.sessionId);
        default:
          return unknownJob(job);
      }
    });
  }

  /**
   * A plan or finalize job that failed for good, however it failed (its handler may never have run, e.g.
   * when workers kept dying or Redis was away through every retry): the session must not stay processing.
   * Render jobs need nothing here: finalize counts a render that never recorded its end as failed.
   */
  @OnWorkerEvent('failed')
  async onFailed(job: GenerationJob | undefined): Promise<void> {
    try {
      if (!job || job.name === JobName.RenderScene || !(await failedForGood(job))) return;
      const session = await this.sessions.get(job.data.sessionId);
      if (!session || session.status !== 'processing' || session.finalized) return;
      const error =
        job.name === JobName.PlanStory
          ? 'Scene planning could not be completed'
          : 'The session could not be finalised';
      await this.sessions.fail(job.data.sessionId, error);
    } catch (err) {
      this.logger.warn(`Could not record the failure of job ${job?.id}: ${String(err)}`);
    }
  }

  async plan(job: Job<{ sessionId: string }>): Promise<void> {
    const { sessionId } = job.data;
    const session = await this.sessions.get(sessionId);
    if (!session || session.status === 'failed') return;
    // A retried plan job (e.g. its worker died after planning) must not plan twice.
    if (session.planned) return this.jobs.renderScenes(sessionId, session.scenes.map(renderRequest(session)));
    const [, story] = await Promise.all([
      this.sessions.update(sessionId, { phase: 'planning' }),
      this.sessions.getStory(sessionId),
    ]);
    if (story === null) {
      await this.sessions.fail(sessionId, 'The story text is missing');
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
      if (isFinalFailure(err, job))
        await this.sessions.fail(sessionId, `Scene planning failed: ${userMessage(err)}`);
      throw err;
    }
    if (plan.scenes.length === 0) {
      await this.sessions.fail(sessionId, 'The story has no text to illustrate');
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
    if (written) await this.jobs.renderScenes(sessionId, scenes.map(renderRequest(session)));
  }

  /** The job carries everything the render needs, so it reads nothing and writes only its scene's outcome. */
  async render(job: Job<SceneRenderRequest>): Promise<void> {
    const request = job.data;
    const { sessionId, sceneIndex } = request;
    const attempt = attemptOf(job);
    if (!(await this.sessions.startRender(sessionId, sceneIndex, attempt))) return;
    try {
      const image = await this.renderer.render(request);
      await this.sessions.saveRender(sessionId, sceneIndex, {
        status: 'done',
        attempts: attempt,
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
      const final = isFinalFailure(err, job);
      if (!(err instanceof ProviderError))
        this.logger.warn(`Scene ${sceneIndex} of ${sessionId}: ${String(err)}`);
      await this.sessions.saveRender(sessionId, sceneIndex, {
        status: final ? 'failed' : 'pending',
        attempts: attempt,
        provider: this.renderer.name,
        error: final ? userMessage(err) : `Attempt ${attempt} failed, retrying: ${userMessage(err)}`,
      });
      throw err;
    }
  }

  /** Runs once every render job has finished, successfully or not. */
  async finalize(sessionId: string): Promise<void> {
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
}

const renderRequest =
  (session: SessionRecord) =>
  (scene: SceneRecord): SceneRenderRequest => ({
    sessionId: session.id,
    sceneIndex: scene.index,
    title: scene.title,
    prompt: scene.image_prompt,
    negativePrompt: scene.negative_prompt,
    mediaType: session.media_type,
    seed: session.seed,
  });
