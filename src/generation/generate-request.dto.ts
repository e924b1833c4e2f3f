import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsString, MaxLength, ValidateIf } from 'class-validator';
import { SatisfiesCheck } from '../http/satisfies-check';
import { IsStoryText, MAX_STORY_CHARS } from '../http/story-text.validator';
import { MEDIA_TYPES, MediaType } from '../domain/session.model';

export const MAX_SCENES = 20;
export const DEFAULT_SCENES = 5;
export const DEFAULT_MEDIA_TYPE: MediaType = 'cinematic';

/** The first thing wrong with `num_scenes`, or null: a string "3" is not an integer, not "over 20". */
export function sceneCountProblem(value: unknown): string | null {
  if (typeof value !== 'number' || !Number.isInteger(value)) return 'num_scenes must be an integer';
  if (value < 1) return 'num_scenes must be at least 1';
  if (value > MAX_SCENES) return `num_scenes must be at most ${MAX_SCENES}`;
  return null;
}

export class GenerateRequestDto {
  @ApiProperty({
    description:
      'The story to illustrate: not blank, no control characters other than tab and line breaks, ' +
      `at most ${MAX_STORY_CHARS} characters (Unicode code points)`,
    minLength: 1,
    maxLength: MAX_STORY_CHARS,
    example: 'Mara found a glowing lantern in the attic. She carried it down to the harbour at dusk.',
  })
  @IsStoryText()
  story_text!: string;

  @ApiPropertyOptional({ enum: MEDIA_TYPES, enumName: 'MediaType', default: DEFAULT_MEDIA_TYPE })
  // Present-but-null is an error, not "use the default".
  @ValidateIf((dto: GenerateRequestDto) => dto.media_type !== undefined)
  @IsIn(MEDIA_TYPES, { message: `media_type must be one of: ${MEDIA_TYPES.join(', ')}` })
  media_type: MediaType = DEFAULT_MEDIA_TYPE;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_SCENES, default: DEFAULT_SCENES })
  @ValidateIf((dto: GenerateRequestDto) => dto.num_scenes !== undefined)
  @SatisfiesCheck('isSceneCount', sceneCountProblem)
  num_scenes: number = DEFAULT_SCENES;

  @ApiPropertyOptional({
    description:
      'Where to send signed webhook events of this session (Standard Webhooks: session.completed, ' +
      'session.failed, scene.regenerated, download.completed, download.failed). Its host must be in ' +
      'WEBHOOK_ALLOWED_HOSTS (a host matched only by a *.suffix entry must resolve to public addresses), ' +
      'and WEBHOOK_SECRET must be set; otherwise 400',
    format: 'uri',
    maxLength: 2048,
    example: 'https://hooks.example.com/storyboard',
  })
  @ValidateIf((dto: GenerateRequestDto) => dto.callback_url !== undefined)
  @IsString({ message: 'callback_url must be a string' })
  @MaxLength(2048, { message: 'callback_url must be at most 2048 characters' })
  callback_url?: string;
}

export class GenerateResponseDto {
  @ApiProperty({ format: 'uuid' })
  session_id!: string;

  @ApiProperty({ enum: ['processing'] })
  status!: 'processing';

  @ApiProperty({ example: 'Generation started' })
  message!: string;
}
