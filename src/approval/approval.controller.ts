import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrorResponses } from '../http/api-error.decorator';
import { RequireJson } from '../http/require-json.guard';
import { ApprovalService } from './approval.service';
import { ApproveRequestDto, ApproveResponseDto } from './approve-request.dto';

@ApiTags('approval')
@Controller()
export class ApprovalController {
  constructor(private readonly approval: ApprovalService) {}

  @Post('approve')
  @HttpCode(200)
  @RequireJson()
  @ApiOperation({ summary: 'Approve rendered scenes; their images are then downloaded for export' })
  @ApiOkResponse({ type: ApproveResponseDto })
  @ApiErrorResponses(400, 404, 409, 413, 415, 503)
  approve(@Body() body: ApproveRequestDto): Promise<ApproveResponseDto> {
    return this.approval.approve(body);
  }
}
