import { DynamicModule, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { ProvidersModule } from './providers/providers.module';
import { QueueModule } from './queue/queue.module';
import { WorkerModule } from './queue/worker.module';
import { stopDevelopmentRedis } from './redis/ensure-redis';
import { RedisModule } from './redis/redis.module';
import { SessionsModule } from './sessions/sessions.module';

// The HTTP side is loaded only by roles that serve it: a worker never loads controllers, DTOs or Swagger.
const loadApi = () => require('./http/api-modules') as typeof import('./http/api-modules');
const loadHealth = () => require('./health/health.module') as typeof import('./health/health.module');

@Module({})
export class AppModule implements OnApplicationShutdown {
  /** The root module's hook runs after every other module's, so this line means shutdown completed. */
  onApplicationShutdown(signal?: string): void {
    stopDevelopmentRedis();
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
        ...(serveHttp ? loadApi().apiModules(config) : []),
        ...(!serveHttp && config.workerHealthPort !== undefined ? [loadHealth().HealthModule] : []),
        ...(consumeQueues ? [WorkerModule] : []),
      ],
      providers: serveHttp ? loadApi().apiProviders() : [],
    };
  }
}
