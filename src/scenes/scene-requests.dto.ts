import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ValidateIf } from 'class-validator';
import { SatisfiesCheck } from '../http/satisfies-check';
import { MAX_STORY_CHARS, textProblem } from '../http/story-text.validator';
import { MAX_PROMPT_CHARS } from '../providers/prompt-builder';

export const MAX_TITLE_CHARS = 300;
/** Runware's seeds are positive 32-bit integers. */
export const MAX_SEED = 2 ** 31 - 1;

const text = (name: string, maxChars: number) => (value: unknown) => textProblem(name, value, maxChars);

/** Present-but-null is an error, not "leave it as it is". */
const given = (name: string) => ValidateIf((dto: Record<string, unknown>) => dto[name] !== undefined);

export function seedProblem(value: unknown): string | null {
  if (typeof value !== 'number' || !Number.isInteger(value)) return 'seed must be an integer';
  if (value < 1 || value > MAX_SEED) return `seed must be between 1 and ${MAX_SEED}`;
  return null;
}

export function versionProblem(value: unknown): string | null {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    return 'version must be a positive integer';
  return null;
}

const TEXT_RULES = 'not blank, no control characters other than tab and line breaks';

export class EditSceneDto {
  @ApiPropertyOptional({ description: `${TEXT_RULES}, at most ${MAX_TITLE_CHARS} characters` })
  @given('title')
  @SatisfiesCheck('isSceneTitle', text('title', MAX_TITLE_CHARS))
  title?: string;

  @ApiPropertyOptional({
    description: `The passage the scene shows: ${TEXT_RULES}, at most ${MAX_STORY_CHARS} characters`,
  })
  @given('description')
  @SatisfiesCheck('isSceneDescription', text('description', MAX_STORY_CHARS))
  description?: string;

  @ApiPropertyOptional({
    description: `Used by the next regeneration: ${TEXT_RULES}, at most ${MAX_PROMPT_CHARS} characters`,
  })
  @given('image_prompt')
  @SatisfiesCheck('isImagePrompt', text('image_prompt', MAX_PROMPT_CHARS))
  image_prompt?: string;
}

export class RegenerateSceneDto {
  @ApiPropertyOptional({
    description:
      `The prompt to render (it becomes the scene's prompt); the scene's current one when absent. ` +
      `${TEXT_RULES}, at most ${MAX_PROMPT_CHARS} characters`,
  })
  @given('image_prompt')
  @SatisfiesCheck('isImagePrompt', text('image_prompt', MAX_PROMPT_CHARS))
  image_prompt?: string;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_SEED,
    description: "The seed to render with; the current version's when absent",
  })
  @given('seed')
  @SatisfiesCheck('isSeed', seedProblem)
  seed?: number;
}

export class SelectVersionDto {
  @ApiProperty({ type: 'integer', minimum: 1, description: "A version listed in the scene's `versions`" })
  @SatisfiesCheck('isSceneVersion', versionProblem)
  version!: number;
}

export class RegenerateResponseDto {
  @ApiProperty({ format: 'uuid' }) session_id!: string;
  @ApiProperty({ type: 'integer', minimum: 0 }) index!: number;
  @ApiProperty({
    type: 'integer',
    minimum: 2,
    description: 'The version being rendered; now the current one',
  })
  version!: number;
  @ApiProperty({ enum: ['rendering'] }) status!: 'rendering';
}
