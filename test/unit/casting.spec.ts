import { portraitUses, referencesFor } from '../../src/domain/cast-references';
import { CastMember, newScene, PortraitRecord } from '../../src/domain/session.model';
import { castingChoice, pendingPortrait, portraitRequest } from '../../src/generation/casting';
import { progressOf } from '../../src/sessions/session-lifecycle';
import { session as sessionRecord } from '../support/session-record';

const member = (name: string, portrait?: Partial<PortraitRecord>): CastMember => ({
  name,
  description: `${name}, a character`,
  ...(portrait ? { portrait: { ...pendingPortrait(7), ...portrait } } : {}),
});
const scene = (index: number, characters: string[]) =>
  newScene(index, { title: `S${index}`, description: 'd', image_prompt: 'p', characters });

describe('castingChoice', () => {
  const cast = [member('Ann'), member('Bob'), member('Cy'), member('Dee')];
  const scenes = [scene(0, ['Bob', 'ann']), scene(1, ['Bob']), scene(2, ['Dee', 'Bob']), scene(3, ['Dee'])];

  it('draws the members in the most scenes, ties in cast-sheet order, in cast-sheet order', () => {
    expect(castingChoice(cast, scenes, 4)).toEqual([0, 1, 3]); // Cy is in no scene
    expect(castingChoice(cast, scenes, 2)).toEqual([1, 3]); // Bob (3), Dee (2)
    expect(castingChoice(cast, scenes, 1)).toEqual([1]);
  });

  it('draws nobody when casting is off or no scene shows anyone', () => {
    expect(castingChoice(cast, scenes, 0)).toEqual([]);
    expect(castingChoice(cast, [scene(0, [])], 4)).toEqual([]);
  });
});

describe('referencesFor', () => {
  it("gives a scene the drawn portraits of its characters, in the scene's order, with their versions", () => {
    const cast = [
      member('Ann', { status: 'done', reference: 'key-ann', version: 2, seed: 5 }),
      member('Bob', { status: 'failed', reference: null }),
      member('Cy'),
      member('Dee', { status: 'done', reference: 'key-dee' }),
    ];
    const references = referencesFor(cast, ['dee', 'Bob', 'Cy', 'ANN', 'Nobody']);
    expect(references).toEqual([
      { name: 'Dee', image: 'key-dee', seed: 7, version: 1 },
      { name: 'Ann', image: 'key-ann', seed: 5, version: 2 },
    ]);
    expect(portraitUses(references)).toEqual([
      { name: 'Dee', version: 1 },
      { name: 'Ann', version: 2 },
    ]);
  });
});

describe('portraitRequest', () => {
  it("asks for a neutral full-figure sheet of the character, in the media type's style, with its seed", () => {
    const request = portraitRequest(
      { id: 'sid', media_type: 'cartoon', style: 'warm autumn light' },
      2,
      { name: 'Mara', description: 'a girl of ten, red coat, short black hair' },
      { seed: 99, version: 3 },
    );
    expect(request).toMatchObject({ sessionId: 'sid', castIndex: 2, name: 'Mara', seed: 99, version: 3 });
    expect(request.prompt).toMatch(/cartoon/i);
    expect(request.prompt).toContain('warm autumn light');
    expect(request.prompt).toContain('full figure');
    expect(request.prompt).toContain('Mara: a girl of ten, red coat, short black hair');
  });
});

describe('progress with a casting step', () => {
  it('counts one step per portrait, and current_step never decreases as portraits and scenes end', () => {
    const base = sessionRecord({ planned: true, phase: 'casting', requested_scenes: 2 });
    const scenes = [scene(0, ['Ann']), scene(1, ['Bob'])];
    const steps = [
      { ...base, cast: [member('Ann', {}), member('Bob', {})], scenes },
      { ...base, cast: [member('Ann', { status: 'done' }), member('Bob', {})], scenes },
      { ...base, cast: [member('Ann', { status: 'done' }), member('Bob', { status: 'failed' })], scenes },
      {
        ...base,
        phase: 'rendering' as const,
        cast: [member('Ann', { status: 'done' }), member('Bob', { status: 'failed' })],
        scenes: [{ ...scenes[0], status: 'done' as const }, scenes[1]],
      },
      // Ann drawn again (version 2, rendering): still counted.
      {
        ...base,
        phase: 'rendering' as const,
        cast: [member('Ann', { status: 'rendering', version: 2 }), member('Bob', { status: 'failed' })],
        scenes: [{ ...scenes[0], status: 'done' as const }, scenes[1]],
      },
    ];
    const progress = steps.map((s) => progressOf(s));
    expect(progress.map((p) => p.total_steps)).toEqual([6, 6, 6, 6, 6]);
    expect(progress.map((p) => p.current_step)).toEqual([1, 2, 3, 4, 4]);
    expect(progress[1].description).toBe('Drawing the cast (1/2 portraits done)');
  });
});
