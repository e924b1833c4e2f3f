import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ValidateIf } from 'class-validator';
import { SatisfiesCheck } from '../http/satisfies-check';
import { textProblem } from '../http/story-text.validator';
import { MAX_SEED, seedProblem } from '../scenes/scene-requests.dto';

export const MAX_CHARACTER_DESCRIPTION_CHARS = 1000;

export class RegeneratePortraitDto {
  @ApiPropertyOptional({
    description:
      "A new description of the character (it becomes the cast sheet's): not blank, no control characters " +
      `other than tab and line breaks, at most ${MAX_CHARACTER_DESCRIPTION_CHARS} characters`,
  })
  @ValidateIf((dto: RegeneratePortraitDto) => dto.description !== undefined)
  @SatisfiesCheck('isCharacterDescription', (value: unknown) =>
    textProblem('description', value, MAX_CHARACTER_DESCRIPTION_CHARS),
  )
  description?: string;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_SEED,
    description: "The portrait's current seed when absent",
  })
  @ValidateIf((dto: RegeneratePortraitDto) => dto.seed !== undefined)
  @SatisfiesCheck('isSeed', seedProblem)
  seed?: number;
}

export class RegeneratePortraitResponseDto {
  @ApiProperty({ format: 'uuid' }) session_id!: string;
  @ApiProperty({ description: 'The cast member, as the cast sheet names it' }) name!: string;
  @ApiProperty({ type: 'integer', minimum: 1 }) version!: number;
  @ApiProperty({ enum: ['rendering'] }) status!: 'rendering';
  @ApiProperty({
    type: 'integer',
    isArray: true,
    description:
      'Indices of the scenes that show this character: they keep their images until each is regenerated ' +
      '(POST /sessions/{id}/scenes/{index}/regenerate), which then renders from the new portrait',
  })
  affected_scenes!: number[];
}
