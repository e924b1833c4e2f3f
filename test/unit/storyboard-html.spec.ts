import {
  fingerprintOf,
  headingOf,
  Storyboard,
  storyboardOf,
} from '../../src/download/storyboard/storyboard-content';
import { storyboardHtml } from '../../src/download/storyboard/storyboard-html';
import { ZipImage } from '../../src/download/zip-export.service';
import { newScene, SessionRecord } from '../../src/domain/session.model';
import { session } from '../support/session-record';

const ID = '6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b';

function image(index: number, ext = 'png'): ZipImage {
  const file = `scene_0${index + 1}.${ext}`;
  return { index, file, key: `${ID}/${file}`, size: 1000 + index, crc: 42 + index };
}

function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return session({
    id: ID,
    status: 'completed',
    media_type: 'realistic',
    created_at: '2026-11-26T01:11:38.642Z',
    completed_at: '2026-11-27T23:59:59.000Z',
    scenes: [0, 1, 2].map((index) =>
      newScene(index, {
        title: `Title ${index + 1}`,
        description: `Passage ${index + 1}.`,
        image_prompt: `Prompt ${index + 1}`,
        status: 'done',
        version: 1,
      }),
    ),
    ...overrides,
  });
}

const STORY = '\n  The Lantern of Mara  \nShe found it in the attic.';

describe('storyboardOf', () => {
  it('holds the exported scenes, in export order, with their current text, and the session’s facts', () => {
    const board = storyboardOf(record(), STORY, [image(0), image(2, 'jpg')]);
    expect(board).toMatchObject({
      heading: 'The Lantern of Mara',
      mediaType: 'realistic',
      date: '2026-11-27',
      createdAt: new Date('2026-11-26T01:11:38.642Z'),
      completedAt: new Date('2026-11-27T23:59:59.000Z'),
    });
    expect(board.scenes.map((s) => [s.sceneNumber, s.title, s.description, s.image.file])).toEqual([
      [1, 'Title 1', 'Passage 1.', 'scene_01.png'],
      [3, 'Title 3', 'Passage 3.', 'scene_03.jpg'],
    ]);
  });

  it('falls back to the creation date when the session has no completion time', () => {
    expect(storyboardOf(record({ completed_at: null }), STORY, [image(0)]).date).toBe('2026-11-26');
  });
});

describe('headingOf', () => {
  it('takes the first non-blank line, trimmed, with inner runs of space made one', () => {
    expect(headingOf('\r\n\t\n  Once   upon\ta time \r\nsecond line')).toBe('Once upon a time');
  });

  it('cuts a one-paragraph story at a word, with an ellipsis', () => {
    const heading = headingOf('word '.repeat(100));
    expect([...heading].length).toBeLessThanOrEqual(201);
    expect(heading).toMatch(/word…$/);
  });

  it('names a blank story "Storyboard"', () => {
    expect(headingOf('  \n ')).toBe('Storyboard');
  });
});

describe('fingerprintOf', () => {
  const base = () => storyboardOf(record(), STORY, [image(0), image(1)]);

  it('is the same for the same content, and a sha256 in hex', () => {
    expect(fingerprintOf(base())).toBe(fingerprintOf(base()));
    expect(fingerprintOf(base())).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each<[string, (board: Storyboard) => void]>([
    ['a title', (b) => (b.scenes[0].title = 'Edited')],
    ['a description', (b) => (b.scenes[1].description = 'Edited.')],
    ['a version', (b) => (b.scenes[1].version = 2)],
    ['an image’s bytes', (b) => (b.scenes[0].image = { ...b.scenes[0].image, crc: 7 })],
    ['an image’s size', (b) => (b.scenes[0].image = { ...b.scenes[0].image, size: 7 })],
    ['the heading', (b) => (b.heading = 'Another story')],
    ['the media type', (b) => (b.mediaType = 'cartoon')],
    ['the completion time', (b) => (b.completedAt = new Date('2027-01-01T00:00:00Z'))],
    ['the scenes exported', (b) => b.scenes.pop()],
  ])('changes with %s', (_, change) => {
    const changed = base();
    change(changed);
    expect(fingerprintOf(changed)).not.toBe(fingerprintOf(base()));
  });
});

describe('storyboardHtml', () => {
  const hostile = 'Tom & "Mara" <script>alert(1)</script> it\'s';
  const board = () =>
    storyboardOf(
      record({
        scenes: [0, 1, 2].map((index) =>
          newScene(index, {
            title: index === 1 ? hostile : `Title ${index + 1}`,
            description: index === 1 ? `${hostile}\nline two` : `Passage ${index + 1}.`,
            image_prompt: 'p',
            status: 'done',
          }),
        ),
      }),
      `<b>Мара</b> & the "lantern"\nrest`,
      [image(0), image(1, 'webp'), image(2, 'jpg')],
    );

  it('shows one figure per exported scene, by the relative path of its image in the ZIP', () => {
    const html = storyboardHtml(board());
    expect([...html.matchAll(/<figure\b/g)]).toHaveLength(3);
    expect([...html.matchAll(/<img src="([^"]*)"/g)].map((m) => m[1])).toEqual([
      'images/scene_01.png',
      'images/scene_02.webp',
      'images/scene_03.jpg',
    ]);
    expect(html).toContain('<span class="number">Scene 3</span> Title 3');
    expect(html).toContain('<p>Passage 3.</p>');
  });

  it('shows the title page: the story’s first line, media type, scene count and date', () => {
    const html = storyboardHtml(board());
    expect(html).toContain('<h1>&lt;b&gt;Мара&lt;/b&gt; &amp; the &quot;lantern&quot;</h1>');
    expect(html).toContain('<title>&lt;b&gt;Мара&lt;/b&gt; &amp; the &quot;lantern&quot;</title>');
    expect(html).toContain('<dt>Media type</dt><dd>realistic</dd>');
    expect(html).toContain('<dt>Scenes</dt><dd>3</dd>');
    expect(html).toContain('<dt>Date</dt><dd><time datetime="2026-11-27">2026-11-27</time></dd>');
  });

  it('escapes every text it shows, in content and in attributes', () => {
    const html = storyboardHtml(board());
    const escaped = 'Tom &amp; &quot;Mara&quot; &lt;script&gt;alert(1)&lt;/script&gt; it&#39;s';
    expect(html).toContain(`<span class="number">Scene 2</span> ${escaped}</h2>`);
    expect(html).toContain(`<p>${escaped}\nline two</p>`);
    expect(html).toContain(`alt="Scene 2: ${escaped}"`);
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<b>');
  });

  it('is self-contained: inline style, no script, nothing loaded from elsewhere', () => {
    const html = storyboardHtml(board());
    expect(html).toMatch(/<style>[\s\S]+<\/style>/);
    expect(html).not.toMatch(/<script|<link|@import|url\(|https?:|javascript:/i);
    expect(html).toContain(`content="default-src 'none'; img-src 'self' file:; style-src 'unsafe-inline'"`);
    // Every src or href is one of the ZIP's image paths.
    for (const [, value] of html.matchAll(/\b(?:src|href)="([^"]*)"/g)) expect(value).toMatch(/^images\//);
  });
});
