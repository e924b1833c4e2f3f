import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  SetMetadata,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { KeyRing, presentedApiKey } from '../auth/api-keys';
import { URL_SIGNER } from '../auth/auth.module';
import { setRequestTenant } from '../auth/tenant';
import { UrlSigner } from '../auth/url-signer';
import { IS_PUBLIC } from './public.decorator';

const ACCEPTS_SIGNED_URL = 'acceptsSignedUrl';

/** Routes (the session images) that a signed URL opens without a key, for `<img>` tags. */
export const AcceptsSignedUrl = () => SetMetadata(ACCEPTS_SIGNED_URL, true);

const MISSING_KEY = 'A valid API key is required (X-API-Key header or Authorization: Bearer)';

/**
 * When API_KEYS is set, every route except the health probes needs one of the keys, and the request acts
 * for that key's tenant (its sessions only). Routes marked AcceptsSignedUrl also open to a valid signed
 * URL, for exactly the path it signs. (Swagger UI at /docs is served by its own Express handler, outside
 * Nest's guards, and stays open.)
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly keys: KeyRing,
    @Inject(URL_SIGNER) private readonly signer: UrlSigner | null,
    private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const req = context.switchToHttp().getRequest<Request>();
    if (!this.keys.required) {
      setRequestTenant(req, null);
      return true;
    }
    const tenant = this.keys.tenantOf(presentedApiKey(req));
    if (tenant !== undefined) {
      setRequestTenant(req, tenant);
      return true;
    }
    if (
      req.query.signature !== undefined &&
      this.reflector.getAllAndOverride<boolean>(ACCEPTS_SIGNED_URL, targets)
    )
      return this.acceptSignature(req);
    throw new UnauthorizedException(MISSING_KEY);
  }

  private acceptSignature(req: Request): true {
    const check = this.signer?.check(req.path, req.query.expires, req.query.signature) ?? 'invalid';
    if (check === 'expired')
      throw new ForbiddenException('This image URL has expired; GET /status gives fresh ones');
    if (check === 'invalid') throw new ForbiddenException('Invalid image URL signature');
    // The signature names the session and file; no tenant check is left to do.
    setRequestTenant(req, null);
    return true;
  }
}
