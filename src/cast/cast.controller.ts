import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBody, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { CurrentTenant, Tenant } from '../auth/tenant';
import { ApiErrorResponses } from '../http/api-error.decorator';
import { SessionIdPipe } from '../sessions/session-id';
import { CastNamePipe } from './cast-name.pipe';
import { RegeneratePortraitDto, RegeneratePortraitResponseDto } from './cast-requests.dto';
import { CastService } from './cast.service';

@ApiTags('scenes')
@Controller('sessions/:session_id/cast/:name')
export class CastController {
  constructor(private readonly cast: CastService) {}

  @Post('regenerate')
  @HttpCode(202)
  @ApiOperation({
    summary: "Draw a cast member's portrait again, as a new version",
    description:
      "Optionally with a new `description` (it becomes the cast sheet's, and replaces the old one in the " +
      "prompts of the character's scenes wherever it still stands as written) or `seed`. Scenes are not " +
      'rendered again by this: the answer lists the scenes that show the character, and regenerating one ' +
      'of them renders it from the new portrait. Until the new portrait is drawn, and if it fails, scenes ' +
      'keep being rendered from the last one drawn. Poll GET /status (or its `cast` events) for the portrait.',
  })
  @ApiParam({ name: 'session_id', schema: { type: 'string', format: 'uuid' } })
  @ApiParam({ name: 'name', description: 'The cast member, as `cast[].name` gives it (any case)' })
  @ApiBody({ type: RegeneratePortraitDto, required: false })
  @ApiAcceptedResponse({ type: RegeneratePortraitResponseDto, description: 'The new portrait is queued' })
  @ApiErrorResponses({
    400: 'session_id is not a UUID, or name is blank or too long; a blank or too long description, a seed out of range, unknown fields',
    404: "Unknown or expired session, another API key's, or no cast member of that name",
    409: 'The cast is still being drawn, the session was approved or failed before its scenes, this portrait is being drawn, or it has MAX_VERSIONS_PER_SCENE versions',
  })
  regeneratePortrait(
    @Param('session_id', SessionIdPipe) sessionId: string,
    @Param('name', CastNamePipe) name: string,
    @Body() body: RegeneratePortraitDto,
    @CurrentTenant() tenant: Tenant,
  ): Promise<RegeneratePortraitResponseDto> {
    return this.cast.regenerate(sessionId, name, tenant, body);
  }
}
