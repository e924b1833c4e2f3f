import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { RedisService } from '../../src/redis/redis.service';
import { SessionStore } from '../../src/sessions/session.store';
import { expectEnvelope, request } from '../support/http-client';
import { pdfInfo, pdfPageTexts } from '../support/pdf-tools';
import { CapturingLogger, startTestApp, TestApp } from '../support/test-app';
import { pollUntil } from '../support/test-env';
import { readZip, ZipEntry } from '../support/zip-reader';

const STORY = [
  'Мара нашла фонарь на чердаке бабушки. Он засветился, когда Том коснулся его.',
  'Утром Мара и Том пошли за его светом в лес. Птицы замолчали вокруг них.',
  'Река преградила путь. Том построил плот из веток, пока Мара сторожила.',
  'На закате они дошли до башни. Мара поднялась по лестнице с фонарём.',
].join('\n\n');
const FIRST_LINE = 'Мара нашла фонарь на чердаке бабушки. Он засветился, когда Том коснулся его.';

type Status = {
  status: string;
  download_status: string;
  completed_at: string;
  scenes: { index: number; title: string; description: string }[];
};

interface Export {
  bytes: Buffer;
  contentLength: number;
  entries: ZipEntry[];
  /**
   * Entry names, without the cast portraits (`cast/<name>.<ext>`, which the casting step adds for this
   * story's recurring characters): they are not the storyboard's business, and are tested with casting.
   */
  names: string[];
  entry: (name: string) => ZipEntry;
}

/** What a person reads on each page: "Scene N", the title and the description, as pdftotext extracts them. */
const pageOf = (scene: { index: number; title: string; description: string }) =>
  `Scene ${scene.index + 1} ${scene.title} ${scene.description}`.replace(/\s+/g, ' ').trim();

function harness(overrides: Record<string, string> = {}) {
  const logger = new CapturingLogger();
  const h = {
    t: undefined as unknown as TestApp,
    logger,
    async start() {
      h.t = await startTestApp(overrides, undefined, logger);
    },
    async generate(numScenes = 4): Promise<{ id: string; status: Status }> {
      const res = await request<{ session_id: string }>(`${h.t.url}/generate`, {
        method: 'POST',
        json: { story_text: STORY, media_type: 'cartoon', num_scenes: numScenes },
      });
      expect(res.status).toBe(200);
      const done = await pollUntil(
        () => request<Status>(`${h.t.url}/status/${res.body.session_id}`),
        (r) => r.body.status !== 'processing',
      );
      expect(done.body.status).toBe('completed');
      return { id: res.body.session_id, status: done.body };
    },
    async approve(id: string, scenes: number[]): Promise<Status> {
      const res = await request(`${h.t.url}/approve`, {
        method: 'POST',
        json: { session_id: id, approved_scenes: scenes },
      });
      expect(res.status).toBe(200);
      const done = await pollUntil(
        () => request<Status>(`${h.t.url}/status/${id}`),
        (r) => r.body.download_status !== 'started',
      );
      expect(done.body.download_status).toBe('completed');
      return done.body;
    },
    async exportZip(id: string): Promise<Export> {
      const res = await fetch(`${h.t.url}/download`, {
        method: 'POST',
        body: new URLSearchParams({ session_id: id }),
      });
      expect(res.status).toBe(200);
      const bytes = Buffer.from(await res.arrayBuffer());
      // readZip checks every entry's bytes against both CRC-32s recorded for it.
      const entries = await readZip(bytes);
      return {
        bytes,
        contentLength: Number(res.headers.get('content-length')),
        entries,
        names: entries.map((e) => e.name).filter((name) => !name.startsWith('cast/')),
        entry: (name) => entries.find((e) => e.name === name)!,
      };
    },
    /** The storyboard PDFs in the image storage for this session (file names). */
    storedPdfs(id: string): string[] {
      const dir = path.join(h.t.env.imageDir, id, 'storyboard');
      return existsSync(dir) ? readdirSync(dir).sort() : [];
    },
    /** How often the service built this session's PDF (it logs each build). */
    builds(id: string): number {
      return logger.lines.filter((line) => line.includes(`Storyboard PDF of ${id}:`)).length;
    },
  };
  return h;
}

