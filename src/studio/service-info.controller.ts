import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { KeyRing } from '../auth/api-keys';
import { APP_VERSION } from '../config/version';
import { MEDIA_TYPES } from '../domain/session.model';
import { DEFAULT_MEDIA_TYPE, DEFAULT_SCENES, MAX_SCENES } from '../generation/generate-request.dto';
import { Public } from '../http/public.decorator';
import { MAX_STORY_CHARS } from '../http/story-text.validator';
import { ServiceInfoView } from './service-info.view';

/**
 * Public, so a page (the studio) can tell at load time whether to ask for an API key, before it has one.
 * It says only what the API's own validation and 401s would say anyway; never a key or a setting.
 */
@ApiTags('service')
@Controller('info')
@Public()
export class ServiceInfoController {
  private readonly view: ServiceInfoView;

  constructor(keys: KeyRing) {
    this.view = {
      version: APP_VERSION,
      auth: {
        api_key_required: keys.required,
        api_key_headers: ['X-API-Key', 'Authorization: Bearer'],
      },
      generate: {
        media_types: [...MEDIA_TYPES],
        default_media_type: DEFAULT_MEDIA_TYPE,
        num_scenes: { min: 1, max: MAX_SCENES, default: DEFAULT_SCENES },
        max_story_chars: MAX_STORY_CHARS,
      },
    };
  }

  @Get()
  @Header('Cache-Control', 'no-cache')
  @ApiOperation({
    summary: 'What a client needs to know first: whether an API key is required, and the story limits',
    description: 'No API key needed, so a page can learn whether to ask for one.',
  })
  @ApiOkResponse({ type: ServiceInfoView, description: 'The service, as this deployment is set up' })
  getServiceInfo(): ServiceInfoView {
    return this.view;
  }
}
