import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayNotEmpty, ArrayUnique, IsArray, IsInt, IsUUID, Min } from 'class-validator';

export class ApproveRequestDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID('all', { message: 'session_id must be a UUID' })
  session_id!: string;

  @ApiProperty({ type: [Number], description: '0-based scene indices, unique, in range', example: [0, 2] })
  @IsArray({ message: 'approved_scenes must be an array of scene indices' })
  @ArrayNotEmpty({ message: 'approved_scenes must not be empty' })
  @ArrayMaxSize(100)
  @ArrayUnique({ message: 'approved_scenes must not contain duplicates' })
  @IsInt({ each: true, message: 'approved_scenes must contain integers only' })
  @Min(0, { each: true, message: 'approved_scenes must not contain negative indices' })
  approved_scenes!: number[];
}

export class ApproveResponseDto {
  @ApiProperty({ example: 'Images approved and downloading' })
  message!: string;

  @ApiProperty({ enum: ['started'] })
  download_status!: 'started';
}
