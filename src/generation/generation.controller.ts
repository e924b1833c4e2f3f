import { Body, Controller, Headers, HttpCode, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import { presentedApiKey } from '../http/api-key.guard';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrorResponses } from '../http/api-error.decorator';
import { RequireJson } from '../http/require-json.guard';
import { GenerateRequestDto, GenerateResponseDto } from './generate-request.dto';
import { GenerationService } from './generation.service';

@ApiTags('generation')
@Controller()
export class GenerationController {
  constructor(private readonly generation: GenerationService) {}

  @Post('generate')
  @HttpCode(200)
  @RequireJson()
  @ApiOperation({ summary: 'Start planning and rendering a story' })
  @ApiOkResponse({ type: GenerateResponseDto })
  @ApiErrorResponses(400, 413, 415, 422, 503)
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description:
      'Repeating a request with the same key and body returns the same session (422 if the body differs)',
  })
  generate(
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
