import { BadRequestException, HttpException } from '@nestjs/common';
import express, { NextFunction, Request, Response } from 'express';

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

/** Turns body-parser failures into HttpExceptions with messages of our own, before Nest sees them. */
function parserErrors(err: unknown, _req: Request, _res: Response, next: NextFunction): void {
  const parserError = err as { status?: number; type?: string };
  if (
    !(err instanceof HttpException) &&
    typeof parserError?.status === 'number' &&
    parserError.status < 500
  ) {
    return next(
      new HttpException(
        PARSER_MESSAGES[parserError.type ?? ''] ?? 'Invalid request body',
        parserError.status,
      ),
    );
  }
  next(err);
}

function rejectForbiddenKeys(req: Request, _res: Response, next: NextFunction): void {
  const key = forbiddenKey(req.body);
  next(key ? new BadRequestException(`Field name "${key}" is not allowed`) : undefined);
}

/** JSON and urlencoded bodies up to 1 MB; multipart is parsed per route (POST /download). */
export function bodyParsers() {
  return [
    express.json({ limit: BODY_LIMIT, strict: true, type: ['application/json', 'application/*+json'] }),
    express.urlencoded({ limit: BODY_LIMIT, extended: false, parameterLimit: 20 }),
    parserErrors,
    rejectForbiddenKeys,
  ];
}
