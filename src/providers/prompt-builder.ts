import { CastMember } from '../domain/session.model';
import { codePointLength, sliceCodePoints } from './code-points';

/** Runware accepts prompts of 2..3000 characters; keep well inside it. */
export const MAX_PROMPT_CHARS = 2000;

export interface PromptParts {
  /** The media type's style preset line. */
  presetStyle: string;
  /** The story-wide style line from the plan (may repeat the preset; it is then dropped). */
  storyStyle: string;
  /** What this scene shows. */
  scene: string;
  /** Names present in the scene, looked up in the cast sheet. */
  characters: string[];
  cast: CastMember[];
}

/**
 * Composes the final image prompt. Every scene of a session carries the same style lines and the same
 * cast descriptions for the characters it shows, which is what keeps characters consistent across scenes.
 */
export function buildImagePrompt(parts: PromptParts): string {
  const castLines = parts.characters
    .map((name) => parts.cast.find((member) => member.name.toLowerCase() === name.toLowerCase()))
    .filter((member): member is CastMember => member !== undefined)
    .map((member) => describeMember(member));
  const style = [parts.presetStyle, parts.storyStyle]
    .map((line) => collapse(line))
    .filter((line, i, all) => line && all.indexOf(line) === i)
    .join('. ');
  const fixed = [style, castLines.length ? `Characters — ${castLines.join('; ')}` : ''].filter(Boolean);
  const fixedLength = fixed.join('. ').length + 2;
  const scene = truncate(collapse(parts.scene), Math.max(100, MAX_PROMPT_CHARS - fixedLength));
  return truncate([fixed[0], scene, ...fixed.slice(1)].filter(Boolean).join('. '), MAX_PROMPT_CHARS);
}

export interface PortraitPromptParts {
  presetStyle: string;
  storyStyle: string;
  member: CastMember;
}

/**
 * The casting step's prompt: one character alone, whole and neutral (front view, plain background, even
 * light), in the session's style, so that every scene can be conditioned on it without carrying a pose or a
 * setting of its own into them.
 */
export function buildPortraitPrompt(parts: PortraitPromptParts): string {
  const style = [parts.presetStyle, parts.storyStyle]
    .map((line) => collapse(line))
    .filter((line, i, all) => line && all.indexOf(line) === i)
    .join('. ');
  const sheet =
    'Character reference sheet: the character alone, full figure from head to toe, standing, facing the viewer, ' +
    'neutral expression, plain light grey background, even soft lighting, no other people, no text';
  return truncate([style, sheet, describeMember(parts.member)].filter(Boolean).join('. '), MAX_PROMPT_CHARS);
}

/** "Name: description", unless the description already opens with the name. */
function describeMember(member: CastMember): string {
  const description = collapse(member.description);
  return description.toLowerCase().startsWith(member.name.toLowerCase())
    ? description
    : `${member.name}: ${description}`;
}

/** A text as the prompts carry it: whitespace runs as one space, no trailing full stops. */
export function promptLine(text: string): string {
  return collapse(text);
}

/** Whitespace runs as one space, without trailing full stops: lines are joined with ". ". */
function collapse(text: string): string {
  const spaced = text.replace(/\s+/g, ' ').trim();
  // A loop rather than /[.\s]+$/, which backtracks at every run of dots and spaces in the text.
  let end = spaced.length;
  while (end > 0 && (spaced[end - 1] === '.' || spaced[end - 1] === ' ')) end--;
  return spaced.slice(0, end);
}

/** Cuts at a word boundary, by code points so a surrogate pair is never split. */
export function truncate(text: string, maxChars: number): string {
  if (text.length <= maxChars || codePointLength(text) <= maxChars) return text;
  const cut = sliceCodePoints(text, maxChars - 1);
  const lastSpace = cut.lastIndexOf(' ');
  return `${lastSpace > maxChars * 0.6 ? cut.slice(0, lastSpace) : cut}…`;
}
