import { BadRequestException, ValidationError, ValidationPipe } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import helmet from 'helmet';
import { AppConfig } from '../config/app-config';
import { observeRequests } from './request-observer';
import { bodyParser } from './body-parsing';
import { errorEnvelope, ErrorEnvelopeFilter } from './error-envelope.filter';
import { DOCS_PATH, serveOpenApiDocument } from './openapi/document';

/**
 * The Content-Security-Policy of every answer, the studio's page included: scripts and styles only from
 * this origin's files, requests only to this API, images also from https hosts (a live provider's image
 * URLs). No upgrade-insecure-requests: it would break a studio served over plain http on a LAN address.
 */
const PAGE_POLICY = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:', 'blob:', 'https:'],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'self'"],
};

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
  app.use(observeRequests(config));
  app.use(
    helmet({
      contentSecurityPolicy: { useDefaults: false, directives: PAGE_POLICY },
      crossOriginResourcePolicy: { policy: 'cross-origin' },
    }),
  );
  // Swagger UI needs inline scripts and styles; only its own pages get them.
  app.use(
    `/${DOCS_PATH}`,
    helmet.contentSecurityPolicy({
      useDefaults: false,
      directives: {
        ...PAGE_POLICY,
        scriptSrc: ["'self'", "'unsafe-inline'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
      },
    }),
  );
  if (config.corsOrigins.length > 0) {
    const anyOrigin = config.corsOrigins.includes('*');
    app.enableCors({
      origin: anyOrigin ? '*' : config.corsOrigins,
      // Credentials are never combined with a wildcard origin.
      credentials: !anyOrigin,
      // PATCH: editing a scene (PATCH /sessions/{id}/scenes/{index}).
      methods: ['GET', 'POST', 'PATCH', 'OPTIONS'],
      allowedHeaders: ['Content-Type', 'Authorization', 'X-API-Key', 'Idempotency-Key', 'X-Request-Id'],
      exposedHeaders: ['Content-Disposition', 'Retry-After', 'X-Request-Id'],
      maxAge: 600,
    });
  }
  app.use(bodyParser());
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
