import { ApiProperty } from '@nestjs/swagger';
import { MEDIA_TYPES, MediaType } from '../domain/session.model';

export class SceneCountLimits {
  @ApiProperty({ type: 'integer', example: 1 }) min!: number;
  @ApiProperty({ type: 'integer', example: 20 }) max!: number;
  @ApiProperty({ type: 'integer', example: 5 }) default!: number;
}

export class GenerateLimits {
  @ApiProperty({ enum: MEDIA_TYPES, enumName: 'MediaType', isArray: true }) media_types!: MediaType[];
  @ApiProperty({ enum: MEDIA_TYPES, enumName: 'MediaType' }) default_media_type!: MediaType;
  @ApiProperty({ type: SceneCountLimits }) num_scenes!: SceneCountLimits;
  @ApiProperty({ type: 'integer', description: 'Most characters (code points) a story may have' })
  max_story_chars!: number;
}

export class AuthInfo {
  @ApiProperty({
    description: 'Whether every keyed endpoint needs an API key here (API_KEYS is set)',
  })
  api_key_required!: boolean;
  @ApiProperty({ example: ['X-API-Key', 'Authorization: Bearer'], isArray: true, type: String })
  api_key_headers!: string[];
}

/** What a client needs before its first request: whether it needs a key, and the limits of a story. */
export class ServiceInfoView {
  @ApiProperty({ example: '1.0.0' }) version!: string;
  @ApiProperty({ type: AuthInfo }) auth!: AuthInfo;
  @ApiProperty({ type: GenerateLimits }) generate!: GenerateLimits;
}
