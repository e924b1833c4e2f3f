import { CastMember } from '../../domain/session.model';
import { PlannedScene } from '../scene-planner';
import { isRecord } from '../provider-error';
import { codePointLength } from '../code-points';

/** Caps on what the planner may return; the system prompt asks for less, these reject runaway output. */
export const PLAN_LIMITS = {
  styleChars: 500,
  castMembers: 20,
  castNameChars: 80,
  castDescriptionChars: 600,
  titleChars: 120,
  passageChars: 5000,
  imagePromptChars: 1500,
  charactersPerScene: 20,
} as const;

export interface ValidPlan {
  style: string;
  cast: CastMember[];
  scenes: PlannedScene[];
  /** Character names a scene listed that are not in the cast; they were dropped, not treated as errors. */
  droppedCharacters: string[];
}

export type PlanValidation = { ok: true; plan: ValidPlan } | { ok: false; error: string };

/**
 * Checks a parsed planner reply against the plan schema: exactly `numScenes` scenes, each with a non-empty
 * title, passage and image prompt, every string within its cap, and each cast member with a description
 * that says how they look (the casting step draws their portrait from it: a blank one, or one that only
 * repeats the name, is rejected, which earns the reply its one repair). What only enriches the plan may be
 * missing (models and routes that ignore the schema often leave it out): no style line, no cast, no
 * character lists. Common renamings (`description` for the passage, `prompt`/`imagePrompt` for the image
 * prompt) are accepted. Unknown character names are dropped (models often list a passer-by who is not in
 * the cast) and known ones are rewritten to the cast's spelling.
 */
export function validatePlan(raw: unknown, numScenes: number): PlanValidation {
  try {
    return { ok: true, plan: readPlan(raw, numScenes) };
  } catch (err) {
    if (err instanceof PlanShapeError) return { ok: false, error: err.message };
    throw err;
  }
}

class PlanShapeError extends Error {}

function readPlan(raw: unknown, numScenes: number): ValidPlan {
  if (!isRecord(raw)) throw new PlanShapeError('the reply must be a JSON object with style, cast and scenes');
  const style = raw.style === undefined ? '' : requiredString(raw.style, 'style', PLAN_LIMITS.styleChars);
  const cast = raw.cast === undefined ? [] : readCast(raw.cast);
  if (!Array.isArray(raw.scenes)) throw new PlanShapeError('"scenes" must be an array');
  if (raw.scenes.length !== numScenes) {
    throw new PlanShapeError(`expected exactly ${numScenes} scenes, got ${raw.scenes.length}`);
  }
  const byName = new Map(cast.map((member) => [member.name.toLowerCase(), member.name]));
  const droppedCharacters: string[] = [];
  const scenes = raw.scenes.map((scene: unknown, i: number): PlannedScene => {
    const where = `scenes[${i}]`;
    if (!isRecord(scene)) throw new PlanShapeError(`${where} must be an object`);
    return {
      title: requiredString(scene.title, `${where}.title`, PLAN_LIMITS.titleChars),
      passage: requiredString(
        scene.passage ?? scene.description,
        `${where}.passage`,
        PLAN_LIMITS.passageChars,
      ),
      imagePrompt: requiredString(
        scene.image_prompt ?? scene.imagePrompt ?? scene.prompt,
        `${where}.image_prompt`,
        PLAN_LIMITS.imagePromptChars,
      ),
      characters:
        scene.characters === undefined
          ? []
          : readCharacters(scene.characters, where, byName, droppedCharacters),
    };
  });
  return { style, cast, scenes, droppedCharacters };
}

function readCast(raw: unknown): CastMember[] {
  if (!Array.isArray(raw)) throw new PlanShapeError('"cast" must be an array');
  if (raw.length > PLAN_LIMITS.castMembers) {
    throw new PlanShapeError(
      `"cast" has ${raw.length} members, at most ${PLAN_LIMITS.castMembers} are allowed`,
    );
  }
  const seen = new Set<string>();
  const cast: CastMember[] = [];
  raw.forEach((member: unknown, i: number) => {
    if (!isRecord(member)) throw new PlanShapeError(`cast[${i}] must be an object`);
    const name = requiredString(member.name, `cast[${i}].name`, PLAN_LIMITS.castNameChars);
    const description = requiredString(
      member.description,
      `cast[${i}].description`,
      PLAN_LIMITS.castDescriptionChars,
    );
    if (saysNothingBeyond(description, name)) {
      throw new PlanShapeError(
        `cast[${i}].description must say how ${name} looks (age, build, hair, clothing, palette), ` +
          'not only the name',
      );
    }
    // A repeated name would make prompt building ambiguous; the first description wins.
    if (seen.has(name.toLowerCase())) return;
    seen.add(name.toLowerCase());
    cast.push({ name, description });
  });
  return cast;
}

/** A description that is the name again ("Mara", "Mara."): nothing to draw from, so as good as empty. */
function saysNothingBeyond(description: string, name: string): boolean {
  const letters = (text: string) => text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');
  return letters(description) === letters(name);
}

function readCharacters(
  raw: unknown,
  where: string,
  castByLowerName: Map<string, string>,
  dropped: string[],
): string[] {
  if (!Array.isArray(raw)) throw new PlanShapeError(`${where}.characters must be an array of names`);
  const names: string[] = [];
  for (const entry of raw) {
    if (typeof entry !== 'string') throw new PlanShapeError(`${where}.characters must contain only strings`);
    const known = castByLowerName.get(entry.trim().toLowerCase());
    if (!known) {
      if (entry.trim()) dropped.push(entry.trim());
      continue;
    }
    if (!names.includes(known) && names.length < PLAN_LIMITS.charactersPerScene) names.push(known);
  }
  return names;
}

function requiredString(value: unknown, where: string, maxChars: number): string {
  if (typeof value !== 'string') throw new PlanShapeError(`${where} must be a string`);
  const trimmed = value.trim();
  if (!trimmed) throw new PlanShapeError(`${where} must not be empty`);
  // UTF-16 length bounds the code point count from above: most strings need no counting.
  const length = trimmed.length <= maxChars ? trimmed.length : codePointLength(trimmed);
  if (length > maxChars) {
    throw new PlanShapeError(`${where} is ${length} characters long, at most ${maxChars} are allowed`);
  }
  return trimmed;
}

/**
 * The JSON schema sent as `response_format` (OpenAI-style structured outputs, passed through by OpenRouter).
 * Strict mode requires every property to be listed in `required` and `additionalProperties: false`.
 */
export function planJsonSchema(numScenes: number): Record<string, unknown> {
  const stringProp = (description: string) => ({ type: 'string', description });
  return {
    type: 'object',
    additionalProperties: false,
    required: ['style', 'cast', 'scenes'],
    properties: {
      style: stringProp('One line describing the visual style shared by every image.'),
      cast: {
        type: 'array',
        maxItems: PLAN_LIMITS.castMembers,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'description'],
          properties: {
            name: stringProp('The character name as used in the story.'),
            description: stringProp(
              'How the character looks, concrete enough to draw the same person in every scene: age, build, ' +
                'hair (colour and style), clothing (garments and colours), colour palette. Never empty.',
            ),
          },
        },
      },
      scenes: {
        type: 'array',
        minItems: numScenes,
        maxItems: numScenes,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['title', 'passage', 'image_prompt', 'characters'],
          properties: {
            title: stringProp('A short scene title.'),
            passage: stringProp('The part of the story this scene shows, quoted from the story.'),
            image_prompt: stringProp('What the image shows: setting, characters, action, composition.'),
            characters: { type: 'array', items: { type: 'string' } },
          },
        },
      },
    },
  };
}
