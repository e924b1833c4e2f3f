import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { ApprovalModule } from './approval/approval.module';
import { APP_CONFIG, AppConfig } from './config/app-config';
import { DebugModule } from './debug/debug.module';
import { DownloadModule } from './download/download.module';
import { GenerationModule } from './generation/generation.module';
import { HealthModule } from './health/health.module';
import { ApiKeyGuard } from './http/api-key.guard';
import { ClientThrottlerGuard } from './http/client-throttler.guard';
import { HttpDrainService } from './http/http-drain.service';
import { RedisThrottlerStorage } from './http/redis-throttler.storage';
import { RedisService } from './redis/redis.service';
import { StatusModule } from './sessions/status.module';

/**
 * The API role: every endpoint of the public API, with rate limiting before authentication (so
 * unauthenticated floods are limited too) and graceful draining. Static images: http/http-app.ts.
 */
@Module({
  imports: [
    GenerationModule,
    StatusModule,
    ApprovalModule,
    DownloadModule,
    HealthModule,
    DebugModule,
    ThrottlerModule.forRootAsync({
      inject: [APP_CONFIG, RedisService],
      useFactory: (config: AppConfig, redis: RedisService) => ({
        throttlers: [{ name: 'default', ttl: 60_000, limit: Math.max(1, config.rateLimitPerMinute) }],
        skipIf: () => config.rateLimitPerMinute === 0,
        storage: new RedisThrottlerStorage(redis),
      }),
    }),
  ],
  providers: [
    HttpDrainService,
    { provide: APP_GUARD, useClass: ClientThrottlerGuard },
    { provide: APP_GUARD, useClass: ApiKeyGuard },
  ],
})
export class ApiModule {}
