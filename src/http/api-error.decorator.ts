import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiResponse } from '@nestjs/swagger';

export class ErrorEnvelope {
  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    description: 'What went wrong: one message, or one per invalid field',
  })
  error!: string | string[];

  @ApiProperty({ example: 400 })
  status_code!: number;

  @ApiProperty({ example: '2026-01-15T10:30:00.000Z' })
  timestamp!: string;
}

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input',
  401: 'Missing or invalid API key',
  404: 'Unknown or expired session',
  409: 'The session is not in a state that allows this',
  413: 'Request body larger than 1 MB',
  415: 'Content-Type not supported',
  422: 'Idempotency-Key reused with a different body',
  429: 'Too many requests',
  503: 'Service temporarily unavailable',
};

/** Documents error responses, all of which use the error envelope. */
export function ApiErrorResponses(...statuses: number[]): MethodDecorator {
  return applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({ status, description: DESCRIPTIONS[status], type: ErrorEnvelope }),
    ),
  );
}
