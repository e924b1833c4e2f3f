import { DynamicModule, Module, Type } from '@nestjs/common';
import { AppConfig } from './config/app-config';
import { AppConfigModule } from './config/app-config.module';
import { RedisModule } from './redis/redis.module';

/**
 * The root: configuration and the Redis connection for every role, plus the role's own modules
 * (ApiModule, WorkerModule, or only HealthModule for a worker's probes), chosen by `roleModules`.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig, roles: Type[]): DynamicModule {
    return { module: AppModule, imports: [AppConfigModule.forRoot(config), RedisModule, ...roles] };
  }
}

/**
 * One codebase, three roles: `api` serves HTTP, `worker` consumes queues, `all` does both. Each role loads
 * only its own modules, so a worker never loads controllers, DTOs or Swagger.
 */
export async function roleModules(config: AppConfig): Promise<Type[]> {
  const modules: Type[] = [];
  if (config.role !== 'worker') modules.push((await import('./api.module')).ApiModule);
  else if (config.workerHealthPort !== undefined)
    modules.push((await import('./health/health.module')).HealthModule);
  if (config.role !== 'worker' && config.queueDashboard)
    modules.push((await import('./observability/queue-dashboard.module')).QueueDashboardModule);
  if (config.role !== 'api') modules.push((await import('./worker.module')).WorkerModule);
  return modules;
}
