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
 * The dashboard is Express middleware, which Nest's guards never see, so it checks the key itself: only
 * operator keys (QUEUE_DASHBOARD_KEYS) open it, since it shows and changes every tenant's jobs. A browser
 * cannot send X-API-Key to a page it navigates to, so a key is also accepted as the password of Basic auth,
 * and a missing one makes the browser ask.
 */
export function queueDashboardAuth(keys: KeyRing, operators: string[]): RequestHandler {
  const allowed = new Set(operators);
  return (req: Request, res: Response, next: NextFunction) => {
    const tenant = keys.tenantOf(presentedApiKey(req) ?? basicPassword(req));
    if (tenant !== undefined && allowed.has(tenant)) return next();
    if (tenant !== undefined) {
      sendEnvelope(res, 403, 'This API key is not an operator key (QUEUE_DASHBOARD_KEYS)');
      return;
    }
    res.setHeader('WWW-Authenticate', 'Basic realm="queues", charset="UTF-8"');
    sendEnvelope(res, 401, 'An operator API key is required (Basic auth password, X-API-Key or Bearer)');
  };
}
