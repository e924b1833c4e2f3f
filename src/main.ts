import 'reflect-metadata';
import { Logger, LoggerService } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppConfig, ConfigError, loadConfig } from './config/app-config';
import { checkBindable } from './config/check-bindable';
import { unsupportedRuntime } from './config/runtime-check';
import { createLogger } from './observability/logger';

async function bootstrap(config: AppConfig, logger: LoggerService): Promise<void> {
  const log = new Logger('Bootstrap');
  // Before Nest starts: a HOST or PORT that cannot be bound fails in one line, before any "started" line.
  if (config.role !== 'worker') await checkBindable(config.host, config.port, 'PORT');
  else if (config.workerHealthPort !== undefined)
    await checkBindable(config.host, config.workerHealthPort, 'WORKER_HEALTH_PORT');
  // Loaded after the configuration is known good, so a bad value fails fast without loading Nest modules.
  const { ensureRedis } = await import('./redis/ensure-redis');
  await ensureRedis(config);
  const { ensureStorage } = await import('./storage/ensure-storage');
  await ensureStorage(config);
  const { NestFactory } = await import('@nestjs/core');
  const { AppModule, roleModules } = await import('./app.module');
  const root = AppModule.forRoot(config, await roleModules(config));

  if (config.role === 'worker' && config.workerHealthPort === undefined) {
    const app = await NestFactory.createApplicationContext(root, { logger });
    app.enableShutdownHooks();
    log.log('Worker started');
    return;
  }
  const { ErrorEnvelopeFilter } = await import('./http/error-envelope.filter');
  if (config.role === 'worker') {
    // Only the health endpoints, for orchestrators' probes of worker pods.
    const app = await NestFactory.create(root, { bodyParser: false, logger });
    // Its only controllers are HealthModule's, probes and /metrics (AppModule loads no API module for a
    // worker); any other path is the router's 404, with the envelope.
    app.useGlobalFilters(new ErrorEnvelopeFilter());
    app.use((await import('./http/request-observer')).observeRequests(config));
    app.enableShutdownHooks();
    await app.listen(config.workerHealthPort as number, config.host);
    log.log(`Worker started (health probes on port ${config.workerHealthPort})`);
    return;
  }
  const app = await NestFactory.create<NestExpressApplication>(root, {
    bodyParser: false,
    logger,
  });
  // Loaded here, not at the top: a worker process never needs Swagger, helmet or the body parsers.
  const { configureHttpApp } = await import('./http/http-app');
  configureHttpApp(app, config);
  app.enableShutdownHooks();
  const server = await app.listen(config.port, config.host);
  // Keep-alive longer than typical load balancer idle timeouts, so they close first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  log.log(
    `${config.role === 'all' ? 'API and worker' : 'API'} listening on http://${config.host}:${config.port} (docs at /docs)`,
  );
}

/** One line, no stack trace: exit 2 for a bad setting, 1 for anything else that stops start-up. */
function fail(err: unknown): never {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  console.error(`Startup failed: ${err instanceof Error ? err.message : String(err)}`.split('\n')[0]);
  process.exit(1);
}

const runtimeProblem = unsupportedRuntime();
if (runtimeProblem) {
  console.error(runtimeProblem);
  process.exit(1);
}

let config: AppConfig;
try {
  config = loadConfig();
} catch (err) {
  fail(err);
}
// LOG_FORMAT and LOG_LEVEL apply from here; a configuration error above is one plain line on stderr.
const logger = createLogger(config);
Logger.overrideLogger(logger);
bootstrap(config, logger).catch(fail);
