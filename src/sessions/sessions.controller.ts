import { Controller, Get, Inject, NotFoundException, Param, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ApiErrorResponses } from '../http/api-error.decorator';
import { publicBaseUrl } from '../http/public-base-url';
import { SessionIdPipe } from './session-id';
import { StatusView, toStatusView } from './session-view';
import { SessionStore } from './session.store';

@ApiTags('sessions')
@Controller()
export class SessionsController {
  constructor(
    private readonly sessions: SessionStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get('status/:session_id')
  @ApiOperation({ summary: 'Progress, scenes and download state of a session' })
  @ApiParam({ name: 'session_id', format: 'uuid' })
  @ApiOkResponse({ type: StatusView })
  @ApiErrorResponses(400, 404)
  async status(
    @Param('session_id', SessionIdPipe) sessionId: string,
    @Req() req: Request,
  ): Promise<StatusView> {
    const session = await this.sessions.get(sessionId);
    if (!session) throw new NotFoundException('Session not found or expired');
    return toStatusView(session, publicBaseUrl(req, this.config));
  }
}
