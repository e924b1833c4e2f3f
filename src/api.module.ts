import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { ThrottlerModule } from '@nestjs/throttler';
import { ApprovalModule } from './approval/approval.module';
import { AuthModule } from './auth/auth.module';
import { CastModule } from './cast/cast.module';
import { APP_CONFIG, AppConfig } from './config/app-config';
import { DebugModule } from './debug/debug.module';
import { DownloadModule } from './download/download.module';
import { EventsModule } from './events/events.module';
import { GenerationModule } from './generation/generation.module';
import { HealthModule } from './health/health.module';
import { ApiKeyGuard } from './http/api-key.guard';
import { ClientThrottlerGuard } from './http/client-throttler.guard';
import { HttpDrainService } from './http/http-drain.service';
import { ImagesModule } from './images/images.module';
import { RedisService } from './redis/redis.service';
import { ScenesModule } from './scenes/scenes.module';
import { StatusModule } from './sessions/status.module';
import { StudioModule } from './studio/studio.module';

/**
 * The API role: every endpoint of the public API, with rate limiting before authentication (so
 * unauthenticated floods are limited too) and graceful draining.
 */
@Module({
  imports: [
    GenerationModule,
    StatusModule,
    EventsModule,
    ApprovalModule,
    ScenesModule,
    CastModule,
    DownloadModule,
    HealthModule,
    DebugModule,
    ImagesModule,
    AuthModule,
    StudioModule,
    ThrottlerModule.forRootAsync({
      inject: [APP_CONFIG, RedisService],
      useFactory: (config: AppConfig, redis: RedisService) => ({
        throttlers: [{ name: 'default', ttl: 60_000, limit: Math.max(1, config.rateLimitPerMinute) }],
        skipIf: () => config.rateLimitPerMinute === 0,
        // The fail-fast commands connection: with Redis down a request gets a 503 rather than waiting.
        storage: new ThrottlerStorageRedisService(redis.commands),
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
