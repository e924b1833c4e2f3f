import { ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ThrottlerGuard, ThrottlerModuleOptions, ThrottlerStorage } from '@nestjs/throttler';
import type { Request } from 'express';
import { KeyRing, presentedApiKey } from '../auth/api-keys';
import { APP_CONFIG, AppConfig } from '../config/app-config';

/**
 * Rate limits per tenant when a valid API key is presented (keys sharing a name share a budget), else per
 * client address (signed image URLs too). Invalid keys count
 * against the address, so rotating made-up keys does not buy a fresh budget. Runs before authentication,
 * so unauthenticated floods are limited too.
 */
@Injectable()
export class ClientThrottlerGuard extends ThrottlerGuard {
  private readonly keyPrefix: string;

  constructor(
    options: ThrottlerModuleOptions,
    storage: ThrottlerStorage,
    reflector: Reflector,
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly keys: KeyRing,
  ) {
    super(options, storage, reflector);
    this.keyPrefix = `${config.redisPrefix}:throttle:`;
  }

  /**
   * One budget per client for the whole API (Nest's default key would give one per route). The storage
   * package takes no key prefix and cannot get one from the shared commands connection (an ioredis
   * `keyPrefix` there would rename every key of the app), so the prefix travels in the key: deployments
   * (and tests) sharing a Redis under different REDIS_PREFIXes keep separate budgets. The package wraps the
   * key in a hash tag (`{<prefix>:throttle:…}:hits`), so a `<prefix>:*` scan misses these keys; they
   * expire on their own within the window or block duration (one minute).
   */
  protected override generateKey(_context: ExecutionContext, tracker: string, name: string): string {
    return `${this.keyPrefix}${name}:${tracker}`;
  }

  protected override getTracker(req: Record<string, unknown>): Promise<string> {
    const request = req as unknown as Request;
    // The key itself never becomes a storage key: its tenant is a name or a hash.
    const tenant = this.keys.tenantOf(presentedApiKey(request));
    if (tenant !== undefined) return Promise.resolve(`tenant:${tenant}`);
    return Promise.resolve(`ip:${request.ip ?? 'unknown'}`);
  }
}
