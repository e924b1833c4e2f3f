import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiResponse, type HeadersObject } from '@nestjs/swagger';

export class ErrorEnvelope {
  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    description: 'What went wrong: one message, or one per invalid field',
  })
  error!: string | string[];

  @ApiProperty({ type: 'integer', minimum: 400, maximum: 599, example: 400 })
  status_code!: number;

  @ApiProperty({ format: 'date-time', example: '2026-01-15T10:30:00.000Z' })
  timestamp!: string;
}

export const RETRY_AFTER = {
  description: 'Seconds to wait before trying again',
  schema: { type: 'integer' as const, minimum: 0 },
};
export const RETRY_AFTER_HEADER: HeadersObject = { 'Retry-After': RETRY_AFTER };

/** An error answer of one operation: what it means there, and any headers it carries. */
export type ErrorDoc = string | { description: string; headers?: HeadersObject };

/**
 * Documents the error answers particular to an operation, each with the error envelope. The ones every
 * operation shares (malformed body, 401, 413, 429, 500, 503, …) are added to every operation by the document
 * itself (openapi/conventions.ts); a status listed here replaces the shared description with its own.
 */
export function ApiErrorResponses(errors: Record<number, ErrorDoc>): MethodDecorator {
  return applyDecorators(
    ...Object.entries(errors).map(([status, doc]) => {
      const { description, headers } =
        typeof doc === 'string' ? { description: doc, headers: undefined } : doc;
      return ApiResponse({ status: Number(status), description, headers, type: ErrorEnvelope });
    }),
  );
}
