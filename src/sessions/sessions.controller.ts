import { Controller, Get, Inject, NotFoundException, Param, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { createHash } from 'node:crypto';
import { URL_SIGNER } from '../auth/auth.module';
import { CurrentTenant, Tenant } from '../auth/tenant';
import { UrlSigner } from '../auth/url-signer';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ApiErrorResponses } from '../http/api-error.decorator';
import { publicBaseUrl } from '../http/public-base-url';
import { SessionIdPipe } from './session-id';
import { StatusView, toStatusView } from './session-view';
import { SessionStore } from './session.store';
import { StatusCache } from './status-cache';

const STATUS_HEADERS = {
  ETag: { description: 'Changes whenever the session does', required: true, schema: { type: 'string' } },
  'Cache-Control': {
    required: true,
    description: '`private, no-cache` when API_KEYS is set: the body holds signed image URLs',
    schema: { type: 'string', enum: ['no-cache', 'private, no-cache'] },
  },
};

@ApiTags('sessions')
@Controller()
export class SessionsController {
  private readonly cacheControl: string;

  constructor(
    private readonly sessions: SessionStore,
    private readonly cache: StatusCache,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(URL_SIGNER) private readonly signer: UrlSigner | null,
  ) {
    // With keys, the body is one tenant's and its signed URLs open images: no shared cache may keep it.
    this.cacheControl = signer ? 'private, no-cache' : 'no-cache';
  }

  @Get('status/:session_id')
  @ApiOperation({
    summary: 'Progress, scenes and download state of a session',
    description:
      'Poll until `status` is no longer `processing`, and after approval until `download_status` is no ' +
      'longer `started`. Send the last ETag in If-None-Match to get a 304 while nothing changed.',
  })
  @ApiParam({ name: 'session_id', schema: { type: 'string', format: 'uuid' } })
  @ApiHeader({
    name: 'If-None-Match',
    required: false,
    description: 'The ETag of the last answer: 304 while the session is unchanged',
    schema: { type: 'string' },
  })
  @ApiOkResponse({ type: StatusView, description: 'The session', headers: STATUS_HEADERS })
  @ApiResponse({
    status: 304,
    description: 'Unchanged since the ETag sent in If-None-Match',
    headers: STATUS_HEADERS,
  })
  @ApiErrorResponses({
    400: 'session_id is not a UUID',
    404: "Unknown or expired session, or another API key's",
  })
  async getStatus(
    @Param('session_id', SessionIdPipe) sessionId: string,
    @CurrentTenant() tenant: Tenant,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const version = await this.sessions.versionFor(sessionId, tenant);
    if (!version) throw new NotFoundException('Session not found or expired');
    // Signed image URLs change once per signing step (UrlSigner): the cached body and the ETag with them.
    const expires = this.signer?.currentExpiry();
    const baseUrl = publicBaseUrl(req, this.config);
    const variant = expires === undefined ? baseUrl : `${baseUrl}#${expires}`;
    // The ETag names the session's write counter, so polling clients get a 304 until something changes.
    const origin = originTag(variant);
    const etagOf = (v: string) => `W/"${v}-${origin}"`;
    res.setHeader('Cache-Control', this.cacheControl);
    if (req.get('if-none-match') === etagOf(version)) {
      res.setHeader('ETag', etagOf(version));
      res.status(304).end();
      return;
    }
    let body = this.cache.get(sessionId, version, variant);
    let servedVersion = version;
    if (body === undefined) {
      const session = await this.sessions.getFor(sessionId, tenant);
      if (!session) throw new NotFoundException('Session not found or expired');
      body = Buffer.from(JSON.stringify(toStatusView(session, baseUrl, this.signer?.signing(expires))));
      // The full read may already be newer than the version checked above: label it with its own.
      servedVersion = String(session.version);
      this.cache.set(sessionId, servedVersion, variant, body);
    }
    res.setHeader('ETag', etagOf(servedVersion));
    res.status(200).setHeader('Content-Type', 'application/json; charset=utf-8');
    res.send(body);
  }
}

/** Hosts a deployment is reached by are few; the bound only keeps forged Host headers from growing it. */
const ORIGIN_TAGS = new Map<string, string>();
const MAX_ORIGIN_TAGS = 64;

/**
 * A short hash of the public base URL (and the signing step), so an ETag never matches a body built with
 * other absolute URLs.
 */
function originTag(variant: string): string {
  let tag = ORIGIN_TAGS.get(variant);
  if (tag === undefined) {
    tag = createHash('sha1').update(variant).digest('base64url').slice(0, 8);
    if (ORIGIN_TAGS.size >= MAX_ORIGIN_TAGS) ORIGIN_TAGS.clear();
    ORIGIN_TAGS.set(variant, tag);
  }
  return tag;
}
