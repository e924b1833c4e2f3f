import { ValidationOptions } from 'class-validator';
import { SatisfiesCheck } from './satisfies-check';

export const MAX_STORY_CHARS = 50_000;

// C0 controls other than tab, line feed and carriage return, plus DEL: never part of a story.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** Why a story text is unacceptable, or null. Lengths are counted in Unicode code points. */
export function storyTextProblem(value: unknown, maxChars = MAX_STORY_CHARS): string | null {
  return textProblem('story_text', value, maxChars);
}

/** Why the text of field `name` is unacceptable under the story's rules, or null (scene edits use them too). */
export function textProblem(name: string, value: unknown, maxChars: number): string | null {
  if (typeof value !== 'string') return `${name} must be a string`;
  if (value.trim().length === 0) return `${name} must not be blank`;
  if (!/[\p{L}\p{N}\p{So}]/u.test(value)) return `${name} must contain text (letters, digits or symbols)`;
  if (!value.isWellFormed()) return `${name} must be valid Unicode text (it contains a lone surrogate)`;
  if (CONTROL_CHARS.test(value)) return `${name} must not contain control characters`;
  let length = 0;
  for (const _ of value) {
    if (++length > maxChars) return `${name} must be at most ${maxChars} characters`;
  }
  return null;
}

export function IsStoryText(options?: ValidationOptions): PropertyDecorator {
  return SatisfiesCheck('isStoryText', (value) => storyTextProblem(value), options);
}
