import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';

export const IS_PUBLIC = 'isPublic';

/**
 * How a public operation is marked for the OpenAPI document, which turns it into `security: []` and leaves
 * out the answers only keyed operations give (openapi/conventions.ts); the marker itself is removed there.
 */
export const PUBLIC_OPERATION = 'x-public';

/**
 * Marks routes for probes (health): they never require an API key and are never rate limited, so an
 * orchestrator's checks cannot be locked out. The OpenAPI document says the same.
 */
export const Public = () =>
  applyDecorators(SetMetadata(IS_PUBLIC, true), SkipThrottle(), ApiExtension(PUBLIC_OPERATION, true));
