import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import { APP_CONFIG, AppConfig } from '../config/app-config';

const IDLE_SWEEP_MS = 100;

/**
 * Graceful HTTP shutdown. Nest closes the server after this hook, which stops accepting connections and
 * waits for the open ones — but keep-alive clients hold idle connections open indefinitely. So while
 * draining, idle connections are closed as soon as their in-flight response ends, and whatever is still
 * open at SHUTDOWN_TIMEOUT_MS is cut.
 */
@Injectable()
export class HttpDrainService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Shutdown');

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  beforeApplicationShutdown(signal?: string): void {
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (!server) return;
    if (signal) this.logger.log(`${signal}: no new connections; draining in-flight requests`);
    const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
    const deadline = setTimeout(() => server.closeAllConnections(), this.config.shutdownTimeoutMs);
    sweep.unref();
    deadline.unref();
    server.once('close', () => {
      clearInterval(sweep);
      clearTimeout(deadline);
    });
  }
}