describe('the storyboard in the export (offline, local storage)', () => {
  const h = harness();
  beforeAll(() => h.start());
  afterAll(() => h.t.close());

  it('adds storyboard.pdf and storyboard.html beside images/, scenes.json and story.txt, built once by the download job', async () => {
    const { id } = await h.generate();
    // Edited text (before approval, the only time scenes change) is what the storyboard shows.
    const edited = 'Мост через реку — edited';
    expect(
      (await request(`${h.t.url}/sessions/${id}/scenes/1`, { method: 'PATCH', json: { title: edited } }))
        .status,
    ).toBe(200);
    const status = await h.approve(id, [3, 0, 1]);

    // The download job built it before reporting the download over.
    expect(h.builds(id)).toBe(1);
    const [stored] = h.storedPdfs(id);
    expect(h.storedPdfs(id)).toEqual([expect.stringMatching(/^[0-9a-f]{16}\.pdf$/)]);
    // It lives beside the images, but /static serves images only.
    expectEnvelope(await request(`${h.t.url}/static/${id}/storyboard/${stored}`), 404);

    const zip = await h.exportZip(id);
    expect(zip.bytes.length).toBe(zip.contentLength);
    expect(zip.names).toEqual([
      'images/scene_01.png',
      'images/scene_02.png',
      'images/scene_04.png',
      'storyboard.pdf',
      'scenes.json',
      'story.txt',
      'storyboard.html',
    ]);
    // Streamed from the storage as the job wrote it, stored (not deflated); the HTML is deflated text.
    const pdf = zip.entry('storyboard.pdf');
    expect(pdf.compressionMethod).toBe(0);
    expect(pdf.data.equals(readFileSync(path.join(h.t.env.imageDir, id, 'storyboard', stored)))).toBe(true);
    expect(zip.entry('storyboard.html').compressionMethod).toBe(8);
    expect(zip.entry('story.txt').data.toString('utf8')).toBe(STORY);

    const exported = [0, 1, 3].map((index) => status.scenes[index]);
    expect(exported[1].title).toBe(edited);
    const pages = await pdfPageTexts(pdf.data);
    expect(pages).toHaveLength(4);
    expect((await pdfInfo(pdf.data)).Pages).toBe('4');
    expect(pages[0]).toContain(FIRST_LINE);
    expect(pages[0]).toContain('Media type: cartoon');
    expect(pages[0]).toContain('Scenes: 3');
    expect(pages[0]).toContain(`Date: ${status.completed_at.slice(0, 10)}`);
    expect(pages.slice(1)).toEqual(exported.map(pageOf));

    const html = zip.entry('storyboard.html').data.toString('utf8');
    const images = zip.names.filter((name) => name.startsWith('images/'));
    expect([...html.matchAll(/<img src="([^"]*)"/g)].map((m) => m[1])).toEqual(images);
    expect(html).toContain(`<h1>${FIRST_LINE}</h1>`);
    for (const scene of exported) expect(html).toContain(scene.description);

    // The same bytes again, from the recorded PDF: nothing was built for the exports.
    const again = await h.exportZip(id);
    expect(again.bytes.equals(zip.bytes)).toBe(true);
    expect(h.builds(id)).toBe(1);
  });

  it('builds a new PDF when the recorded one no longer matches the scenes, and removes the superseded one', async () => {
    const { id } = await h.generate(3);
    await h.approve(id, [0, 2]);
    const before = await h.exportZip(id);
    const [superseded] = h.storedPdfs(id);

    // Scene text changed behind the record's back (the API refuses edits after approval): the recorded
    // PDF's fingerprint no longer matches, as for a PDF of an earlier layout.
    const sessions = h.t.app.get(SessionStore);
    const session = (await sessions.get(id))!;
    const title = 'Переписанный заголовок';
    await sessions.update(id, {}, [{ ...session.scenes[2], title }]);

    const after = await h.exportZip(id);
    expect(after.bytes.length).toBe(after.contentLength);
    const pages = await pdfPageTexts(after.entry('storyboard.pdf').data);
    expect(pages[2]).toContain(`Scene 3 ${title}`);
    expect(after.entry('storyboard.html').data.toString('utf8')).toContain(`</span> ${title}</h2>`);
    expect(after.entry('scenes.json').data.toString('utf8')).toContain(`"title": "${title}"`);
    for (const name of ['images/scene_01.png', 'images/scene_03.png', 'story.txt'])
      expect(after.entry(name).data.equals(before.entry(name).data)).toBe(true);
    expect(h.builds(id)).toBe(2);
    const stored = h.storedPdfs(id);
    expect(stored).toHaveLength(1);
    expect(stored[0]).not.toBe(superseded);
    // And it is recorded: the next export reuses it.
    expect((await h.exportZip(id)).bytes.equals(after.bytes)).toBe(true);
    expect(h.builds(id)).toBe(2);
  });

  it('builds the PDF at export time for a session with none recorded, byte for byte the one the job built', async () => {
    const { id } = await h.generate(2);
    await h.approve(id, [0, 1]);
    const first = await h.exportZip(id);
    // As a session approved before storyboards existed: no record, no PDF.
    const redis = h.t.app.get(RedisService).commands;
    await redis.hdel(`${h.t.env.prefix}:session:${id}`, 'storyboard');
    rmSync(path.join(h.t.env.imageDir, id, 'storyboard'), { recursive: true });

    const rebuilt = await h.exportZip(id);
    expect(h.builds(id)).toBe(2);
    expect(rebuilt.bytes.equals(first.bytes)).toBe(true);
    expect(rebuilt.bytes.length).toBe(rebuilt.contentLength);
    expect((await h.t.app.get(SessionStore).get(id))!.storyboard).toMatchObject({
      bytes: first.entry('storyboard.pdf').data.length,
      crc32: first.entry('storyboard.pdf').crc32,
    });
  });

  it('exports without the PDF, and logs why, when it cannot be built', async () => {
    const { id } = await h.generate(2);
    await h.approve(id, [1]);
    const redis = h.t.app.get(RedisService).commands;
    await redis.hdel(`${h.t.env.prefix}:session:${id}`, 'storyboard');
    // A file where the storyboard folder goes: the storage cannot write the PDF.
    const folder = path.join(h.t.env.imageDir, id, 'storyboard');
    rmSync(folder, { recursive: true });
    writeFileSync(folder, 'in the way');

    const zip = await h.exportZip(id);
    expect(zip.bytes.length).toBe(zip.contentLength);
    expect(zip.names).toEqual(['images/scene_02.png', 'scenes.json', 'story.txt', 'storyboard.html']);
    expect(
      h.logger.lines.some((line) =>
        line.startsWith(`warn The storyboard PDF of ${id} could not be built; exported without it`),
      ),
    ).toBe(true);

    // Once the storage can take it again, the next export has it.
    rmSync(folder);
    mkdirSync(folder);
    expect((await h.exportZip(id)).names).toContain('storyboard.pdf');
  });
});

describe('EXPORT_STORYBOARD=false', () => {
  const h = harness({ EXPORT_STORYBOARD: 'false' });
  beforeAll(() => h.start());
  afterAll(() => h.t.close());

  it('exports the layout without a storyboard, and builds none', async () => {
    const { id } = await h.generate(3);
    await h.approve(id, [0, 2]);
    const zip = await h.exportZip(id);
    expect(zip.bytes.length).toBe(zip.contentLength);
    expect(zip.names).toEqual(['images/scene_01.png', 'images/scene_03.png', 'scenes.json', 'story.txt']);
    expect(h.storedPdfs(id)).toEqual([]);
    expect(h.builds(id)).toBe(0);
  });
});
