import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { mkdirSync } from 'node:fs';
import { AppModule } from './app.module';
import { AppConfig, ConfigError, loadConfig } from './config/app-config';
import { ErrorEnvelopeFilter } from './http/error-envelope.filter';
import { ensureRedis } from './redis/ensure-redis';

async function bootstrap(config: AppConfig): Promise<void> {
  const logger = new Logger('Bootstrap');
  mkdirSync(config.imageDir, { recursive: true });
  await ensureRedis(config);

  if (config.role === 'worker' && config.workerHealthPort === undefined) {
    const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { bufferLogs: false });
    app.enableShutdownHooks();
    logger.log('Worker started');
    return;
  }
  if (config.role === 'worker') {
    // Only the health endpoints, for orchestrators' probes of worker pods.
    const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
      bodyParser: false,
    });
    // Its only controller is HealthModule's (AppModule loads no API module for a worker); any other path
    // is the router's 404, with the envelope.
    app.useGlobalFilters(new ErrorEnvelopeFilter());
    app.enableShutdownHooks();
    await app.listen(config.workerHealthPort as number, config.host);
    logger.log(`Worker started (health probes on port ${config.workerHealthPort})`);
    return;
  }
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
  });
  // Loaded here, not at the top: a worker process never needs Swagger, helmet or the body parsers.
  const { configureHttpApp } = require('./http/http-app') as typeof import('./http/http-app');
  configureHttpApp(app, config);
  app.enableShutdownHooks();
  const server = await app.listen(config.port, config.host);
  // Keep-alive longer than typical load balancer idle timeouts, so they close first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  logger.log(
    `${config.role === 'all' ? 'API and worker' : 'API'} listening on http://${config.host}:${config.port} (docs at /docs)`,
  );
}

let config: AppConfig;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  throw err;
}

bootstrap(config).catch((err: Error) => {
  console.error(`Startup failed: ${err.message}`);
  process.exit(1);
});
