import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger } from '@nestjs/common';
import { Job } from 'bullmq';
import { withJobContext } from '../common/log-context';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { hostname } from 'node:os';
import { IMAGE_RENDERER, ImageRenderer } from '../providers/image-renderer';
import { MEDIA_PRESETS } from '../providers/media-presets';
import { buildImagePrompt } from '../providers/prompt-builder';
import { ProviderError, userMessage } from '../providers/provider-error';
import { SCENE_PLANNER, ScenePlanner } from '../providers/scene-planner';
import { attemptOf, failedForGood, isFinalFailure, runHandler, unknownJob } from '../queue/failure-policy';
import { JobQueue } from '../queue/job-queue.service';
import {
  JobName,
  JobOf,
  JobProcessor,
  PortraitRenderRequest,
  QueueName,
  SceneRenderRequest,
  SessionJob,
} from '../domain/jobs';
import { SessionFinalizer } from '../sessions/session-finalizer';
import { newScene, SceneRender } from '../domain/session.model';
import { RENDER_NOT_COMPLETED } from '../domain/scene-versions';
import { SessionStore } from '../sessions/session.store';
import { WebhookEvents } from '../sessions/webhook-events';
import {
  castingChoice,
  isPortraitFailureWarning,
  pendingPortrait,
  portraitRequest,
  referencesRefusedWarning,
} from './casting';
import { portraitUses } from '../domain/cast-references';
import { ProviderOutages } from './provider-outages';
import { renderRequest, SceneDispatch } from './scene-dispatch';

const WORKER_ID = `${hostname()}:${process.pid}`;

/**
 * How long a first render runs before its scene shows "rendering". The mark and the outcome go over one
 * connection in order, and the mark never overwrites an outcome, so a late mark cannot hide a result.
 */
const RENDERING_MARK_DELAY_MS = 200;

type GenerationJob = JobOf<
  JobName.PlanStory | JobName.RenderScene | JobName.RenderPortrait | JobName.LegacyFinalizeSession
>;

/**
 * Worker-side steps of a session: plan the story, draw the cast (one portrait per main character; the
 * portrait that ends casting queues the scenes), then render each scene from its characters' portraits;
 * the render that ends the last scene finalises the session.
 */
@Processor(QueueName.Generation)
export class GenerationProcessor extends WorkerHost implements JobProcessor {
  readonly queue = QueueName.Generation;
  readonly handles = [
    JobName.PlanStory,
    JobName.RenderScene,
    JobName.RenderPortrait,
    JobName.LegacyFinalizeSession,
  ];
  private readonly logger = new Logger('Generation');

