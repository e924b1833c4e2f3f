import { BadRequestException, PipeTransform } from '@nestjs/common';
import { textProblem } from '../http/story-text.validator';

const MAX_NAME_CHARS = 200;

/** A cast member's name from the path: text, as a name in the cast sheet could be. */
export class CastNamePipe implements PipeTransform<string, string> {
  transform(value: string): string {
    const problem = textProblem('name', value, MAX_NAME_CHARS);
    if (problem) throw new BadRequestException(problem);
    return value.trim();
  }
}
