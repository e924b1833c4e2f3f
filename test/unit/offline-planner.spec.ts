import { charactersIn, findRecurringNames, offlineCastSheet } from '../../src/providers/offline/cast-sheet';
import { OfflineScenePlanner, titleOf } from '../../src/providers/offline/offline-scene-planner';
import { codePointLength, splitStory } from '../../src/providers/offline/story-splitter';

const paragraphs = (n: number, sentences = 3) =>
  Array.from({ length: n }, (_, p) =>
    Array.from({ length: sentences }, (_, s) => `Paragraph ${p} sentence ${s} has a few words in it.`).join(
      ' ',
    ),
  ).join('\n\n');

describe('splitStory', () => {
  it('returns exactly the number of passages asked for when the text allows it', () => {
    for (const count of [1, 2, 3, 5, 7, 20]) expect(splitStory(paragraphs(10), count)).toHaveLength(count);
  });

  it('cuts along paragraph breaks when their number matches the scene count', () => {
    const story = paragraphs(4);
    const passages = splitStory(story, 4);
    expect(passages).toEqual(story.split('\n\n'));
  });

  it('keeps every sentence, in order, exactly once', () => {
    const story = paragraphs(6, 4);
    const passages = splitStory(story, 5);
    expect(passages.join(' ')).toBe(story.replace(/\n\n/g, ' '));
  });

  it('balances passage lengths', () => {
    const story = Array.from({ length: 40 }, (_, i) => `Sentence number ${i} is here.`).join(' ');
    const lengths = splitStory(story, 4).map(codePointLength);
    expect(Math.max(...lengths) / Math.min(...lengths)).toBeLessThan(1.3);
  });

  it('splits long sentences at clause marks when there are fewer sentences than scenes', () => {
    const passages = splitStory('We ran to the hill, we climbed the tree; we saw the sea.', 3);
    expect(passages).toEqual(['We ran to the hill,', 'we climbed the tree;', 'we saw the sea.']);
  });

  it('returns fewer passages, never more, when the text cannot be split that far', () => {
    expect(splitStory('Test story', 3)).toEqual(['Test story']);
    expect(splitStory('   ', 3)).toEqual([]);
  });

  it('handles scripts without spaces, RTL text, combining marks and emoji', () => {
    expect(splitStory('猫が走った。犬が吠えた。鳥が飛んだ。', 3)).toEqual([
      '猫が走った。',
      '犬が吠えた。',
      '鳥が飛んだ。',
    ]);
    expect(splitStory('القطة نائمة. الكلب يركض.', 2)).toEqual(['القطة نائمة.', 'الكلب يركض.']);
    const emoji = splitStory('The 👩‍🚀 lands. Café́ opens.', 2);
    expect(emoji).toEqual(['The 👩‍🚀 lands.', 'Café́ opens.']);
  });
});

describe('cast sheet', () => {
  it('finds names that recur and appear mid-sentence, most frequent first', () => {
    const story =
      'Mara met Tom. Later Mara smiled at Tom and Mara waved. The end. Suddenly it rained. Suddenly Paris.';
    expect(findRecurringNames(story)).toEqual(['Mara', 'Tom']);
  });

  it('ignores sentence-opening words, pronouns and all-caps words', () => {
    expect(findRecurringNames('The cat sat. The dog ran. He ran. He sat. NASA called NASA.')).toEqual([]);
  });

  it('describes each character concretely enough to draw: age, build, hair, clothing, palette', () => {
    const [mara, tom] = offlineCastSheet('Mara met Tom. Later Mara smiled at Tom and Mara waved.');
    for (const member of [mara, tom]) {
      expect(member.description).toMatch(
        /^recurring character, (a|an) [^,]+, [\w-]+ build, [^;]+ hair; wears a [^;]+; palette [\w ]+ and [\w ]+; same face, hair, build and clothing in every scene$/,
      );
    }
    expect(mara.description).not.toBe(tom.description);
  });

  it('gives a name the same description in every story, whatever else the story holds', () => {
    const [inOne] = offlineCastSheet('Mara ran. Then Mara hid.');
    const inOther = offlineCastSheet('Ben saw Mara. Ben and Mara and Ben sailed.').find(
      (m) => m.name === 'Mara',
    );
    expect(inOther?.description).toBe(inOne.description);
  });

  it('spreads looks over many names', () => {
    const names = ['Mara', 'Tom', 'Ana', 'Ben', 'Theo', 'Lina', 'Kofi', 'Yuki', 'Ines', 'Omar'];
    const descriptions = names.map(
      (name) => offlineCastSheet(`${name} came. Then ${name} went.`)[0].description,
    );
    expect(new Set(descriptions).size).toBe(names.length);
    const palettes = descriptions.map((d) => /palette ([^;]+);/.exec(d)?.[1]);
    expect(new Set(palettes).size).toBeGreaterThan(3);
  });

  it('matches possessives to the name', () => {
    expect(charactersIn("It was Mara's lantern.", [{ name: 'Mara', description: 'x' }])).toEqual(['Mara']);
  });
});

describe('OfflineScenePlanner', () => {
  const planner = new OfflineScenePlanner();

  it('is deterministic', async () => {
    const request = { story: paragraphs(5), mediaType: 'cartoon' as const, numScenes: 4 };
    expect(await planner.plan(request)).toEqual(await planner.plan(request));
  });

  it('gives each scene a title from its passage, the passage itself and the cast present', async () => {
    const plan = await planner.plan({
      story: 'Ana found a map. Ana showed it to Ben.\n\nBen and Ana sailed away at dawn.',
      mediaType: 'cinematic',
      numScenes: 2,
    });
    expect(plan.cast.map((c) => c.name)).toEqual(['Ana', 'Ben']);
    expect(plan.scenes).toEqual([
      {
        title: 'Ana found a map',
        passage: 'Ana found a map. Ana showed it to Ben.',
        imagePrompt: expect.stringContaining('Ana found a map'),
        characters: ['Ana', 'Ben'],
      },
      {
        title: 'Ben and Ana sailed away at dawn',
        passage: 'Ben and Ana sailed away at dawn.',
        imagePrompt: expect.stringContaining('sailed away'),
        characters: ['Ana', 'Ben'],
      },
    ]);
    expect(plan.warnings).toEqual([]);
  });

  it('warns with the real count when it produces fewer scenes than asked', async () => {
    const plan = await planner.plan({
      story: 'Only one sentence here',
      mediaType: 'realistic',
      numScenes: 5,
    });
    expect(plan.scenes).toHaveLength(1);
    expect(plan.warnings).toEqual([expect.stringContaining('only be split into 1 scene(s)')]);
  });
});

describe('titleOf', () => {
  it('takes the first words of the first sentence without trailing punctuation', () => {
    expect(titleOf('“Run!” she shouted. Then silence.', 0)).toBe('Run!” she shouted');
    expect(titleOf('One two three four five six seven eight nine.', 0)).toBe(
      'One two three four five six seven…',
    );
    expect(titleOf('...', 4)).toBe('Scene 5');
  });
});
