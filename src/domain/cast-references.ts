import { PortraitReference } from './jobs';
import { CastMember, drawnPortrait, PortraitUse } from './session.model';

/** Scenes name their characters as the cast sheet does, give or take case. */
export function isNamed(member: CastMember, name: string): boolean {
  return member.name.toLocaleLowerCase() === name.toLocaleLowerCase();
}

/**
 * The portraits a scene is rendered from: those of its characters that were drawn, in its order (while a
 * portrait is drawn again, or after a redraw failed, the last version drawn).
 */
export function referencesFor(cast: CastMember[], characters: string[]): PortraitReference[] {
  return characters.flatMap((name) => {
    const member = cast.find((candidate) => isNamed(candidate, name));
    const portrait = drawnPortrait(member?.portrait);
    if (!member || !portrait?.reference) return [];
    return [{ name: member.name, image: portrait.reference, seed: portrait.seed, version: portrait.version }];
  });
}

/** What a scene render records of its references: whose portrait, which version. */
export function portraitUses(references: PortraitReference[]): PortraitUse[] {
  return references.map((reference) => ({ name: reference.name, version: reference.version ?? 1 }));
}
