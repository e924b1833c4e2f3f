import { Controller, Get, Inject, NotFoundException, Param, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { KeyRing } from '../auth/api-keys';
import { CurrentTenant, Tenant } from '../auth/tenant';
import { AcceptsSignedUrl } from '../http/api-key.guard';
import { SessionStore } from '../sessions/session.store';
import { isImageKey } from '../storage/image-keys';
import { IMAGE_STORAGE, ImageStorage } from '../storage/image-storage';
import { answerImageError, serveImage } from './image-response';

/**
 * The session images at /static/<session_id>/…: a scene's rendered image (`image_url`) and its downloaded
 * file (`download.file_url`). Routed through Nest like the rest of the API, so the rate limit, the key
 * check and the tenant check apply; with API_KEYS set, the URLs the API hands out are signed, so a plain
 * GET (an `<img>` tag) loads them. Documented by hand in http/openapi/static-images.ts, with the Range and
 * validator answers Nest's decorators cannot express.
 */
@ApiExcludeController()
@Controller('static')
export class StaticImagesController {
  /** Behind API keys an image is one tenant's: shared caches must not keep it. */
  private readonly cacheControl: string;

  constructor(
    @Inject(IMAGE_STORAGE) private readonly storage: ImageStorage,
    private readonly sessions: SessionStore,
    keys: KeyRing,
  ) {
    this.cacheControl = keys.required ? 'private, max-age=3600' : 'public, max-age=3600';
  }

  @Get(':session_id/renders/:file')
  @AcceptsSignedUrl()
  rendered(
    @Param('session_id') sessionId: string,
    @Param('file') file: string,
    @CurrentTenant() tenant: Tenant,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    return this.serve(sessionId, `${sessionId}/renders/${file}`, tenant, req, res);
  }

  @Get(':session_id/:file')
  @AcceptsSignedUrl()
  downloaded(
    @Param('session_id') sessionId: string,
    @Param('file') file: string,
    @CurrentTenant() tenant: Tenant,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    return this.serve(sessionId, `${sessionId}/${file}`, tenant, req, res);
  }

  /** Anything else under /static (a traversal attempt, a folder) is a missing file, like the rest. */
  @Get('*path')
  @AcceptsSignedUrl()
  other(): never {
    throw new NotFoundException('File not found');
  }

  private async serve(sessionId: string, key: string, tenant: Tenant, req: Request, res: Response) {
    // Another tenant's image is as missing as an unknown one.
    if (!isImageKey(key) || (tenant !== null && !(await this.sessions.visibleTo(sessionId, tenant))))
      throw new NotFoundException('File not found');
    try {
      await serveImage(this.storage, key, this.cacheControl, req, res);
    } catch (err) {
      answerImageError(err, res);
    }
  }
}
