import { Controller, Get, Inject, NotFoundException, Param, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { CurrentTenant, Tenant } from '../auth/tenant';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ApiErrorResponses } from '../http/api-error.decorator';
import { ApiEventStream } from '../http/openapi/event-stream.decorator';
import { publicBaseUrl } from '../http/public-base-url';
import { SessionIdPipe } from '../sessions/session-id';
import { ProgressView, SceneView, StatusView } from '../sessions/session-view';
import { SessionStore } from '../sessions/session.store';
import { CastEventView, DownloadEventView, ExpiredEventView, StatusEventView } from './session-event-views';
import { formatEvent } from './session-deltas';
import { SessionEventHub } from './session-event-hub';
import { SseStream } from './sse-stream';

@ApiTags('sessions')
@Controller()
export class SessionEventsController {
  constructor(
    private readonly sessions: SessionStore,
    private readonly hub: SessionEventHub,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get('status/:session_id/events')
  @ApiOperation({
    summary: 'Live progress of a session, as server-sent events',
    description:
      'The alternative to polling GET /status: a `text/event-stream` (for an EventSource) that starts with ' +
      'a `snapshot` of the session, then sends an event for each change, from whichever worker made it. ' +
      "Each event's `id` is the session's version (its write counter, as in GET /status's ETag); an " +
      'EventSource that reconnects sends it back in Last-Event-ID and gets a new snapshot, then the changes ' +
      'after it. A comment line (`: heartbeat`) comes every 15 s while nothing changes. The stream stays ' +
      'open until the client closes it or the session expires (a last `expired` event, then the end).',
  })
  @ApiParam({ name: 'session_id', schema: { type: 'string', format: 'uuid' } })
  @ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description: 'The id of the last event received, sent by an EventSource when it reconnects',
    schema: { type: 'string' },
  })
  @ApiEventStream('The session, then its changes as they happen', {
    snapshot: {
      description: 'first, and again after each reconnect: the whole GET /status body',
      data: StatusView,
    },
    cast: {
      description: 'a cast portrait changed (drawn, failed, or drawn again): the whole cast sheet',
      data: CastEventView,
    },
    scene: { description: "a scene's status, image or text changed (the whole scene)", data: SceneView },
    progress: { description: 'the progress changed', data: ProgressView },
    download: {
      description: 'after approval, as each approved image is downloaded (the approved scenes)',
      data: DownloadEventView,
    },
    status: { description: "the session's status, phase or error changed", data: StatusEventView },
    expired: { description: 'the session expired; the stream ends', data: ExpiredEventView },
  })
  @ApiErrorResponses({
    400: 'session_id is not a UUID',
    404: "Unknown or expired session, or another API key's",
  })
  async streamStatusEvents(
    @Param('session_id', SessionIdPipe) sessionId: string,
    @CurrentTenant() tenant: Tenant,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    if (!(await this.sessions.versionFor(sessionId, tenant))) {
      throw new NotFoundException('Session not found or expired');
    }
    const stream = new SseStream(sessionId, publicBaseUrl(req, this.config), res);
    // 'close' of the answer, not of the request (which Node emits once the request is read): it comes when
    // the client goes away, or the stream ends. The client may leave while the stream is being joined.
    let gone = false;
    res.once('close', () => {
      gone = true;
      this.hub.leave(stream);
    });
    const snapshot = await this.hub.join(stream);
    if (!snapshot) throw new NotFoundException('Session not found or expired');
    if (gone) {
      this.hub.leave(stream);
      return;
    }
    stream.open();
    stream.write(formatEvent('snapshot', snapshot.version, snapshot.view));
  }
}
