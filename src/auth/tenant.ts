import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';

/**
 * Who a request acts for: the tenant of its API key (the key's name, or a hash of it), or null when no
 * tenant applies: the deployment has no API_KEYS, or a signed URL authorises exactly the path requested.
 */
export type Tenant = string | null;

const TENANT = Symbol('tenant');

type TenantRequest = Request & { [TENANT]?: Tenant };

export function setRequestTenant(req: Request, tenant: Tenant): void {
  (req as TenantRequest)[TENANT] = tenant;
}

/** Set by ApiKeyGuard on every guarded route; a route it skipped (health probes) has none. */
export function requestTenant(req: Request): Tenant {
  return (req as TenantRequest)[TENANT] ?? null;
}

/** The tenant of the request, for handlers of per-session routes. */
export const CurrentTenant = createParamDecorator((_data: unknown, context: ExecutionContext) =>
  requestTenant(context.switchToHttp().getRequest<Request>()),
);

/** The owner of a session created while the deployment had no API_KEYS: every caller could read it. */
export const OPEN_OWNER = '*';

/**
 * Whether a session is visible to a tenant. An open session (OPEN_OWNER) stays readable by every valid key
 * once keys are set. A session with no owner at all was created before sessions had owners, when any key
 * could read any session: under keys it is nobody's, rather than everybody's.
 */
export function visibleTo(owner: string | null, tenant: Tenant): boolean {
  return tenant === null || owner === OPEN_OWNER || owner === tenant;
}
