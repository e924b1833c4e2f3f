import { referencesFor } from '../domain/cast-references';
import { ConflictException, Inject, Injectable, Logger, NotFoundException } from '@nestjs/common';
import { Tenant } from '../auth/tenant';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { currentVersion, isRendering, plannedPart, SceneVersion, versionsOf } from '../domain/scene-versions';
import { SceneRecord, SessionRecord } from '../domain/session.model';
import { JobQueue } from '../queue/job-queue.service';
import { SessionFinalizer } from '../sessions/session-finalizer';
import { isRenderFailureWarning, outcomeOfRender } from '../sessions/session-lifecycle';
import { SessionFields, SessionStore } from '../sessions/session.store';
import { EditSceneDto, RegenerateResponseDto, RegenerateSceneDto } from './scene-requests.dto';

/**
 * Every change is decided on a read of the session and written only if the session is unchanged since
 * (SessionStore.writeIfUnchanged); a render ending or another client's change in between means reading
 * again. Busy sessions (many scenes rendering) change often, hence a few tries.
 */
const WRITE_TRIES = 10;

/** What a change answers with: the session as written, and the scene in it. */
export interface SceneChange {
  session: SessionRecord;
  scene: SceneRecord;
}

/** A change to one scene, decided on a read: what to write, and what the session is once it is written. */
interface Decision<T> {
  write: Parameters<SessionStore['writeIfUnchanged']>[1] | null;
  result: T;
}

/**
 * Directing a session's scenes before approval: edit a scene, render it again as a new version, make an
 * earlier version current. A regeneration is the same render job as the first render; the render that
 * ends it finalises the session again through the same fan-in counter (`renders_left`), exactly once.
 */
@Injectable()
export class ScenesService {
  private readonly logger = new Logger('Scenes');

