import { DynamicModule, Provider, Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { ApprovalModule } from '../approval/approval.module';
import { AppConfig } from '../config/app-config';
import { DebugModule } from '../debug/debug.module';
import { DownloadModule } from '../download/download.module';
import { GenerationModule } from '../generation/generation.module';
import { HealthModule } from '../health/health.module';
import { RedisService } from '../redis/redis.service';
import { StatusModule } from '../sessions/status.module';
import { ApiKeyGuard } from './api-key.guard';
import { ClientThrottlerGuard } from './client-throttler.guard';
import { HttpDrainService } from './http-drain.service';
import { RedisThrottlerStorage } from './redis-throttler.storage';

/** The HTTP side: every endpoint of the public API, auth and rate limiting (static images: http-app.ts). */
export function apiModules(config: AppConfig): (Type | DynamicModule)[] {
  return [
    GenerationModule,
    StatusModule,
    ApprovalModule,
    DownloadModule,
    HealthModule,
    DebugModule,
    ThrottlerModule.forRootAsync({
      inject: [RedisService],
      useFactory: (redis: RedisService) => ({
        throttlers: [{ name: 'default', ttl: 60_000, limit: Math.max(1, config.rateLimitPerMinute) }],
        skipIf: () => config.rateLimitPerMinute === 0,
        storage: new RedisThrottlerStorage(redis),
      }),
    }),
  ];
}

/** Graceful draining, then rate limiting before authentication (so unauthenticated floods are limited too). */
export function apiProviders(): Provider[] {
  return [
    HttpDrainService,
    { provide: APP_GUARD, useClass: ClientThrottlerGuard },
    { provide: APP_GUARD, useClass: ApiKeyGuard },
  ];
}
