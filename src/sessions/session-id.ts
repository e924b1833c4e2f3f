import { BadRequestException, PipeTransform } from '@nestjs/common';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** Rejects anything but a UUID before it gets near Redis keys or file paths. */
export class SessionIdPipe implements PipeTransform<unknown, string> {
  transform(value: unknown): string {
    if (!isSessionId(value)) throw new BadRequestException('session_id must be a UUID');
    return value.toLowerCase();
  }
}
