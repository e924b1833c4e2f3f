import { ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ThrottlerGuard, ThrottlerModuleOptions, ThrottlerStorage } from '@nestjs/throttler';
import type { Request } from 'express';
import { createHash } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { presentedApiKey } from './api-key.guard';

const digest = (value: string) => createHash('sha256').update(value).digest('hex');

/**
 * Rate limits per API key when a valid one is presented, else per client address. Invalid keys count
 * against the address, so rotating made-up keys does not buy a fresh budget. Runs before authentication,
 * so unauthenticated floods are limited too.
 */
@Injectable()
export class ClientThrottlerGuard extends ThrottlerGuard {
  private readonly validKeys: Set<string>;
  private readonly keyPrefix: string;

  constructor(
    options: ThrottlerModuleOptions,
    storage: ThrottlerStorage,
    reflector: Reflector,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    super(options, storage, reflector);
    this.validKeys = new Set(config.apiKeys.map((entry) => digest(entry.key)));
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
    const key = presentedApiKey(request);
    const keyDigest = key ? digest(key) : undefined;
    // The key itself never becomes a storage key: only its digest.
    if (keyDigest && this.validKeys.has(keyDigest)) return Promise.resolve(`key:${keyDigest.slice(0, 32)}`);
    return Promise.resolve(`ip:${request.ip ?? 'unknown'}`);
  }
}
