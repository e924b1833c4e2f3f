import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
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
  @ApiErrorResponses(400, 413, 415, 503)
  generate(@Body() body: GenerateRequestDto): Promise<GenerateResponseDto> {
    return this.generation.start(body);
  }
}
