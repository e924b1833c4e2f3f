import { Body, Controller, Headers, HttpCode, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import { presentedApiKey } from '../http/api-key.guard';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrorResponses } from '../http/api-error.decorator';
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
    @Req() req: Request,
  ): Promise<GenerateResponseDto> {
    // Keys are per client: the API key presented (hashed into the Redis key, never stored).
    return this.generation.start(
      body,
      idempotencyKey !== undefined ? { key: idempotencyKey, client: presentedApiKey(req) ?? '' } : undefined,
    );
  }
}
