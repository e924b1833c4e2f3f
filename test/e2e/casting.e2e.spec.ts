import sharp from 'sharp';
import { portraitMarkPosition } from '../../src/providers/offline/portrait-svg';
import { referenceMarkPosition } from '../../src/providers/offline/reference-marks';
import { pendingPortrait, portraitRequest } from '../../src/generation/casting';
import { JobQueue } from '../../src/queue/job-queue.service';
import { SessionStore } from '../../src/sessions/session.store';
import { expectEnvelope, request } from '../support/http-client';
import { startTestApp, TestApp } from '../support/test-app';
import { pollUntil } from '../support/test-env';
import { readZip } from '../support/zip-reader';
import { createSession, plannedScene } from '../support/session-record';

/** The casting step offline: a portrait per main character, and every scene rendered from its cast's. */

const STORY = [
  'Mara found the lantern in the attic. It glowed the moment Tom touched it.',
  'The next morning, Mara and Tom followed its light into the forest.',
  'At dusk Mara climbed the tower stairs alone, the lantern raised high.',
].join('\n\n');

const imageBytes = async (url: string) => Buffer.from(await (await fetch(url)).arrayBuffer());

/** The colour (#rrggbb) of one pixel of a PNG. */
async function pixel(png: Buffer, at: { x: number; y: number }): Promise<string> {
  const { data } = await sharp(png)
    .removeAlpha()
    .extract({ left: at.x, top: at.y, width: 1, height: 1 })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return `#${[...data].map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}

type CastView = {
  name: string;
  description: string;
  status: string;
  image_url: string | null;
  seed: number | null;
  version: number | null;
  error: string | null;
};
type SceneView = {
  index: number;
  image_prompt: string;
  status: string;
  characters: string[];
  references: { name: string; version: number }[];
  version: number;
};
type Status = {
  status: string;
  phase: string;
  progress: { current_step: number; total_steps: number };
  cast: CastView[];
  scenes: SceneView[];
  warnings: string[];
  download_status: string;
};

describe('casting (offline providers)', () => {
  let t: TestApp;
  let id: string;
  const status = async () => (await request<Status>(`${t.url}/status/${id}`)).body;

  beforeAll(async () => {
    t = await startTestApp();
    const res = await request<{ session_id: string }>(`${t.url}/generate`, {
      method: 'POST',
      json: { story_text: STORY, num_scenes: 3, media_type: 'cartoon' },
    });
    expect(res.status).toBe(200);
    id = res.body.session_id;
  });
  afterAll(() => t.close());

  it('draws a portrait of each main character before any scene, then renders the scenes from them', async () => {
    const done = await pollUntil(status, (s) => s.status !== 'processing');
    expect(done.status).toBe('completed');

    expect(done.cast.map((member) => [member.name, member.status, member.version])).toEqual([
      ['Mara', 'done', 1],
      ['Tom', 'done', 1],
    ]);
    for (const member of done.cast) {
      expect(member.description.trim()).not.toBe('');
      expect(member.image_url).toMatch(new RegExp(`/static/${id}/renders/cast_0\\d\\.png$`));
      const image = await fetch(member.image_url as string);
      expect(image.status).toBe(200);
      expect(image.headers.get('content-type')).toBe('image/png');
    }

    // Planning, 2 portraits, 3 scenes, finalising.
    expect(done.progress).toMatchObject({ current_step: 7, total_steps: 7 });

    // Every portrait ended before the first scene was rendered.
    const record = await t.app.get(SessionStore).get(id);
    const portraitsEnded = Math.max(...record!.cast.map((m) => Date.parse(m.portrait!.rendered_at!)));
    const firstScene = Math.min(...record!.scenes.map((s) => Date.parse(s.rendered_at!)));
    expect(portraitsEnded).toBeLessThanOrEqual(firstScene);

    // Each scene was rendered from exactly the portraits of the characters it shows.
    for (const scene of done.scenes) {
      expect(scene.references).toEqual(scene.characters.map((name) => ({ name, version: 1 })));
    }
    expect(done.scenes.some((scene) => scene.references.length > 0)).toBe(true);

    // Consistency you can see: each scene carries a mark of each of its characters, in the very colour of
    // that character's portrait.
    const portraitColour = new Map<string, string>();
    for (const member of done.cast) {
      const png = await imageBytes(member.image_url as string);
      const { width, height } = await sharp(png).metadata();
      portraitColour.set(member.name, await pixel(png, portraitMarkPosition(width!, height!)));
    }
    for (const scene of done.scenes) {
      const png = await imageBytes((scene as SceneView & { image_url: string }).image_url);
      const { width, height } = await sharp(png).metadata();
      for (const [i, reference] of scene.references.entries()) {
        expect([
          scene.index,
          reference.name,
          await pixel(png, referenceMarkPosition(i, width!, height!)),
        ]).toEqual([scene.index, reference.name, portraitColour.get(reference.name)]);
      }
    }
  });

  it('draws a portrait again with a new description, says which scenes would change, and a regenerated scene uses it', async () => {
    const before = await status();
    const tomScenes = before.scenes.filter((s) => s.characters.includes('Tom')).map((s) => s.index);
    const res = await request(`${t.url}/sessions/${id}/cast/tom/regenerate`, {
      method: 'POST',
      json: { description: 'a tall old sailor with a grey beard, yellow oilskin coat', seed: 4242 },
    });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({
      session_id: id,
      name: 'Tom',
      version: 2,
      status: 'rendering',
      affected_scenes: tomScenes,
    });
    const redrawn = await pollUntil(status, (s) => s.cast[1].status === 'done' && s.cast[1].version === 2);
    expect(redrawn.cast[1]).toMatchObject({
      description: 'a tall old sailor with a grey beard, yellow oilskin coat',
      seed: 4242,
      version: 2,
    });
    expect(redrawn.cast[1].image_url).toMatch(/cast_02_v2\.png$/);
    // Scenes are left as they were until they are regenerated.
    expect(redrawn.status).toBe('completed');
    expect(redrawn.scenes.map((s) => s.version)).toEqual(before.scenes.map((s) => s.version));

    const index = tomScenes[0];
    const again = await request(`${t.url}/sessions/${id}/scenes/${index}/regenerate`, { method: 'POST' });
    expect(again.status).toBe(202);
    const after = await pollUntil(status, (s) => s.status === 'completed' && s.scenes[index].version === 2);
    // The new description replaced the old one in the prompts of Tom's scenes.
    expect(after.scenes[index].image_prompt).toContain(
      'Tom: a tall old sailor with a grey beard, yellow oilskin coat',
    );
    expect(after.scenes[index].image_prompt).not.toContain(
      before.cast[1].description.replace(/\s+/g, ' ').trim(),
    );
    expect(after.scenes[index].references).toEqual(
      after.scenes[index].characters.map((name) => ({ name, version: name === 'Tom' ? 2 : 1 })),
    );
  });

  it('refuses to draw an unknown character (404) or one being drawn (409), with the envelope', async () => {
    expectEnvelope(await request(`${t.url}/sessions/${id}/cast/Nobody/regenerate`, { method: 'POST' }), 404);
    expectEnvelope(
      await request(`${t.url}/sessions/${id}/cast/Mara/regenerate`, { method: 'POST', json: { seed: 0 } }),
      400,
    );
    expectEnvelope(
      await request(`${t.url}/sessions/${id}/cast/Mara/regenerate`, {
        method: 'POST',
        json: { description: '   ' },
      }),
      400,
    );
  });

  it('exports the portraits as cast/<name>.png, and scenes.json says what each scene was rendered from', async () => {
    const approve = await request(`${t.url}/approve`, {
      method: 'POST',
      json: { session_id: id, approved_scenes: [0, 1, 2] },
    });
    expect(approve.status).toBe(200);
    await pollUntil(status, (s) => s.download_status !== 'started');
    // Approved: the cast can no longer change.
    expectEnvelope(await request(`${t.url}/sessions/${id}/cast/Mara/regenerate`, { method: 'POST' }), 409);

    const zip = await fetch(`${t.url}/download`, {
      method: 'POST',
      body: new URLSearchParams({ session_id: id }),
    });
    expect(zip.status).toBe(200);
    const entries = await readZip(Buffer.from(await zip.arrayBuffer()));
    const names = entries.map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(['cast/Mara.png', 'cast/Tom.png']));

    // The exported portraits are the current versions, byte for byte.
    const final = await status();
    for (const member of final.cast) {
      const served = Buffer.from(await (await fetch(member.image_url as string)).arrayBuffer());
      expect(entries.find((e) => e.name === `cast/${member.name}.png`)?.data.equals(served)).toBe(true);
    }
    const manifest = JSON.parse(entries.find((e) => e.name === 'scenes.json')!.data.toString('utf8')) as {
      index: number;
      references: { name: string; version: number; file: string }[];
    }[];
    for (const scene of manifest) {
      expect(scene.references.map(({ name, version }) => ({ name, version }))).toEqual(
        final.scenes[scene.index].references,
      );
    }
  });
});

describe('a portrait job run again after its worker died', () => {
  it('queues the scenes when the first run closed the casting step but died before queuing them', async () => {
    const t = await startTestApp();
    try {
      const store = t.app.get(SessionStore);
      const id = await createSession(store, { story: 'Mara finds the lantern. Tom follows it.', seed: 11 });
      const cast = [{ name: 'Mara', description: 'a girl of ten, red coat' }];
      // Where the first run stopped: its portrait ended (failed here, so the scenes need no image of it), the
      // casting step closed (phase rendering), and no render job queued.
      const portrait = {
        ...pendingPortrait(11),
        status: 'failed' as const,
        error: 'Rendering did not complete',
      };
      await store.savePlan(
        id,
        { renders_left: 2, portraits_left: 0, phase: 'rendering', cast },
        [plannedScene(0, ['Mara']), plannedScene(1, ['Mara'])],
        [{ castIndex: 0, portrait }],
      );
      const session = await store.get(id);
      await t.app.get(JobQueue).renderPortraits([portraitRequest(session!, 0, cast[0], portrait)]);

      const done = await pollUntil(
        () => request<Status>(`${t.url}/status/${id}`),
        (r) => r.body.status !== 'processing',
        15_000,
      );
      expect(done.body.status).toBe('completed');
      expect(done.body.scenes.map((s) => s.status)).toEqual(['done', 'done']);
    } finally {
      await t.close();
    }
  });
});

describe('casting switched off (CAST_PORTRAITS_MAX=0)', () => {
  it('renders the scenes from text alone, with every cast member not cast', async () => {
    const t = await startTestApp({ CAST_PORTRAITS_MAX: '0' });
    try {
      const res = await request<{ session_id: string }>(`${t.url}/generate`, {
        method: 'POST',
        json: { story_text: STORY, num_scenes: 2 },
      });
      const done = await pollUntil(
        async () => (await request<Status>(`${t.url}/status/${res.body.session_id}`)).body,
        (s) => s.status !== 'processing',
      );
      expect(done.status).toBe('completed');
      expect(done.cast.map((m) => m.status)).toEqual(['not_cast', 'not_cast']);
      expect(done.scenes.every((s) => s.references.length === 0)).toBe(true);
      expect(done.progress).toMatchObject({ current_step: 4, total_steps: 4 });
    } finally {
      await t.close();
    }
  });
});
