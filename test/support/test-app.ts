import { INestApplication, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Test, TestingModuleBuilder } from '@nestjs/testing';
import { AddressInfo } from 'node:net';
import { AppModule, roleModules } from '../../src/app.module';
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

/** Keeps every log line of the app, at every level, so tests can inspect what it logged. */
export class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(message: unknown, ...rest: unknown[]) {
    this.keep('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]) {
    this.keep('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]) {
    this.keep('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]) {
    this.keep('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]) {
    this.keep('verbose', message, rest);
  }
  private keep(level: string, message: unknown, rest: unknown[]) {
    const parts = [message, ...rest].map((m) => (typeof m === 'string' ? m : JSON.stringify(m)));
    this.lines.push(`${level} ${parts.join(' ')}`);
  }
}

/** Replaces providers of the real wiring (Nest's testing module), e.g. to script one outside system. */
export type ProviderOverrides = (builder: TestingModuleBuilder, config: AppConfig) => TestingModuleBuilder;

/** Boots the real application (ROLE=all by default) on a random port against the real Redis. */
export async function startTestApp(
  overrides: Record<string, string> = {},
  env = new TestEnv(),
  logger?: LoggerService,
  replace?: ProviderOverrides,
): Promise<TestApp> {
  const config = loadConfig(env.vars({ ROLE: 'all', ...overrides }));
  const root = AppModule.forRoot(config, await roleModules(config));
  const options = { bodyParser: false, logger: logger ?? ['error' as const] };
  const app = replace
    ? (
        await replace(Test.createTestingModule({ imports: [root] }), config).compile()
      ).createNestApplication<NestExpressApplication>(options)
    : await NestFactory.create<NestExpressApplication>(root, options);
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
