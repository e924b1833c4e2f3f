import { PortraitRenderRequest } from '../domain/jobs';
import { CastMember, PortraitRecord, SceneRecord, SessionRecord } from '../domain/session.model';
import { isNamed } from '../domain/cast-references';
import { MEDIA_PRESETS } from '../providers/media-presets';
import { buildPortraitPrompt } from '../providers/prompt-builder';

/**
 * The casting step's rules, apart from the jobs that run it: who gets a portrait, what it is rendered
 * from, and which portraits a scene is then rendered from.
 */

/**
 * The cast members to draw: those in the most scenes (ties in cast-sheet order), at most `max`, and only
 * members some scene shows. Cast indices, in cast-sheet order.
 */
export function castingChoice(
  cast: CastMember[],
  scenes: Pick<SceneRecord, 'characters'>[],
  max: number,
): number[] {
  const appearances = cast.map((member, index) => ({
    index,
    scenes: scenes.filter((scene) => scene.characters.some((name) => isNamed(member, name))).length,
  }));
  return appearances
    .filter((member) => member.scenes > 0)
    .sort((a, b) => b.scenes - a.scenes || a.index - b.index)
    .slice(0, Math.max(0, max))
    .map((member) => member.index)
    .sort((a, b) => a - b);
}

/** A portrait about to be rendered (its first version, or `version` for a regeneration). */
export function pendingPortrait(seed: number, version = 1): PortraitRecord {
  return {
    status: 'pending',
    version,
    image_url: null,
    source: null,
    reference: null,
    seed,
    model: null,
    provider: null,
    error: null,
    attempts: 0,
    rendered_at: null,
  };
}

/** The job of one portrait: everything the renderer needs, so rendering reads nothing from the session. */
export function portraitRequest(
  session: Pick<SessionRecord, 'id' | 'media_type' | 'style'>,
  castIndex: number,
  member: CastMember,
  portrait: Pick<PortraitRecord, 'seed' | 'version'>,
): PortraitRenderRequest {
  const preset = MEDIA_PRESETS[session.media_type];
  return {
    sessionId: session.id,
    castIndex,
    name: member.name,
    description: member.description,
    prompt: buildPortraitPrompt({ presetStyle: preset.style, storyStyle: session.style ?? '', member }),
    negativePrompt: preset.negativePrompt,
    mediaType: session.media_type,
    seed: portrait.seed,
    version: portrait.version,
  };
}

/** The session's warning for a portrait that could not be drawn. */
export function portraitFailureWarning(name: string, error: string | null): string {
  return `The portrait of ${name} could not be rendered${error ? ` (${error})` : ''}; its scenes are rendered from the text alone`;
}

/** Whether `warning` is portraitFailureWarning's for `name`, whatever the error was. */
export function isPortraitFailureWarning(warning: string, name: string): boolean {
  return warning.startsWith(`The portrait of ${name} could not be rendered`);
}

/** The session's warning when the model refused the portraits as references. */
export function referencesRefusedWarning(reason: string): string {
  return `The image model refused the cast portraits as references (${reason}); scenes fell back to text-only rendering`;
}