  constructor(
    private readonly sessions: SessionStore,
    private readonly jobs: JobQueue,
    @Inject(SCENE_PLANNER) private readonly planner: ScenePlanner,
    @Inject(IMAGE_RENDERER) private readonly renderer: ImageRenderer,
    private readonly finalizer: SessionFinalizer,
    private readonly outages: ProviderOutages,
    private readonly webhooks: WebhookEvents,
    private readonly dispatch: SceneDispatch,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
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
        case JobName.RenderPortrait:
          return this.renderPortrait(job);
        case JobName.LegacyFinalizeSession:
          return this.finalizer.finalize(job.data.sessionId).then(() => undefined);
        default:
          return unknownJob(job);
      }
    });
  }

  /**
   * A job that failed for good, however it failed (its handler may never have run, e.g. when workers kept
   * dying or Redis was away through every retry): a plan's session must not stay processing, and a
   * render's scene must count as ended so the session is finalised.
   */
  @OnWorkerEvent('failed')
  onFailed(job: GenerationJob | undefined): Promise<void> {
    // BullMQ emits this outside the job's run: its log lines get the job's ids here.
    return withJobContext(job ?? {}, () => this.recordFailure(job));
  }

  private async recordFailure(job: GenerationJob | undefined): Promise<void> {
    try {
      if (!job || !(await failedForGood(job))) return;
      const { sessionId } = job.data;
      if (job.name === JobName.RenderScene) {
        // Written only if this job's version is still the scene's and has not ended (SessionStore's script):
        // a late failure event of a version a regeneration or a selection replaced changes nothing.
        const left = await this.sessions.saveRender(sessionId, job.data.sceneIndex, {
          ...versionOf(job.data),
          status: 'failed',
          attempts: job.attemptsMade,
          provider: this.renderer.name,
          error: RENDER_NOT_COMPLETED,
        });
        if (left === 0) await this.finalizer.finalize(sessionId);
        await this.regenerated(job.data);
        return;
      }
      if (job.name === JobName.RenderPortrait) {
        const session = await this.sessions.get(sessionId);
        const current = session?.cast[job.data.castIndex]?.portrait;
        if (!current || current.version !== (job.data.version ?? 1)) return;
        // Counted by the casting fan-in only while casting, as in renderPortrait.
        const casting = current.version === 1 && session?.phase === 'casting';
        const left = await this.sessions.savePortrait(
          sessionId,
          job.data.castIndex,
          { ...current, status: 'failed', attempts: job.attemptsMade, error: RENDER_NOT_COMPLETED },
          casting,
        );
        if (casting && left === 0) await this.dispatch.startScenes(sessionId);
        return;
      }
      if (job.name !== JobName.PlanStory) return;
      const session = await this.sessions.get(sessionId);
      if (!session || session.status !== 'processing' || session.finalized) return;
      await this.finalizer.fail(sessionId, 'Scene planning could not be completed');
    } catch (err) {
      this.logger.warn(`Could not record the failure of job ${job?.id}: ${String(err)}`);
    }
  }

  async plan(job: Job<SessionJob>): Promise<void> {
    const { sessionId } = job.data;
    const session = await this.sessions.get(sessionId);
    if (!session || session.status === 'failed') return;
    // A retried plan job (e.g. its worker died after planning) must not plan twice.
    if (session.planned) return this.dispatch.queueUnfinished(session);
    const [, story] = await Promise.all([
      this.sessions.update(sessionId, { phase: 'planning' }),
      this.sessions.getStory(sessionId),
    ]);
    if (story === null) {
      await this.finalizer.fail(sessionId, 'The story text is missing');
      return;
    }
    let plan;
    try {
      plan = await this.planner.plan({
        story,
        mediaType: session.media_type,
        numScenes: session.requested_scenes,
      });
    } catch (failure) {
      // Throws DelayedError instead when the job is to wait for the planner to recover.
      const err = await this.outages.waitOrFail(job, failure, this.planner.name);
      if (isFinalFailure(err, job))
        await this.finalizer.fail(sessionId, `Scene planning failed: ${userMessage(err)}`);
      throw err;
    }
    if (plan.scenes.length === 0) {
      await this.finalizer.fail(sessionId, 'The story has no text to illustrate');
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
    const casting = castingChoice(plan.cast, scenes, this.config.castPortraitsMax);
    const portraits = casting.map((castIndex) => ({ castIndex, portrait: pendingPortrait(session.seed) }));
    const written = await this.sessions.savePlan(
      sessionId,
      {
        renders_left: scenes.length,
        ...(casting.length > 0 ? { portraits_left: casting.length } : {}),
        phase: casting.length > 0 ? 'casting' : 'rendering',
        planner: this.planner.name,
        style: plan.style,
        cast: plan.cast,
        warnings: [...session.warnings, ...plan.warnings],
        planned_at: new Date().toISOString(),
      },
      scenes,
      portraits,
    );
    const planned = { ...session, style: plan.style, cast: plan.cast };
    if (written && casting.length > 0) {
      await this.jobs.renderPortraits(
        portraits.map(({ castIndex, portrait }) =>
          portraitRequest(planned, castIndex, plan.cast[castIndex], portrait),
        ),
      );
    } else if (written) await this.jobs.renderScenes(sessionId, scenes.map(renderRequest(planned)));
    else {
      // Another run of this job planned the session first (one that stalled and came back): its plan stands.
      const planned = await this.sessions.get(sessionId);
      if (planned) await this.dispatch.queueUnfinished(planned);
    }
    // After the plan is saved: it carries the warnings read before this run, which may include this one.
    await this.outages.recovered(job, this.planner.name);
  }

  /**
   * The job carries everything the render needs, so it reads nothing and writes only its scene's outcome;
   * the render that ends the session's last scene finalises it.
   */
  async render(job: Job<SceneRenderRequest>): Promise<void> {
    const request = job.data;
    const { sessionId, sceneIndex } = request;
    const attempt = attemptOf(job);
    // A job's first run has nothing to skip, and a fast render needs no "rendering" mark: the mark is
    // written only once the render has taken a while. A re-run checks first what an earlier run ended.
    const rerun = job.attemptsStarted > 1;
    const version = versionOf(request);
    if (rerun && !(await this.sessions.startRender(sessionId, sceneIndex, attempt, version))) {
      // Already rendered by an earlier run of this job, which may have stopped before finalising (or before
      // reporting the regeneration: its event is queued once, whichever run gets there).
      if ((await this.sessions.rendersLeft(sessionId)) === 0) await this.finalizer.finalize(sessionId);
      await this.regenerated(request);
      return;
    }
    const mark = rerun
      ? undefined
      : setTimeout(() => {
          this.sessions.startRender(sessionId, sceneIndex, attempt, version).catch(() => undefined);
        }, RENDERING_MARK_DELAY_MS);
    let left: number;
    try {
      const image = await this.renderer.render(request).finally(() => clearTimeout(mark));
      await this.outages.recovered(job, this.renderer.name);
      if (image.referencesRefused)
        await this.sessions.toggleWarning(sessionId, referencesRefusedWarning(image.referencesRefused), true);
      const passed = (request.references ?? []).filter(
        (reference) => !image.referencesUsed || image.referencesUsed.includes(reference.name),
      );
      const used = image.referenceMode ? portraitUses(passed) : [];
      left = await this.sessions.saveRender(sessionId, sceneIndex, {
        ...version,
        references: used,
        reference_mode: image.referenceMode ?? null,
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
    } catch (failure) {
      // Throws DelayedError instead when the job is to wait for the renderer to recover; the scene stays pending.
      const err = await this.outages.waitOrFail(job, failure, this.renderer.name, (message) =>
        this.sessions.saveRender(sessionId, sceneIndex, {
          ...version,
          status: 'pending',
          attempts: attempt,
          provider: this.renderer.name,
          error: message,
        }),
      );
      const final = isFinalFailure(err, job);
      if (!(err instanceof ProviderError))
        this.logger.warn(`Scene ${sceneIndex} of ${sessionId}: ${String(err)}`);
      const remaining = await this.sessions.saveRender(sessionId, sceneIndex, {
        ...version,
        status: final ? 'failed' : 'pending',
        attempts: attempt,
        provider: this.renderer.name,
        error: final ? userMessage(err) : `Attempt ${attempt} failed, retrying: ${userMessage(err)}`,
      });
      if (final && remaining === 0) await this.finalizer.finalize(sessionId);
      if (final) await this.regenerated(request);
      throw err;
    }
    if (left === 0) await this.finalizer.finalize(sessionId);
    await this.regenerated(request);
  }

  /**
   * One cast portrait. It never fails the session: a portrait that fails for good leaves its character's
   * scenes to the text alone (startScenes warns). The portrait that ends the casting step queues the scenes.
   */
  async renderPortrait(job: Job<PortraitRenderRequest>): Promise<void> {
    const request = job.data;
    const { sessionId, castIndex } = request;
    const version = request.version ?? 1;
    const session = await this.sessions.get(sessionId);
    const current = session?.cast[castIndex]?.portrait;
    // Gone, or rendered again since (this job's version is not the portrait's any more).
    if (!session || !current || current.version !== version) return;
    // Counted by the casting fan-in only while casting: a redraw (or a first portrait asked for later) is not.
    const casting = version === 1 && session.phase === 'casting';
    if (current.status === 'done' || current.status === 'failed') {
      // An earlier run of this job ended it, and may have stopped before moving the session on: before the
      // casting step was closed, or after, before its scenes were queued (the phase is then `rendering`,
      // and startScenes queues the scenes not yet ended). A redraw never moves the session on.
      if (version === 1 && (await this.sessions.portraitsLeft(sessionId)) === 0)
        await this.dispatch.startScenes(sessionId);
      return;
    }
    const attempt = attemptOf(job);
    await this.sessions.startPortrait(sessionId, castIndex, { ...current, attempts: attempt });
    let left: number;
    try {
      const image = await this.renderer.renderPortrait(request);
      await this.outages.recovered(job, this.renderer.name);
      left = await this.sessions.savePortrait(
        sessionId,
        castIndex,
        {
          ...current,
          status: 'done',
          attempts: attempt,
          image_url: image.imageUrl,
          source: image.source,
          reference: image.reference ?? null,
          seed: image.seed,
          model: image.model,
          provider: this.renderer.name,
          error: null,
          rendered_at: new Date().toISOString(),
        },
        casting,
      );
    } catch (failure) {
      const err = await this.outages.waitOrFail(job, failure, this.renderer.name);
      const final = isFinalFailure(err, job);
      if (!(err instanceof ProviderError))
        this.logger.warn(`Portrait ${castIndex} of ${sessionId}: ${String(err)}`);
      const remaining = await this.sessions.savePortrait(
        sessionId,
        castIndex,
        {
          ...current,
          status: final ? 'failed' : 'pending',
          attempts: attempt,
          provider: this.renderer.name,
          error: final ? userMessage(err) : `Attempt ${attempt} failed, retrying: ${userMessage(err)}`,
        },
        casting,
      );
      if (final && casting && remaining === 0) await this.dispatch.startScenes(sessionId);
      throw err;
    }
    if (casting && left === 0) await this.dispatch.startScenes(sessionId);
    // A redraw that worked: the warning about this character's failed portrait no longer holds.
    const stale = session.warnings.find((w) => isPortraitFailureWarning(w, request.name));
    if (!casting && stale) await this.sessions.toggleWarning(sessionId, stale, false);
  }

  /** A regeneration's render has ended (the first render's end is reported with the session's). */
  private async regenerated(request: SceneRenderRequest): Promise<void> {
    const version = request.version ?? 1;
    if (version > 1) await this.webhooks.sceneRegenerated(request.sessionId, request.sceneIndex, version);
  }
}

/**
 * The version fields every write of a render carries: each write replaces the scene's render record whole,
 * and a regeneration's must keep saying which version it is (src/scenes/), with the seed it was asked
 * for (a first render's seed is the one the provider reports).
 */
function versionOf(request: SceneRenderRequest): SceneRender {
  return {
    version: request.version ?? 1,
    prompt: request.prompt,
    ...(request.requestedAt ? { requested_at: request.requestedAt, seed: request.seed } : {}),
  };
}
