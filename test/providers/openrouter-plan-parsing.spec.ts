import { extractJson, validatePlan } from '../../src/providers/openrouter/openrouter-scene-planner';
import { neutraliseDelimiters } from '../../src/providers/openrouter/planner-prompt';

const plan = (numScenes: number) => ({
  style: 'Warm watercolour',
  cast: [{ name: 'Mara', description: 'a girl of ten with red braids and a green coat' }],
  scenes: Array.from({ length: numScenes }, (_, i) => ({
    title: `Scene ${i + 1}`,
    passage: `Passage ${i + 1}.`,
    image_prompt: `Mara in the attic, moment ${i + 1}`,
    characters: ['Mara'],
  })),
});

describe('extractJson', () => {
  const value = { a: 1, text: 'braces } { inside "quotes"' };
  const json = JSON.stringify(value);

  it('parses plain JSON', () => {
    expect(extractJson(`  ${json}\n`)).toEqual(value);
  });

  it('parses JSON inside a ```json fence', () => {
    expect(extractJson(`\`\`\`json\n${JSON.stringify(value, null, 2)}\n\`\`\``)).toEqual(value);
  });

  it('parses JSON inside a bare ``` fence with prose around it', () => {
    expect(extractJson(`Sure!\n\`\`\`\n${json}\n\`\`\`\nEnjoy.`)).toEqual(value);
  });

  it('extracts the outermost balanced object from prose, ignoring braces inside strings', () => {
    expect(extractJson(`Here you go: ${json} — let me know {if} you need more.`)).toEqual(value);
  });

  it('skips a non-JSON brace group before the real object', () => {
    expect(extractJson(`Format {like this}: ${json}`)).toEqual(value);
  });

  it('reports a truncated object', () => {
    expect(() => extractJson(json.slice(0, 10))).toThrow(/unterminated/);
  });

  it('reports a reply without any object', () => {
    expect(() => extractJson('I cannot help with that.')).toThrow(/no JSON object/);
    expect(() => extractJson('   ')).toThrow(/empty/);
  });

  it('reports malformed JSON', () => {
    expect(() => extractJson('{"style": "noir", "cast": [}, "scenes": [oops')).toThrow(/not valid JSON/);
  });
});

describe('validatePlan', () => {
  it('accepts a valid plan and maps image_prompt to imagePrompt', () => {
    const result = validatePlan(plan(2), 2);
    expect(result).toEqual({
      ok: true,
      plan: expect.objectContaining({
        style: 'Warm watercolour',
        scenes: [
          expect.objectContaining({ title: 'Scene 1', imagePrompt: 'Mara in the attic, moment 1' }),
          expect.objectContaining({ title: 'Scene 2', characters: ['Mara'] }),
        ],
      }),
    });
  });

  it('requires exactly the requested number of scenes', () => {
    expect(validatePlan(plan(3), 2)).toEqual({ ok: false, error: 'expected exactly 2 scenes, got 3' });
    expect(validatePlan(plan(1), 2)).toEqual({ ok: false, error: 'expected exactly 2 scenes, got 1' });
  });

  it('rejects missing, empty and non-string fields with their path', () => {
    const empty = plan(1);
    empty.scenes[0].title = '   ';
    expect(validatePlan(empty, 1)).toEqual({ ok: false, error: 'scenes[0].title must not be empty' });
    const missing = plan(1) as { scenes: Record<string, unknown>[] };
    delete missing.scenes[0].image_prompt;
    expect(validatePlan(missing, 1)).toEqual({ ok: false, error: 'scenes[0].image_prompt must be a string' });
    expect(validatePlan({ ...plan(1), style: 7 }, 1)).toEqual({ ok: false, error: 'style must be a string' });
  });

  it('rejects a cast description that is blank or only the name: there is nothing to draw from', () => {
    for (const description of ['', '   \n ']) {
      const blank = { ...plan(1), cast: [{ name: 'Mara', description }] };
      expect(validatePlan(blank, 1)).toEqual({ ok: false, error: 'cast[0].description must not be empty' });
    }
    const missing = { ...plan(1), cast: [{ name: 'Mara' }] };
    expect(validatePlan(missing, 1)).toEqual({ ok: false, error: 'cast[0].description must be a string' });
    for (const description of ['Mara', ' mara. ', '"MARA"']) {
      const nameOnly = { ...plan(1), cast: [{ name: 'Mara', description }] };
      expect(validatePlan(nameOnly, 1)).toEqual({
        ok: false,
        error:
          'cast[0].description must say how Mara looks (age, build, hair, clothing, palette), not only the name',
      });
    }
    const short = {
      ...plan(1),
      cast: [{ name: 'Mara', description: 'Mara, a girl of ten in a green coat' }],
    };
    expect(validatePlan(short, 1).ok).toBe(true);
  });

  it('enforces length caps', () => {
    const long = plan(1);
    long.scenes[0].title = 'x'.repeat(121);
    expect(validatePlan(long, 1)).toEqual({
      ok: false,
      error: 'scenes[0].title is 121 characters long, at most 120 are allowed',
    });
    const longPrompt = plan(1);
    longPrompt.scenes[0].image_prompt = 'y'.repeat(1501);
    expect(validatePlan(longPrompt, 1).ok).toBe(false);
    const bigCast = {
      ...plan(1),
      cast: Array.from({ length: 21 }, (_, i) => ({ name: `N${i}`, description: 'd' })),
    };
    expect(validatePlan(bigCast, 1)).toEqual({
      ok: false,
      error: '"cast" has 21 members, at most 20 are allowed',
    });
  });

  it('accepts a plan without style, cast or character lists, and common field renamings', () => {
    const raw = {
      scenes: [
        { title: 'Dawn', description: 'The sun rose over the hill.', prompt: 'A sunrise over a hill' },
        { title: 'Noon', passage: 'They ate lunch.', imagePrompt: 'A picnic', characters: ['Nobody'] },
      ],
    };
    const result = validatePlan(raw, 2);
    expect(result).toEqual({
      ok: true,
      plan: {
        style: '',
        cast: [],
        scenes: [
          {
            title: 'Dawn',
            passage: 'The sun rose over the hill.',
            imagePrompt: 'A sunrise over a hill',
            characters: [],
          },
          { title: 'Noon', passage: 'They ate lunch.', imagePrompt: 'A picnic', characters: [] },
        ],
        droppedCharacters: ['Nobody'],
      },
    });
  });

  it('drops characters that are not in the cast and uses the cast spelling', () => {
    const raw = plan(1);
    raw.scenes[0].characters = ['mara', 'A passer-by', 'MARA'];
    const result = validatePlan(raw, 1);
    if (!result.ok) throw new Error(result.error);
    expect(result.plan.scenes[0].characters).toEqual(['Mara']);
    expect(result.plan.droppedCharacters).toEqual(['A passer-by']);
  });

  it('rejects a reply that is not an object', () => {
    expect(validatePlan([plan(1)], 1).ok).toBe(false);
    expect(validatePlan('plan', 1).ok).toBe(false);
  });
});

describe('neutraliseDelimiters', () => {
  it('defuses every spelling of the story delimiters', () => {
    const story = 'a </story> b < STORY id="x"> c <\t/ story > d';
    const safe = neutraliseDelimiters(story);
    expect(safe).not.toMatch(/<\s*\/?\s*story/i);
    expect(safe).toBe('a ‹/story› b ‹story› c ‹/story› d');
  });
});
