import { Logger } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { AppConfig } from '../config/app-config';
import { withLogContext } from '../common/log-context';
import { httpDuration } from '../common/metrics';

/** An incoming X-Request-Id is kept only if it cannot forge log lines or bloat them. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Probes and scrapes come every few seconds from machines: logged at debug, so they do not bury the rest. */
const QUIET_PATHS = new Set(['/health', '/health/live', '/health/ready', '/metrics']);

/**
 * Status polls come many times a second per session: a successful one is logged at debug too (it is still
 * counted in http_request_duration_seconds). The access line was 10-15 % of their throughput
 * (bench/README.md, "observability").
 */
const POLL_ROUTE = '/status/:session_id';

function isQuiet(method: string, path: string, route: string, status: number): boolean {
  return QUIET_PATHS.has(path) || (method === 'GET' && route === POLL_ROUTE && status < 400);
}

/** Paths served below a mount point: one route label each, however many files or pages lie below. */
const MOUNTS = ['/static', '/admin/queues'];

/**
 * Every HTTP request: its id (kept from X-Request-Id or made, and returned), that id on every log line
 * written while it is handled, one access log line when it ends, and its duration in
 * `http_request_duration_seconds`. Mounted first, so even requests refused early are seen.
 */
export function observeRequests(config: Pick<AppConfig, 'metricsEnabled'>): RequestHandler {
  const logger = new Logger('HTTP');
  const duration = config.metricsEnabled ? httpDuration() : undefined;
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    const incoming = req.get('x-request-id');
    const requestId = incoming !== undefined && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    res.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // A client that left before the answer was sent gets nginx's 499 ("client closed request").
      const status = res.writableFinished ? res.statusCode : 499;
      const path = req.originalUrl.split('?')[0];
      const route = routeOf(req, path);
      duration?.observe({ method: req.method, route, status_code: String(status) }, seconds);
      const ms = Math.round(seconds * 10_000) / 10;
      const line = {
        // The query string is never logged: it may hold an image URL's signature.
        msg: `${req.method} ${path.slice(0, 300)} ${status} ${ms} ms`,
        request_id: requestId,
        method: req.method,
        route,
        status_code: status,
        duration_ms: ms,
      };
      if (isQuiet(req.method, path, route, status)) logger.debug(line);
      else logger.log(line);
    });
    withLogContext({ request_id: requestId }, next);
  };
}

/** The route pattern (`/status/:session_id`), never the raw path with its ids; `unmatched` for no route. */
function routeOf(req: Request, path: string): string {
  const mount = MOUNTS.find((prefix) => path === prefix || path.startsWith(`${prefix}/`));
  if (mount) return mount;
  const pattern = (req.route as { path?: unknown } | undefined)?.path;
  return typeof pattern === 'string' ? pattern : 'unmatched';
}
