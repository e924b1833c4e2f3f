import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { AddressInfo } from 'node:net';
import { AppModule } from '../../src/app.module';
import { AppConfig, loadConfig } from '../../src/config/app-config';
import { configureHttpApp } from '../../src/http/http-app';
import { TestEnv } from './test-env';

export interface TestApp {
  app: INestApplication;
  config: AppConfig;
  env: TestEnv;
  /** Base URL, e.g. http://127.0.0.1:PORT */
  url: string;
  close(): Promise<void>;
}

/** Boots the real application (ROLE=all by default) on a random port against the real Redis. */
export async function startTestApp(
  overrides: Record<string, string> = {},
  env = new TestEnv(),
): Promise<TestApp> {
  const config = loadConfig(env.vars({ ROLE: 'all', ...overrides }));
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    logger: ['error'],
  });
  configureHttpApp(app, config);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return {
    app,
    config,
    env,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await app.close();
      await env.cleanup();
    },
  };
}
