import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentTenant, Tenant } from '../auth/tenant';
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
  @ApiOperation({
    summary: 'Approve rendered scenes; their images are then downloaded for export',
    description: 'Poll `GET /status/{session_id}` until `download_status` is `completed` (or `failed`).',
  })
  @ApiOkResponse({ type: ApproveResponseDto, description: 'The download of the approved images started' })
  @ApiErrorResponses({
    400:
      'Bad session_id or indices: empty, duplicate, negative, out of range, or a scene without an image; ' +
      'unknown fields, malformed JSON',
    404: "Unknown or expired session, or another API key's",
    409: 'The session is not completed (still generating, or failed), or was already approved',
    415: 'Body is not JSON',
  })
  approveScenes(
    @Body() body: ApproveRequestDto,
    @CurrentTenant() tenant: Tenant,
  ): Promise<ApproveResponseDto> {
    return this.approval.approve(body, tenant);
  }
}
