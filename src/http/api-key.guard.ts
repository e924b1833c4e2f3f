import { CanActivate, ExecutionContext, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { errorEnvelope } from './error-envelope.filter';
import { IS_PUBLIC } from './public.decorator';

/** The API key a request presents: `X-API-Key`, or `Authorization: Bearer <key>`. */
export function presentedApiKey(req: Request): string | undefined {
  const header = req.get('x-api-key');
  if (header) return header.trim();
  const match = /^Bearer\s+(.+)$/i.exec(req.get('authorization') ?? '');
  return match?.[1].trim();
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Whether `presented` is one of `keys` (SHA-256 digests), compared in constant time. */
function matchesAny(keys: Buffer[], presented: string | undefined): boolean {
  if (!presented) return false;
  const candidate = digest(presented);
  let match = false;
  for (const key of keys) match = timingSafeEqual(key, candidate) || match;
  return match;
}

const MISSING_KEY = 'A valid API key is required (X-API-Key header or Authorization: Bearer)';

/** The same check for /static, which Express serves before Nest's guards run; it answers the 401 itself. */
export function staticApiKeyCheck(config: AppConfig) {
  const keys = config.apiKeys.map((entry) => digest(entry.key));
  return (req: Request, res: Response, next: NextFunction) => {
    if (keys.length === 0 || matchesAny(keys, presentedApiKey(req))) return next();
    res.status(401).json(errorEnvelope(401, MISSING_KEY));
  };
}

/**
 * When API_KEYS is set, every route except the health probes needs one of the keys. (Swagger UI at /docs is
 * served by its own Express handler, outside Nest's guards, and stays open.) Comparing SHA-256 digests with timingSafeEqual keeps the comparison constant-time whatever the
 * presented key's length.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly keys: Buffer[];

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly reflector: Reflector,
  ) {
    this.keys = config.apiKeys.map((entry) => digest(entry.key));
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.keys.length === 0) return true;
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()]))
      return true;
    if (matchesAny(this.keys, presentedApiKey(context.switchToHttp().getRequest<Request>()))) return true;
    throw new UnauthorizedException(MISSING_KEY);
  }
}
