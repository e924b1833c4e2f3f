import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { RetryLaterException } from './retry-later.exception';

/** The body of every error response: `{error, status_code, timestamp}`. */
export function errorEnvelope(status: number, error: string | string[]) {
  return { error, status_code: status, timestamp: new Date().toISOString() };
}

/** Errors that mean Redis (or a queue on it) cannot be reached right now. */
/** Redis, or the image bucket (the AWS SDK's errors carry `$metadata`), cannot be reached or is failing. */
function isStorageOutage(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return (
    '$metadata' in err ||
    err.name === 'MaxRetriesPerRequestError' ||
    /enableOfflineQueue|Connection is closed|Command timed out|ECONNREFUSED|ECONNRESET|ETIMEDOUT|Stream isn't writeable/i.test(
      err.message,
    )
  );
}

/** Multipart parsing errors (busboy, under multer) that are the client's fault, with their status. */
function multipartProblem(err: unknown): { status: number; error: string } | null {
  if (!(err instanceof Error)) return null;
  if (/^Unsupported content type/i.test(err.message)) {
    return {
      status: HttpStatus.UNSUPPORTED_MEDIA_TYPE,
      error: 'Multipart bodies must be multipart/form-data',
    };
  }
  if (
    /Multipart: Boundary not found|Malformed part header|Unexpected end of (form|multipart)|Part terminated early/i.test(
      err.message,
    )
  ) {
    return { status: HttpStatus.BAD_REQUEST, error: 'Malformed multipart body' };
  }
  return null;
}

/** Headers a half-served response (e.g. a /static file whose range could not be satisfied) must not keep. */
const CONTENT_HEADERS = [
  'Content-Type',
  'Content-Range',
  'Content-Length',
  'Accept-Ranges',
  'ETag',
  'Last-Modified',
  'Cache-Control',
];

/**
 * Every error, of any status, leaves as `{error, status_code, timestamp}`. Unknown errors become a generic
 * 500 without internals; a Redis outage becomes a 503 so clients know to retry.
 */
@Catch()
export class ErrorEnvelopeFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const { status, error } = this.describe(exception);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const headers: Record<string, string> =
      exception instanceof RetryLaterException ? { 'Retry-After': String(exception.retryAfterSeconds) } : {};
    sendEnvelope(res, status, error, headers);
  }

  private describe(exception: unknown): { status: number; error: string | string[] } {
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const body = exception.getResponse();
      const message = typeof body === 'string' ? body : (body as { message?: string | string[] }).message;
      return { status, error: message ?? exception.message };
    }
    const multipart = multipartProblem(exception);
    if (multipart) return multipart;
    if (isStorageOutage(exception)) {
      this.logger.warn(`Storage unavailable: ${(exception as Error).message}`);
      return {
        status: HttpStatus.SERVICE_UNAVAILABLE,
        error: 'Service temporarily unavailable (storage unreachable); please retry',
      };
    }
    this.logger.error(
      exception instanceof Error ? (exception.stack ?? exception.message) : String(exception),
    );
    return { status: HttpStatus.INTERNAL_SERVER_ERROR, error: 'Internal server error' };
  }
}

/** Answers with the envelope, dropping any content headers a handler had already set for its own body. */
export function sendEnvelope(
  res: Response,
  status: number,
  error: string | string[],
  headers: Record<string, string> = {},
): void {
  for (const header of CONTENT_HEADERS) res.removeHeader(header);
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.status(status).json(errorEnvelope(status, error));
}
