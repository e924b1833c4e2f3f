import type { Request } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiKey } from '../config/app-config';

/** The API key a request presents: `X-API-Key`, or `Authorization: Bearer <key>`. */
export function presentedApiKey(req: Request): string | undefined {
  const header = req.get('x-api-key');
  if (header) return header.trim();
  const match = /^Bearer\s+(.+)$/i.exec(req.get('authorization') ?? '');
  return match?.[1].trim();
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * The configured API keys, and which tenant each belongs to. Presented keys are compared as SHA-256
 * digests with timingSafeEqual against every key, so neither the comparison nor the search order tells
 * an attacker anything about the keys.
 */
export class KeyRing {
  private readonly entries: { digest: Buffer; tenant: string }[];

  constructor(keys: ApiKey[]) {
    this.entries = keys.map(({ key, tenant }) => ({ digest: digest(key), tenant }));
  }

  /** Whether the deployment has keys at all; without them the API is open and sessions have no owner. */
  get required(): boolean {
    return this.entries.length > 0;
  }

  /** The tenant of a presented key, or undefined when it is not one of the keys. */
  tenantOf(presented: string | undefined): string | undefined {
    if (!presented) return undefined;
    const candidate = digest(presented);
    let tenant: string | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, candidate) && tenant === undefined) tenant = entry.tenant;
    }
    return tenant;
  }
}
