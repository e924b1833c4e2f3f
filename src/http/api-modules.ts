import { DynamicModule, Provider, Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ServeStaticModule } from '@nestjs/serve-static';
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

/** The HTTP side: every endpoint of the public API, static images, auth and rate limiting. */
export function apiModules(config: AppConfig): (Type | DynamicModule)[] {
  return [
    GenerationModule,
    StatusModule,
    ApprovalModule,
    DownloadModule,
    HealthModule,
    DebugModule,
    ServeStaticModule.forRoot({
      rootPath: config.imageDir,
      serveRoot: '/static',
      // Unknown files fall through to the router's 404 (with the error envelope) instead of an index page.
      exclude: ['/static/{*path}'],
      serveStaticOptions: {
        index: false,
        dotfiles: 'deny',
        fallthrough: true,
        redirect: false,
        maxAge: '1h',
      },
    }),
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
