import { BadRequestException, ValidationError, ValidationPipe } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import express, { NextFunction, Request, Response } from 'express';
import helmet from 'helmet';
import { AppConfig } from '../config/app-config';
import { staticApiKeyCheck } from './api-key.guard';
import { bodyParser } from './body-parsing';
import { errorEnvelope, ErrorEnvelopeFilter, sendEnvelope } from './error-envelope.filter';
import { serveOpenApiDocument } from './openapi/document';

function flatten(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) =>
      message === `property ${error.property} should not exist`
        ? `${field} is not an allowed field`
        : message,
    );
    return [...own, ...flatten(error.children ?? [], field)];
  });
}

/** Everything an HTTP-serving process sets up around the Nest app; shared by main.ts and the e2e tests. */
export function configureHttpApp(app: NestExpressApplication, config: AppConfig): void {
  app.disable('x-powered-by');
  answerParserErrorsWithEnvelope(app.getHttpServer() as Server);
  // Only trusted proxies may set the client address (rate limits) and scheme (absolute URLs).
  app.set('trust proxy', config.trustProxy);
  app.use(
    helmet({
      // Swagger UI at /docs needs inline scripts and styles.
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'", "'unsafe-inline'"],
          styleSrc: ["'self'", "'unsafe-inline'"],
          imgSrc: ["'self'", 'data:', 'https:'],
        },
      },
      crossOriginResourcePolicy: { policy: 'cross-origin' },
    }),
  );
  if (config.corsOrigins.length > 0) {
    const anyOrigin = config.corsOrigins.includes('*');
    app.enableCors({
      origin: anyOrigin ? '*' : config.corsOrigins,
      // Credentials are never combined with a wildcard origin.
      credentials: !anyOrigin,
      methods: ['GET', 'POST', 'OPTIONS'],
      allowedHeaders: ['Content-Type', 'Authorization', 'X-API-Key', 'Idempotency-Key'],
      exposedHeaders: ['Content-Disposition', 'Retry-After'],
      maxAge: 600,
    });
  }
  app.use(bodyParser());
  // Images are served by middleware, ahead of the guards, so they get their own key check.
  app.use('/static', staticApiKeyCheck(config), staticImages(config.imageDir), staticErrors);
  app.useGlobalFilters(new ErrorEnvelopeFilter());
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
      transform: true,
      exceptionFactory: (errors) => new BadRequestException(flatten(errors)),
    }),
  );
  serveOpenApiDocument(app, config);
}

/**
 * Requests Node's HTTP parser rejects (an oversized header block, a bogus method) never reach Express;
 * Node would answer with an empty body. Answer with the envelope instead, then close the connection.
 */
function answerParserErrorsWithEnvelope(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable || (err as { code?: string }).code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const reason = status === 431 ? 'Request Header Fields Too Large' : 'Bad Request';
    const body = JSON.stringify(
      errorEnvelope(status, status === 431 ? 'Request line or headers too large' : 'Malformed HTTP request'),
    );
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}

/**
 * Downloaded and offline-rendered images under IMAGE_DIR: no index pages, no dotfiles, cacheable. Only GET
 * and HEAD reach the files (other methods go on to the router's 404); their errors (missing file,
 * unsatisfiable range, …) go to staticErrors instead of falling through.
 */
function staticImages(root: string) {
  const serve = express.static(root, {
    index: false,
    dotfiles: 'deny',
    fallthrough: false,
    redirect: false,
    maxAge: '1h',
  });
  return (req: Request, res: Response, next: NextFunction) =>
    req.method === 'GET' || req.method === 'HEAD' ? serve(req, res, next) : next();
}

/** serve-static's errors with the error envelope; a refused path (dotfile, traversal) looks like a missing one. */
function staticErrors(err: unknown, _req: Request, res: Response, next: NextFunction): void {
  if (res.headersSent) return next(err);
  const failure = err as { status?: number; headers?: Record<string, string> };
  const status = typeof failure?.status === 'number' && failure.status < 500 ? failure.status : 500;
  const shown = status === 403 ? 404 : status;
  const message =
    shown === 404 ? 'File not found' : shown === 500 ? 'Internal server error' : STATUS_CODES[shown];
  // send has already set the file's headers (type, ETag, …): the envelope replaces them, except that an
  // unsatisfiable range keeps `Content-Range: bytes */<size>`, which tells the client the file's size.
  sendEnvelope(res, shown, message ?? 'Bad request', status === 416 ? (failure.headers ?? {}) : {});
}
