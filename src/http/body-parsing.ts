import { BadRequestException, HttpException } from '@nestjs/common';
import express, { Request, RequestHandler } from 'express';

export const BODY_LIMIT = '1mb';

const PARSER_MESSAGES: Record<string, string> = {
  'entity.too.large': 'Request body is too large (limit 1 MB)',
  'entity.parse.failed': 'Request body is not valid JSON',
  'encoding.unsupported': 'Unsupported Content-Encoding',
  'charset.unsupported': 'Unsupported charset',
  'request.aborted': 'Request aborted',
  'request.size.invalid': 'Request size did not match Content-Length',
  'parameters.too.many': 'Too many form parameters',
};

/** Keys that could reach an object's prototype if some code ever merged the body into an object. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function forbiddenKey(value: unknown, depth = 0): string | null {
  if (depth > 32 || value === null || typeof value !== 'object') return null;
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) return key;
    const nested = forbiddenKey((value as Record<string, unknown>)[key], depth + 1);
    if (nested) return nested;
  }
  return null;
}

/** A body-parser failure as an HttpException with a message of our own, before Nest sees it. */
function parserError(err: unknown): unknown {
  const failure = err as { status?: number; type?: string };
  if (!(err instanceof HttpException) && typeof failure?.status === 'number' && failure.status < 500) {
    return new HttpException(PARSER_MESSAGES[failure.type ?? ''] ?? 'Invalid request body', failure.status);
  }
  return err;
}

/** Whether the request announces a body (as body-parser's own check: a length or a chunked encoding). */
function announcesBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || req.headers['content-length'] !== undefined;
}

/**
 * JSON and urlencoded bodies up to 1 MB, with prototype-polluting keys refused; multipart is parsed per
 * route (POST /download). One middleware, so requests without a body (every GET, including the status
 * polls that make most of the traffic) pass with a single check instead of walking four layers.
 */
export function bodyParser(): RequestHandler {
  const json = express.json({
    limit: BODY_LIMIT,
    strict: true,
    type: ['application/json', 'application/*+json'],
  });
  const urlencoded = express.urlencoded({ limit: BODY_LIMIT, extended: false, parameterLimit: 20 });
  return (req, res, next) => {
    if (!announcesBody(req)) return next();
    json(req, res, (jsonError?: unknown) => {
      if (jsonError) return next(parserError(jsonError));
      urlencoded(req, res, (formError?: unknown) => {
        if (formError) return next(parserError(formError));
        const key = forbiddenKey(req.body);
        next(key ? new BadRequestException(`Field name "${key}" is not allowed`) : undefined);
      });
    });
  };
}
