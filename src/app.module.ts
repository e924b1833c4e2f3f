import { DynamicModule, Logger, Module, OnApplicationShutdown, Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ServeStaticModule } from '@nestjs/serve-static';
import { ThrottlerModule } from '@nestjs/throttler';
import { ApprovalModule } from './approval/approval.module';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { DebugModule } from './debug/debug.module';
import { DownloadModule } from './download/download.module';
import { GenerationModule } from './generation/generation.module';
import { HealthModule } from './health/health.module';
import { ApiKeyGuard } from './http/api-key.guard';
import { ClientThrottlerGuard } from './http/client-throttler.guard';
import { HttpDrainService } from './http/http-drain.service';
import { ProvidersModule } from './providers/providers.module';
import { QueueModule } from './queue/queue.module';
import { WorkerModule } from './queue/worker.module';
import { RedisThrottlerStorage } from './http/redis-throttler.storage';
import { RedisModule } from './redis/redis.module';
import { RedisService } from './redis/redis.service';
import { SessionsModule } from './sessions/sessions.module';

/** The HTTP side: every endpoint of the public API, static images, auth and rate limiting. */
function apiModules(config: AppConfig): (Type | DynamicModule)[] {
  return [
    GenerationModule,
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

@Module({})
export class AppModule implements OnApplicationShutdown {
  /** The root module's hook runs after every other module's, so this line means shutdown completed. */
  onApplicationShutdown(signal?: string): void {
    if (signal) new Logger('Shutdown').log(`Shut down cleanly after ${signal}`);
  }

  /** One codebase, three roles: `api` serves HTTP, `worker` consumes queues, `all` does both. */
  static forRoot(config: AppConfig): DynamicModule {
    const serveHttp = config.role !== 'worker';
    const consumeQueues = config.role !== 'api';
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        RedisModule,
        SessionsModule,
        QueueModule,
        ProvidersModule,
        ...(serveHttp ? apiModules(config) : []),
        ...(!serveHttp && config.workerHealthPort !== undefined ? [HealthModule] : []),
        ...(consumeQueues ? [WorkerModule] : []),
      ],
      providers: serveHttp
        ? [
            HttpDrainService,
            { provide: APP_GUARD, useClass: ClientThrottlerGuard },
            { provide: APP_GUARD, useClass: ApiKeyGuard },
          ]
        : [],
    };
  }
}
