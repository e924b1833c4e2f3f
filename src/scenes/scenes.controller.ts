import { Body, Controller, HttpCode, Inject, Param, Patch, Post, Req } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { Request } from 'express';
import { URL_SIGNER } from '../auth/auth.module';
import { CurrentTenant, Tenant } from '../auth/tenant';
import { UrlSigner } from '../auth/url-signer';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ApiErrorResponses } from '../http/api-error.decorator';
import { publicBaseUrl } from '../http/public-base-url';
import { RequireJson } from '../http/require-json.guard';
import { SessionIdPipe } from '../sessions/session-id';
import { SceneView, toSceneView } from '../sessions/session-view';
import { SceneIndexPipe } from './scene-index.pipe';
import {
  EditSceneDto,
  RegenerateResponseDto,
  RegenerateSceneDto,
  SelectVersionDto,
} from './scene-requests.dto';
import { SceneChange, ScenesService } from './scenes.service';

const NOT_FOUND = "Unknown or expired session, another API key's, or no scene at that index";
const BAD_PATH = 'session_id is not a UUID, or index is not a non-negative integer';

@ApiTags('scenes')
@ApiParam({ name: 'session_id', schema: { type: 'string', format: 'uuid' } })
@ApiParam({ name: 'index', description: '0-based scene index', schema: { type: 'integer', minimum: 0 } })
@Controller('sessions/:session_id/scenes/:index')
export class ScenesController {
  constructor(
    private readonly scenes: ScenesService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(URL_SIGNER) private readonly signer: UrlSigner | null,
  ) {}

  @Patch()
  @RequireJson()
  @ApiOperation({
    summary: "Edit a scene's title, description or image prompt before approval",
    description: 'Stores the edit; nothing is rendered. POST …/regenerate renders the edited prompt.',
  })
  @ApiOkResponse({ type: SceneView, description: 'The scene, as GET /status shows it' })
  @ApiErrorResponses({
    400: `${BAD_PATH}; a field blank, too long or not text; unknown fields, malformed JSON`,
    404: NOT_FOUND,
    409: 'The session was approved, or the scene is rendering',
    415: 'Body is not JSON',
  })
  async editScene(
    @Param('session_id', SessionIdPipe) sessionId: string,
    @Param('index', SceneIndexPipe) index: number,
    @Body() body: EditSceneDto,
    @CurrentTenant() tenant: Tenant,
    @Req() req: Request,
  ): Promise<SceneView> {
    return this.view(req, await this.scenes.edit(sessionId, index, tenant, body));
  }

  @Post('regenerate')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Render a scene again, as a new version',
    description:
      'The body is optional: without `image_prompt` or `seed` the scene renders with its current ones. ' +
      'The session is `processing` (phase `rendering`) until the render ends, then `completed` again; ' +
      'other scenes are untouched. The new version is current once queued; poll GET /status (or its ' +
      'events) for the scene. Regenerating a failed scene repairs a session whose scenes failed.',
  })
  @ApiBody({ type: RegenerateSceneDto, required: false })
  @ApiAcceptedResponse({
    type: RegenerateResponseDto,
    description: 'The render of the new version is queued',
  })
  @ApiErrorResponses({
    400: `${BAD_PATH}; a blank or too long image_prompt, a seed out of range; unknown fields`,
    404: NOT_FOUND,
    409:
      'The session was approved, the scene is rendering, the scene has MAX_VERSIONS_PER_SCENE versions, ' +
      'or the session failed before its scenes were rendered',
  })
  regenerateScene(
    @Param('session_id', SessionIdPipe) sessionId: string,
    @Param('index', SceneIndexPipe) index: number,
    @Body() body: RegenerateSceneDto,
    @CurrentTenant() tenant: Tenant,
  ): Promise<RegenerateResponseDto> {
    return this.scenes.regenerate(sessionId, index, tenant, body);
  }

  @Post('select')
  @HttpCode(200)
  @RequireJson()
  @ApiOperation({
    summary: "Make one of a scene's versions the current one",
    description: 'The current version is the one shown, approved and exported.',
  })
  @ApiOkResponse({ type: SceneView, description: 'The scene, as GET /status shows it' })
  @ApiErrorResponses({
    400: `${BAD_PATH}; version not a positive integer; unknown fields, malformed JSON`,
    404: `${NOT_FOUND}, or the scene has no such version`,
    409: 'The session was approved, the scene is rendering, or that version has no image',
    415: 'Body is not JSON',
  })
  async selectSceneVersion(
    @Param('session_id', SessionIdPipe) sessionId: string,
    @Param('index', SceneIndexPipe) index: number,
    @Body() body: SelectVersionDto,
    @CurrentTenant() tenant: Tenant,
    @Req() req: Request,
  ): Promise<SceneView> {
    return this.view(req, await this.scenes.select(sessionId, index, tenant, body.version));
  }

  /** The scene as GET /status shows it, with this service's image URLs absolute and signed the same way. */
  private view(req: Request, { session, scene }: SceneChange): SceneView {
    return toSceneView(session, scene, publicBaseUrl(req, this.config), this.signer?.signing());
  }
}
