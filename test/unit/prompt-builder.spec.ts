import { buildImagePrompt, MAX_PROMPT_CHARS, truncate } from '../../src/providers/prompt-builder';

const cast = [
  { name: 'Mara', description: 'a tall woman with a red scarf' },
  { name: 'Tom', description: 'a boy with curly hair' },
];

describe('buildImagePrompt', () => {
  it('opens with the style, then the scene, then the cast descriptions of the characters present', () => {
    const prompt = buildImagePrompt({
      presetStyle: 'Cinematic film still.',
      storyStyle: 'muted autumn palette',
      scene: 'Mara holds the lantern.',
      characters: ['Mara'],
      cast,
    });
    expect(prompt).toBe(
      'Cinematic film still. muted autumn palette. Mara holds the lantern. Characters — Mara: a tall woman with a red scarf',
    );
  });

  it('gives every scene with the same character the same description', () => {
    const a = buildImagePrompt({ presetStyle: 'S', storyStyle: '', scene: 'One', characters: ['Tom'], cast });
    const b = buildImagePrompt({ presetStyle: 'S', storyStyle: '', scene: 'Two', characters: ['tom'], cast });
    expect(a.split('Characters — ')[1]).toBe(b.split('Characters — ')[1]);
  });

  it('drops a story style that repeats the preset and names not on the cast sheet', () => {
    const prompt = buildImagePrompt({
      presetStyle: 'Cartoon',
      storyStyle: 'Cartoon',
      scene: 'x',
      characters: ['Nobody'],
      cast,
    });
    expect(prompt).toBe('Cartoon. x');
  });

  it('never exceeds the provider prompt limit, keeping the style and cast', () => {
    const prompt = buildImagePrompt({
      presetStyle: 'Style',
      storyStyle: '',
      scene: 'word '.repeat(2000),
      characters: ['Mara'],
      cast,
    });
    expect(prompt.length).toBeLessThanOrEqual(MAX_PROMPT_CHARS);
    expect(prompt.startsWith('Style. word')).toBe(true);
    expect(prompt.endsWith('Mara: a tall woman with a red scarf')).toBe(true);
  });
});

describe('truncate', () => {
  it('never splits a surrogate pair', () => {
    const cut = truncate('😀'.repeat(10), 5);
    expect(cut).toBe('😀😀😀😀…');
    expect(cut.isWellFormed()).toBe(true);
  });
});
