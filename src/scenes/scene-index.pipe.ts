import { BadRequestException, PipeTransform } from '@nestjs/common';

/**
 * A scene index in a path: a small non-negative integer (whether the scene exists is the session's say).
 * The global ValidationPipe may already have turned the path segment into a number (NaN for non-digits).
 */
export class SceneIndexPipe implements PipeTransform<unknown, number> {
  transform(value: unknown): number {
    const text = typeof value === 'number' ? String(value) : value;
    if (typeof text !== 'string' || !/^\d{1,4}$/.test(text))
      throw new BadRequestException('index must be a non-negative integer');
    return Number(text);
  }
}
