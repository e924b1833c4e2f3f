import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { KeyRing, presentedApiKey } from '../auth/api-keys';
import { sendEnvelope } from '../http/error-envelope.filter';

/** The password of `Authorization: Basic …`; the user name is ignored. */
function basicPassword(req: Request): string | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(req.get('authorization') ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

/**
 * The dashboard is Express middleware, which Nest's guards never see, so it checks the key itself. A
 * browser cannot send X-API-Key to a page it navigates to, so an API key is also accepted as the password
 * of Basic auth, and a refusal asks the browser for it.
 */
export function queueDashboardAuth(keys: KeyRing): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!keys.required) return next();
    if (keys.tenantOf(presentedApiKey(req) ?? basicPassword(req)) !== undefined) return next();
    res.setHeader('WWW-Authenticate', 'Basic realm="queues", charset="UTF-8"');
    sendEnvelope(res, 401, 'A valid API key is required (Basic auth password, X-API-Key or Bearer)');
  };
}