  constructor(
    private readonly sessions: SessionStore,
    private readonly jobs: JobQueue,
    private readonly finalizer: SessionFinalizer,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Stores new text for the scene; nothing is rendered. */
  edit(sessionId: string, index: number, tenant: Tenant, edit: EditSceneDto): Promise<SceneChange> {
    return this.change(sessionId, index, tenant, (session, scene) => {
      assertEditable(session, scene);
      const fields = withoutUndefined({
        title: edit.title,
        description: edit.description,
        image_prompt: edit.image_prompt,
      });
      const edited = { ...scene, ...fields };
      return {
        write: { scenes: [{ ...plannedPart(scene), ...fields }] },
        result: { session: replaceScene(session, edited), scene: edited },
      };
    });
  }

  /** Starts a new version of the scene; answers once its render job is queued. */
  async regenerate(
    sessionId: string,
    index: number,
    tenant: Tenant,
    request: RegenerateSceneDto,
  ): Promise<RegenerateResponseDto> {
    const now = new Date().toISOString();
    const started = await this.change(sessionId, index, tenant, (session, scene) => {
      assertEditable(session, scene);
      assertRepairable(session);
      const versions = versionsOf(scene);
      if (versions.length >= this.config.maxVersionsPerScene)
        throw new ConflictException(
          `Scene ${index} has ${versions.length} versions, the most MAX_VERSIONS_PER_SCENE allows; ` +
            'select one of them instead',
        );
      const version = Math.max(...versions.map((v) => v.version)) + 1;
      const prompt = request.image_prompt ?? scene.image_prompt;
      const seed = request.seed ?? scene.seed ?? session.seed;
      const render: SceneVersion = {
        version,
        prompt,
        requested_at: now,
        status: 'rendering',
        seed,
        attempts: 0,
        image_url: null,
        source: null,
        provider: null,
        model: null,
        error: null,
        rendered_at: null,
        rendered_by: null,
      };
      const planned = { ...plannedPart(scene), image_prompt: prompt };
      return {
        write: {
          // The session renders again; its fan-in counts this render, and its outcome is written anew.
          fields: { status: 'processing', phase: 'rendering', finalized: false, error: null },
          scenes: [planned],
          renders: [{ index, ...render }],
          histories: [{ index, history: versions }],
          newRender: true,
        },
        result: {
          version,
          prompt,
          seed,
          media: session.media_type,
          title: scene.title,
          negative: scene.negative_prompt,
          // The session's portraits as they are now: a regenerated scene keeps its characters' looks.
          references: referencesFor(session.cast, scene.characters),
        },
      };
    });
    const job = {
      sessionId,
      sceneIndex: index,
      title: started.title,
      prompt: started.prompt,
      negativePrompt: started.negative,
      mediaType: started.media,
      seed: started.seed,
      version: started.version,
      requestedAt: now,
      references: started.references,
    };
    try {
      await this.jobs.regenerateScene(job);
    } catch (err) {
      // Nothing will render it: the version ends failed (the fan-in counts it), and the session is whole again.
      this.logger.warn(`Could not queue the regeneration of scene ${index} of ${sessionId}: ${String(err)}`);
      const left = await this.sessions
        .saveRender(sessionId, index, {
          version: started.version,
          prompt: started.prompt,
          requested_at: now,
          status: 'failed',
          attempts: 0,
          error: 'The regeneration could not be queued',
        })
        .catch(() => -1);
      if (left === 0) await this.finalizer.finalize(sessionId).catch(() => false);
      throw err;
    }
    return { session_id: sessionId, index, version: started.version, status: 'rendering' };
  }

  /** Makes an earlier (or later) version of the scene its current one. */
  select(sessionId: string, index: number, tenant: Tenant, wanted: number): Promise<SceneChange> {
    return this.change(sessionId, index, tenant, (session, scene) => {
      assertEditable(session, scene);
      const versions = versionsOf(scene);
      const target = versions.find((v) => v.version === wanted);
      if (!target) throw new NotFoundException(`Scene ${index} has no version ${wanted}`);
      if (target.status !== 'done') throw new ConflictException(`Version ${wanted} has no image to select`);
      if (target.version === currentVersion(scene).version)
        return { write: null, result: { session, scene } };
      const prompt = target.prompt ?? scene.image_prompt;
      const selected: SceneRecord = {
        ...plannedPart(scene),
        ...target,
        image_prompt: prompt,
        history: versions.filter((v) => v !== target),
      };
      const updated = replaceScene(session, selected);
      return {
        write: {
          fields: this.outcomeAfterSelect(updated),
          scenes: [{ ...plannedPart(scene), image_prompt: prompt }],
          renders: [{ index, ...target }],
          histories: [{ index, history: versions.filter((v) => v !== target) }],
        },
        result: { session: updated, scene: selected },
      };
    });
  }

  /**
   * A finalised session's outcome follows its scenes: selecting a rendered version of a scene whose latest
   * render failed repairs it like a successful regeneration would. A session still rendering is finalised
   * by its last render, as always.
   */
  private outcomeAfterSelect(session: SessionRecord): SessionFields {
    if (session.status === 'processing' || !session.finalized) return {};
    const outcome = outcomeOfRender(session.scenes);
    return {
      status: outcome.status,
      phase: outcome.phase,
      error: outcome.error,
      warnings: [...session.warnings.filter((w) => !isRenderFailureWarning(w)), ...outcome.warnings],
    };
  }

  /** Reads, decides and writes until the write lands on the session it was decided on. */
  private async change<T>(
    sessionId: string,
    index: number,
    tenant: Tenant,
    decide: (session: SessionRecord, scene: SceneRecord) => Decision<T>,
  ): Promise<T> {
    for (let attempt = 0; attempt < WRITE_TRIES; attempt++) {
      const session = await this.sessions.getFor(sessionId, tenant);
      if (!session) throw new NotFoundException('Session not found or expired');
      const scene = session.scenes.find((s) => s.index === index);
      if (!scene) throw new NotFoundException(`Session has no scene ${index}`);
      const { write, result } = decide(session, scene);
      if (!write || (await this.sessions.writeIfUnchanged(session, write))) return result;
    }
    throw new ConflictException('The session kept changing; try again');
  }
}

/** Scenes change only before approval, and never under a render. */
function assertEditable(session: SessionRecord, scene: SceneRecord): void {
  if (session.download_status !== 'not_started')
    throw new ConflictException('Scenes of this session were approved; they can no longer change');
  if (isRendering(scene)) throw new ConflictException(`Scene ${scene.index} is rendering`);
}

/**
 * A session renders again only when its fan-in can count the new render: it has been finalised (completed,
 * or failed because its scenes failed, which a regeneration repairs), or it is still rendering other scenes.
 * A session that failed otherwise (planning failed, the watchdog stopped it) has no render to repair, and
 * one whose last render just ended is being finalised: a moment later it may be regenerated.
 */
function assertRepairable(session: SessionRecord): void {
  if (session.status === 'failed' && !session.finalized)
    throw new ConflictException('The session failed before its scenes were rendered; start a new one');
  if (session.status === 'processing' && !session.finalized && !session.scenes.some(isRendering))
    throw new ConflictException('The session is finishing; try again in a moment');
}

function replaceScene(session: SessionRecord, scene: SceneRecord): SessionRecord {
  return { ...session, scenes: session.scenes.map((s) => (s.index === scene.index ? scene : s)) };
}

function withoutUndefined<T extends object>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>;
}
