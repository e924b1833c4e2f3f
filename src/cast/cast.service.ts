import { ConflictException, Inject, Injectable, Logger, NotFoundException } from '@nestjs/common';
import { Tenant } from '../auth/tenant';
import { isNamed } from '../domain/cast-references';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import {
  CastMember,
  drawnPortrait,
  PortraitRecord,
  SceneRecord,
  SessionRecord,
} from '../domain/session.model';
import { isRendering, plannedPart } from '../domain/scene-versions';
import { promptLine } from '../providers/prompt-builder';
import { pendingPortrait, portraitRequest } from '../generation/casting';
import { JobQueue } from '../queue/job-queue.service';
import { SessionStore } from '../sessions/session.store';
import { RegeneratePortraitDto, RegeneratePortraitResponseDto } from './cast-requests.dto';

const WRITE_TRIES = 5;

/** Drawing a cast member's portrait again, with a new description or seed; scenes are left as they are. */
@Injectable()
export class CastService {
  private readonly logger = new Logger('Cast');

  constructor(
    private readonly sessions: SessionStore,
    private readonly jobs: JobQueue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async regenerate(
    sessionId: string,
    name: string,
    tenant: Tenant,
    request: RegeneratePortraitDto,
  ): Promise<RegeneratePortraitResponseDto> {
    for (let attempt = 0; attempt < WRITE_TRIES; attempt++) {
      const session = await this.sessions.getFor(sessionId, tenant);
      if (!session) throw new NotFoundException('Session not found or expired');
      const castIndex = session.cast.findIndex((member) => isNamed(member, name));
      if (castIndex === -1) throw new NotFoundException(`The cast has no character named ${name}`);
      assertRedrawable(session, session.cast[castIndex]);

      const current = session.cast[castIndex];
      const version = (current.portrait?.version ?? 0) + 1;
      if (version > this.config.maxVersionsPerScene)
        throw new ConflictException(
          `The portrait of ${current.name} has ${version - 1} versions, the most MAX_VERSIONS_PER_SCENE allows`,
        );
      const member: CastMember = { ...current, description: request.description ?? current.description };
      const lastDone = drawnPortrait(current.portrait);
      const portrait: PortraitRecord = {
        ...pendingPortrait(request.seed ?? current.portrait?.seed ?? session.seed, version),
        ...(lastDone ? { last_done: lastDone } : {}),
      };
      const cast = session.cast.map((m, i) => (i === castIndex ? member : m));
      // The scenes' prompts carry the cast sheet's description of each character they show (prompt-builder):
      // the new description replaces the old wherever it is still there as written, so the next
      // regeneration of those scenes describes the character as the new portrait shows it.
      const scenes = request.description === undefined ? [] : rewrittenPrompts(session, current, member);
      const written = await this.sessions.writeIfUnchanged(session, {
        fields: request.description !== undefined ? { cast } : {},
        scenes,
        portraits: [{ castIndex, portrait: { ...portrait, status: 'rendering' } }],
      });
      if (!written) continue;
      try {
        await this.jobs.renderPortraits([portraitRequest(session, castIndex, member, portrait)]);
      } catch (err) {
        // Nothing will draw it: the new version ends failed, so the member can be drawn again.
        this.logger.warn(`Could not queue the portrait of ${member.name} in ${sessionId}: ${String(err)}`);
        await this.sessions.savePortrait(
          sessionId,
          castIndex,
          { ...portrait, status: 'failed', error: 'The portrait could not be queued; try again' },
          false,
        );
        throw err;
      }
      return {
        session_id: sessionId,
        name: member.name,
        version: portrait.version,
        status: 'rendering',
        affected_scenes: session.scenes
          .filter((scene) => scene.characters.some((character) => isNamed(member, character)))
          .map((scene) => scene.index),
      };
    }
    throw new ConflictException('The session kept changing; try again');
  }
}

/** A portrait is drawn again only after casting, before approval, and never while it is being drawn. */
function assertRedrawable(session: SessionRecord, member: CastMember): void {
  if (session.download_status !== 'not_started')
    throw new ConflictException('Scenes of this session were approved; its cast can no longer change');
  if (!session.planned || session.phase === 'casting')
    throw new ConflictException('The cast is still being drawn; try again once the scenes render');
  if (session.status === 'failed' && !session.finalized)
    throw new ConflictException('The session failed before its scenes were rendered; start a new one');
  if (member.portrait && isRendering(member.portrait))
    throw new ConflictException(`The portrait of ${member.name} is being drawn`);
}

/** The planned part of each scene showing `before`, with its description in the prompt replaced. */
function rewrittenPrompts(session: SessionRecord, before: CastMember, after: CastMember): SceneRecord[] {
  const from = promptLine(before.description);
  const to = promptLine(after.description);
  if (!from || from === to) return [];
  return session.scenes
    .filter((scene) => scene.characters.some((name) => isNamed(before, name)))
    .filter((scene) => scene.image_prompt.includes(from))
    .map((scene) => ({ ...plannedPart(scene), image_prompt: scene.image_prompt.split(from).join(to) }));
}
