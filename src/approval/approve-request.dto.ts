import { ApiProperty } from '@nestjs/swagger';
import { IsUUID } from 'class-validator';
import { SatisfiesCheck } from '../http/satisfies-check';

export const MAX_APPROVED_SCENES = 100;

/**
 * The first thing wrong with `approved_scenes`, or null. Whether the indices exist in the session is
 * checked against the session itself.
 */
export function sceneIndicesProblem(value: unknown): string | null {
  if (!Array.isArray(value)) return 'approved_scenes must be an array of scene indices';
  if (value.length === 0) return 'approved_scenes must not be empty';
  if (value.length > MAX_APPROVED_SCENES) {
    return `approved_scenes must contain at most ${MAX_APPROVED_SCENES} indices`;
  }
  if (!value.every((index) => Number.isInteger(index))) return 'approved_scenes must contain integers only';
  if (value.some((index: number) => index < 0)) return 'approved_scenes must not contain negative indices';
  // A Set treats 0 and -0 as the same index.
  if (new Set(value).size !== value.length) return 'approved_scenes must not contain duplicates';
  return null;
}

export class ApproveRequestDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID('all', { message: 'session_id must be a UUID' })
  session_id!: string;

  @ApiProperty({
    type: 'integer',
    isArray: true,
    minimum: 0,
    description: '0-based indices of scenes whose status is done, unique',
    example: [0, 2],
    minItems: 1,
    maxItems: MAX_APPROVED_SCENES,
    uniqueItems: true,
  })
  @SatisfiesCheck('isSceneIndices', sceneIndicesProblem)
  approved_scenes!: number[];
}

export class ApproveResponseDto {
  @ApiProperty({ example: 'Images approved and downloading' })
  message!: string;

  @ApiProperty({ enum: ['started'] })
  download_status!: 'started';
}
