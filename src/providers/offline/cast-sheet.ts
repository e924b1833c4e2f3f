import { CastMember } from '../../domain/session.model';
import { characterLook, describeLook } from './character-look';

/** Capitalised words that open sentences or are common enough to never be a character's name. */
const NOT_NAMES = new Set(
  (
    'A An And As At But By For From He Her Hers Him His How I If In Into It Its Me My No Not Of On Once Or Our ' +
    'She So That The Their Them Then There These They This Those To Up We What When Where Which While Who Why ' +
    'With Yes You Your After Before Every Each One Two Three All Some Now Soon Later Still Yet Just Even ' +
    'Monday Tuesday Wednesday Thursday Friday Saturday Sunday Chapter Mr Mrs Ms Dr'
  ).split(' '),
);

const NAME = /\p{Lu}[\p{L}\p{M}'’-]*/gu;
const MAX_CAST = 8;

/**
 * Finds recurring characters: capitalised words seen at least twice, at least once in mid-sentence
 * (so "The" or "Suddenly" at the start of sentences do not count).
 */
export function findRecurringNames(story: string): string[] {
  const counts = new Map<string, { total: number; midSentence: number; first: number }>();
  let position = 0;
  for (const match of story.matchAll(NAME)) {
    const word = match[0].replace(/['’]s$/u, '').replace(/[-'’]+$/u, '');
    if (word.length < 2 || NOT_NAMES.has(word) || word === word.toUpperCase()) continue;
    const before = story.slice(0, match.index).trimEnd();
    const opensSentence = before === '' || /[.!?…。！？"“”«»]$/u.test(before);
    const entry = counts.get(word) ?? { total: 0, midSentence: 0, first: position++ };
    entry.total++;
    if (!opensSentence) entry.midSentence++;
    counts.set(word, entry);
  }
  return [...counts.entries()]
    .filter(([, c]) => c.total >= 2 && c.midSentence >= 1)
    .sort((a, b) => b[1].total - a[1].total || a[1].first - b[1].first)
    .slice(0, MAX_CAST)
    .map(([name]) => name);
}

/**
 * The recurring characters, each with a look concrete enough to draw from (age, build, hair, clothing,
 * palette), the same for the same name in every session.
 */
export function offlineCastSheet(story: string): CastMember[] {
  return findRecurringNames(story).map((name) => ({ name, description: offlineDescription(name) }));
}

export function offlineDescription(name: string): string {
  const look = describeLook(characterLook(name));
  return `recurring character, ${look}; same face, hair, build and clothing in every scene`;
}

/** Names of the cast that appear in a passage (whole-word match). */
export function charactersIn(passage: string, cast: CastMember[]): string[] {
  const words = new Set(passage.match(NAME)?.map((w) => w.replace(/['’]s$/u, '')) ?? []);
  return cast.filter((member) => words.has(member.name)).map((member) => member.name);
}
