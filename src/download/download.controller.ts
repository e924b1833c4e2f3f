import {
  Body,
  ConflictException,
  Controller,
  HttpCode,
  Logger,
  Inject,
  NotFoundException,
  Post,
  Req,
  Res,
  UseInterceptors,
} from '@nestjs/common';
import { NoFilesInterceptor } from '@nestjs/platform-express';
import { ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { CurrentTenant, Tenant } from '../auth/tenant';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ApiErrorResponses, RETRY_AFTER_HEADER } from '../http/api-error.decorator';
import { RetryLaterException } from '../http/retry-later.exception';
import { publicBaseUrl } from '../http/public-base-url';
import { SessionStore } from '../sessions/session.store';
import { DownloadRequestDto } from './download-request.dto';
import { StoryboardService } from './storyboard/storyboard.service';
import { ZipExportService } from './zip-export.service';

const RETRY_AFTER_SECONDS = 2;

@ApiTags('download')
@Controller()
export class DownloadController {
  private readonly logger = new Logger('Export');

  constructor(
    private readonly sessions: SessionStore,
    private readonly zip: ZipExportService,
    private readonly storyboard: StoryboardService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post('download')
  @HttpCode(200)
  @UseInterceptors(NoFilesInterceptor({ limits: { fields: 5, fieldSize: 1024, parts: 5 } }))
  @ApiOperation({
    summary: 'Download the approved scenes as a ZIP project (streamed)',
    description: 'Call once `download_status` is `completed` or `failed`; see the README for the ZIP layout.',
  })
  @ApiConsumes('application/x-www-form-urlencoded', 'multipart/form-data', 'application/json')
  @ApiBody({ type: DownloadRequestDto })
  @ApiOkResponse({
    description:
      'The ZIP: images/scene_NN.<ext>, scenes.json, story.txt, and (unless EXPORT_STORYBOARD=false) ' +
      'storyboard.pdf (a title page, then one page per exported scene: its image, number, title and ' +
      'description) and storyboard.html (the same as one self-contained page using the images/ files)',
    headers: {
      'Content-Disposition': {
        required: true,
        description: 'attachment; filename="story_<first 8 characters of the id>.zip"',
        schema: { type: 'string' },
      },
      'Content-Length': {
        required: true,
        description: 'Exact, so a cut-off download is detectable',
        schema: { type: 'integer' },
      },
    },
    content: { 'application/zip': { schema: { type: 'string', format: 'binary' } } },
  })
  @ApiErrorResponses({
    400: 'Missing or malformed session_id, or unknown fields',
    404: "Unknown or expired session, or another API key's",
    409: {
      description:
        'Nothing approved yet, approved images still downloading (with Retry-After), or none of them ' +
        'could be downloaded',
      headers: RETRY_AFTER_HEADER,
    },
    415: 'Multipart body that is not multipart/form-data',
  })
  async downloadZip(
    @Body() body: DownloadRequestDto,
    @CurrentTenant() tenant: Tenant,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const sessionId = body.session_id.toLowerCase();
    const session = await this.sessions.getFor(sessionId, tenant);
    if (!session) throw new NotFoundException('Session not found or expired');
    if (session.download_status === 'not_started') {
      throw new ConflictException('Nothing approved yet: approve scenes with POST /approve first');
    }
    if (session.download_status === 'started') {
      throw new RetryLaterException(
        409,
        'Approved images are still downloading; retry shortly',
        RETRY_AFTER_SECONDS,
      );
    }
    const [exported, story] = await Promise.all([
      this.zip.collectImages(session),
      this.sessions.getStory(sessionId),
    ]);
    if (exported.images.length === 0) {
      throw new ConflictException('None of the approved images could be downloaded; nothing to export');
    }
    // Usually built by the download job already; built here (before any byte is sent) when it is not.
    const storyboard = this.config.exportStoryboard
      ? await this.storyboard.entries(session, story ?? '', exported)
      : undefined;
    const baseUrl = publicBaseUrl(req, this.config);
    const archive = this.zip.archive(session, story ?? '', exported, baseUrl, storyboard);
    res.status(200);
    res.setHeader('Content-Type', 'application/zip');
    res.setHeader('Content-Length', archive.totalBytes());
    res.setHeader('Content-Disposition', `attachment; filename="story_${sessionId.slice(0, 8)}.zip"`);
    res.setHeader('Cache-Control', 'no-store');
    // Headers are sent by now, so a failure can only cut the stream short (the client sees fewer bytes
    // than Content-Length); it is logged, not answered.
    await archive.write(res).catch((err: Error) => {
      this.logger.warn(`ZIP of ${sessionId} not completed: ${err.message}`);
      res.destroy();
    });
  }
}
