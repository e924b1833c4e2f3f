import { codePointLength, sliceCodePoints } from '../../src/providers/code-points';
import { truncate } from '../../src/providers/prompt-builder';
import { capStory } from '../../src/providers/openrouter/planner-prompt';

describe('code point helpers', () => {
  const emoji = '😀'; // one code point, two UTF-16 units

  it('counts code points, a surrogate pair as one', () => {
    expect(codePointLength('')).toBe(0);
    expect(codePointLength('abc')).toBe(3);
    expect(codePointLength(`a${emoji}b`)).toBe(3);
    expect(codePointLength(emoji.repeat(5))).toBe(5);
    // A lone surrogate (invalid UTF-16) still counts as one.
    expect(codePointLength('a\ud800b')).toBe(3);
    expect(codePointLength('\udc00\ud800')).toBe(2);
  });

  it('agrees with Array.from on mixed text', () => {
    const text = `Mara ${emoji} walks ∑ past ${emoji}${emoji} the mill \ud83d.`;
    expect(codePointLength(text)).toBe(Array.from(text).length);
    for (let max = 0; max <= Array.from(text).length + 1; max++) {
      expect(sliceCodePoints(text, max)).toBe(Array.from(text).slice(0, max).join(''));
    }
  });

  it('never splits a surrogate pair when slicing', () => {
    expect(sliceCodePoints(`ab${emoji}cd`, 3)).toBe(`ab${emoji}`);
    expect(sliceCodePoints(emoji.repeat(3), 2)).toBe(emoji.repeat(2));
    expect(sliceCodePoints('short', 10)).toBe('short');
  });

  it('truncates prompts and caps stories by code points', () => {
    expect(truncate(emoji.repeat(10), 10)).toBe(emoji.repeat(10));
    const cut = truncate(emoji.repeat(11), 10);
    expect(cut).toBe(`${emoji.repeat(9)}…`);
    expect(capStory(emoji.repeat(4), 4)).toEqual({ text: emoji.repeat(4), truncated: false });
    expect(capStory(emoji.repeat(5), 4)).toEqual({ text: emoji.repeat(4), truncated: true });
  });
});
