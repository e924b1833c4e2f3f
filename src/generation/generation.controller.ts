import { Body, Controller, Headers, HttpCode, Post } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentTenant, Tenant } from '../auth/tenant';
import { ApiErrorResponses, RETRY_AFTER_HEADER } from '../http/api-error.decorator';
import { RequireJson } from '../http/require-json.guard';
import { MAX_STORY_CHARS } from '../http/story-text.validator';
import { GenerateRequestDto, GenerateResponseDto, MAX_SCENES } from './generate-request.dto';
import { GenerationService } from './generation.service';

@ApiTags('generation')
@Controller()
export class GenerationController {
  constructor(private readonly generation: GenerationService) {}

  @Post('generate')
  @HttpCode(200)
  @RequireJson()
  @ApiOperation({ summary: 'Start planning and rendering a story' })
  @ApiOkResponse({ type: GenerateResponseDto, description: 'The session exists and is queued' })
  @ApiErrorResponses({
    400:
      `Invalid input: blank story, over ${MAX_STORY_CHARS} characters, control characters, unknown ` +
      `media_type, num_scenes not an integer in 1..${MAX_SCENES}, unknown fields, malformed JSON, or a ` +
      'malformed Idempotency-Key',
    409: 'A request with this Idempotency-Key is still being processed after 5 s; retry shortly',
    415: 'Body is not JSON',
    422: 'Idempotency-Key reused with a different body',
    429: {
      description:
        'Rate limit exceeded, or this API key already has MAX_ACTIVE_SESSIONS_PER_KEY sessions processing; ' +
        'nothing was queued. Retry after Retry-After seconds',
      headers: RETRY_AFTER_HEADER,
    },
    503: 'AI_PROVIDERS=live and a live provider failed its last check, or Redis is unreachable',
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description:
      'Repeating a request with the same key and body returns the same session (422 if the body differs)',
    schema: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7E]+$' },
  })
  generateStory(
    @Body() body: GenerateRequestDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @CurrentTenant() tenant: Tenant,
  ): Promise<GenerateResponseDto> {
    return this.generation.start(body, tenant, idempotencyKey);
  }
}
