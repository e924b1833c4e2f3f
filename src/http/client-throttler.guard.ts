import { Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import type { Request } from 'express';
import { createHash } from 'node:crypto';
import { presentedApiKey } from './api-key.guard';

/** Rate limits per API key when one is presented, else per client address. */
@Injectable()
export class ClientThrottlerGuard extends ThrottlerGuard {
  protected override getTracker(req: Record<string, unknown>): Promise<string> {
    const request = req as unknown as Request;
    const key = presentedApiKey(request);
    // The key itself never becomes a storage key: only a digest of it.
    if (key) return Promise.resolve(`key:${createHash('sha256').update(key).digest('hex').slice(0, 32)}`);
    return Promise.resolve(`ip:${request.ip ?? 'unknown'}`);
  }
}
