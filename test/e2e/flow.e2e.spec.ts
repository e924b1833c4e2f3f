import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import sharp from 'sharp';
import { MEDIA_PRESETS } from '../../src/providers/media-presets';
import { expectEnvelope, request } from '../support/http-client';
import { startTestApp, TestApp } from '../support/test-app';
import { pollUntil } from '../support/test-env';
import { readZip } from '../support/zip-reader';

const STORY = [
  'Mara found the lantern in her grandmother’s attic. It glowed the moment Tom touched it.',
  'The next morning, Mara and Tom followed its light into the forest. The birds fell silent around them.',
  'A river blocked the way. Tom built a raft from fallen branches while Mara kept watch.',
  'At dusk they reached the tower. Mara climbed the stairs with the lantern raised high.',
  'At the top, an old woman waited by the window. "You came," she said, and smiled at Mara and Tom.',
].join('\n\n');

type Status = {
  status: string;
  phase: string;
  progress: { current_step: number; total_steps: number; description: string };
  scenes: {
    index: number;
    scene_number: number;
    title: string;
    description: string;
    image_prompt: string;
    status: string;
    image_url: string | null;
    seed: number | null;
    error: string | null;
    provider: string;
  }[];
  download_status: string;
  num_scenes: number;
  error: string | null;
};

describe('the whole flow, offline (ROLE=all)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('answers the original service example for POST /generate', async () => {
    const res = await request(`${t.url}/generate`, {
      method: 'POST',
      json: { story_text: 'Test story', media_type: 'cinematic', num_scenes: 3 },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      session_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: 'processing',
      message: 'Generation started',
    });
  });

  it('answers the original service example for GET /health', async () => {
    const res = await request(`${t.url}/health`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'healthy',
      services: { openrouter: 'offline', runware: 'offline', redis: 'available' },
      providers: { scene_planner: 'offline', image_renderer: 'offline' },
    });
    expect(typeof res.body.active_sessions).toBe('number');
  });

  it('records a warning and the real count when the story cannot be split that far', async () => {
    const { body } = await request<{ session_id: string }>(`${t.url}/generate`, {
      method: 'POST',
      json: { story_text: 'Test story', num_scenes: 3 },
    });
    const done = await pollUntil(
      () => request<Status & { warnings: string[] }>(`${t.url}/status/${body.session_id}`),
      (r) => r.body.status !== 'processing',
    );
    expect(done.body.status).toBe('completed');
    expect(done.body.num_scenes).toBe(1);
    expect(done.body.warnings[0]).toMatch(/only be split into 1 scene/);
  });

  it.each(['cinematic', 'cartoon', 'realistic'] as const)(
    'generates, approves a subset, downloads and exports a %s story',
    async (mediaType) => {
      const started = await request<{ session_id: string }>(`${t.url}/generate`, {
        method: 'POST',
        json: { story_text: STORY, media_type: mediaType, num_scenes: 5 },
      });
      expect(started.status).toBe(200);
      const id = started.body.session_id;

      // Progress is monotonic while polling.
      let lastStep = 0;
      const completed = await pollUntil(
        () => request<Status>(`${t.url}/status/${id}`),
        (r) => {
          expect(r.status).toBe(200);
          expect(r.body.progress.current_step).toBeGreaterThanOrEqual(lastStep);
          expect(r.body.progress.current_step).toBeLessThanOrEqual(r.body.progress.total_steps);
          lastStep = r.body.progress.current_step;
          return r.body.status !== 'processing';
        },
      );
      expect(completed.body).toMatchObject({
        status: 'completed',
        phase: 'awaiting_approval',
        error: null,
        num_scenes: 5,
      });
      expect(completed.body.progress.current_step).toBe(completed.body.progress.total_steps);
      const scenes = completed.body.scenes;
      expect(scenes.map((s) => s.index)).toEqual([0, 1, 2, 3, 4]);
      const seeds = new Set(scenes.map((s) => s.seed));
      expect(seeds.size).toBe(1);
      for (const scene of scenes) {
        expect(scene).toMatchObject({
          scene_number: scene.index + 1,
          status: 'done',
          provider: 'offline',
          error: null,
        });
        expect(scene.title.length).toBeGreaterThan(0);
        expect(STORY.replace(/\s+/g, ' ')).toContain(scene.description.slice(0, 30));
        expect(scene.image_prompt).toContain(MEDIA_PRESETS[mediaType].style.split(',')[0]);
        // The offline image is served by this service.
        const image = await fetch(scene.image_url!);
        expect(image.status).toBe(200);
        expect(image.headers.get('content-type')).toBe('image/png');
      }
      // Byte ranges work, and one past the end is a 416 with the envelope, not a missing file.
      const whole = await fetch(scenes[0].image_url!);
      const fileEtag = whole.headers.get('etag');
      const size = (await whole.arrayBuffer()).byteLength;
      const head = await fetch(scenes[0].image_url!, { headers: { range: 'bytes=0-7' } });
      expect(head.status).toBe(206);
      expect(Buffer.from(await head.arrayBuffer())).toEqual(
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      );
      const beyond = await request(scenes[0].image_url!, { headers: { range: `bytes=${size + 10}-` } });
      expectEnvelope(beyond, 416);
      expect(beyond.headers.get('content-range')).toBe(`bytes */${size}`);
      expect(beyond.headers.get('content-type')).toMatch(/^application\/json/);
      expect(fileEtag).toBeTruthy();
      expect(beyond.headers.get('etag')).not.toBe(fileEtag);
      expectEnvelope(await request(`${scenes[0].image_url!}.missing`), 404);
      // Scenes with Mara carry the same cast description.
      const maraScenes = scenes.filter((s) => s.description.includes('Mara'));
      expect(maraScenes.length).toBeGreaterThan(1);
      for (const scene of maraScenes) expect(scene.image_prompt).toContain('Mara: recurring character');

      const early = await request(`${t.url}/download`, { method: 'POST', json: { session_id: id } });
      expectEnvelope(early, 409);

      const approved = await request(`${t.url}/approve`, {
        method: 'POST',
        json: { session_id: id, approved_scenes: [3, 0, 2] },
      });
      expect(approved.status).toBe(200);
      expect(approved.body).toEqual({
        message: 'Images approved and downloading',
        download_status: 'started',
      });

      const downloaded = await pollUntil(
        () => request<Status>(`${t.url}/status/${id}`),
        (r) => r.body.download_status !== 'started',
      );
      expect(downloaded.body.download_status).toBe('completed');

      // The ZIP, requested as the original service's clients do: a form field.
      const zipResponse = await fetch(`${t.url}/download`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ session_id: id }),
      });
      expect(zipResponse.status).toBe(200);
      expect(zipResponse.headers.get('content-type')).toBe('application/zip');
      expect(zipResponse.headers.get('content-disposition')).toBe(
        `attachment; filename="story_${id.slice(0, 8)}.zip"`,
      );
      const zipBytes = Buffer.from(await zipResponse.arrayBuffer());
      expect(zipBytes.length).toBe(Number(zipResponse.headers.get('content-length')));
      // Complete local headers (CRC recorded by the download job), no trailing data descriptors.
      expect(zipBytes.readUInt32LE(0)).toBe(0x04034b50);
      expect(zipBytes.readUInt16LE(6) & 0x0008).toBe(0);
      // The reader checks every entry's bytes against both CRC-32s it records.
      const entries = await readZip(zipBytes);
      expect(entries.map((e) => e.name)).toEqual([
        'images/scene_01.png',
        'images/scene_03.png',
        'images/scene_04.png',
        // The cast portraits (casting.e2e.spec.ts tests them), stored like the images.
        'cast/Mara.png',
        'cast/Tom.png',
        'storyboard.pdf',
        'scenes.json',
        'story.txt',
        'storyboard.html',
      ]);
      const preset = MEDIA_PRESETS[mediaType];
      const images = entries.filter((e) => e.name.startsWith('images/'));
      // Scenes have different images, so one filed under another scene's name would show below.
      expect(new Set(images.map((e) => e.crc32)).size).toBe(images.length);
      for (const entry of images) {
        expect(entry.compressionMethod).toBe(0);
        // Byte for byte the render the offline renderer wrote for that scene.
        const render = await readFile(path.join(t.env.imageDir, id, 'renders', path.basename(entry.name)));
        expect(entry.data.equals(render)).toBe(true);
        const meta = await sharp(entry.data).metadata();
        expect({ format: meta.format, width: meta.width, height: meta.height }).toEqual({
          format: 'png',
          width: preset.width,
          height: preset.height,
        });
      }
      const byName = Object.fromEntries(entries.map((e) => [e.name, e]));
      expect(byName['story.txt'].data.toString('utf8')).toBe(STORY);
      expect(byName['story.txt'].compressionMethod).toBe(8);
      expect(byName['scenes.json'].compressionMethod).toBe(8);
      // The storyboard (its content is tested in storyboard.e2e.spec.ts): a stored PDF, a deflated page.
      expect(byName['storyboard.pdf'].compressionMethod).toBe(0);
      expect(byName['storyboard.pdf'].data.subarray(0, 5).toString()).toBe('%PDF-');
      expect(byName['storyboard.html'].compressionMethod).toBe(8);
      const manifest = JSON.parse(byName['scenes.json'].data.toString('utf8')) as Record<string, unknown>[];
      expect(manifest.map((m) => m.index)).toEqual([0, 2, 3]);
      for (const entry of manifest) {
        expect(entry).toMatchObject({
          title: scenes[entry.index as number].title,
          description: scenes[entry.index as number].description,
          prompt: scenes[entry.index as number].image_prompt,
          seed: scenes[0].seed,
          provider: 'offline',
          model: expect.stringContaining('offline'),
          source_url: expect.stringContaining(`/static/${id}/`),
        });
      }

      // JSON is accepted too, and the same bytes come back.
      const again = await fetch(`${t.url}/download`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ session_id: id }),
      });
      expect(again.status).toBe(200);
      // The archive is deterministic: byte for byte the same, and exactly as long as announced.
      const againBytes = Buffer.from(await again.arrayBuffer());
      expect(againBytes.length).toBe(Number(again.headers.get('content-length')));
      expect(againBytes.equals(zipBytes)).toBe(true);
      expect((await readZip(againBytes)).map((e) => e.name)).toEqual(entries.map((e) => e.name));

      const second = await request(`${t.url}/approve`, {
        method: 'POST',
        json: { session_id: id, approved_scenes: [1] },
      });
      expectEnvelope(second, 409);
    },
  );

  it('serves the OpenAPI document with every endpoint', async () => {
    const res = await request<{ paths: Record<string, unknown> }>(`${t.url}/docs/json`);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.paths).sort()).toEqual(
      [
        '/approve',
        '/debug/config',
        '/debug/sessions',
        '/download',
        '/generate',
        '/health',
        '/health/live',
        '/health/ready',
        '/info',
        '/sessions/{session_id}/cast/{name}/regenerate',
        '/sessions/{session_id}/scenes/{index}',
        '/sessions/{session_id}/scenes/{index}/regenerate',
        '/sessions/{session_id}/scenes/{index}/select',
        '/static/{session_id}/{file}',
        '/static/{session_id}/renders/{file}',
        '/status/{session_id}',
        '/status/{session_id}/events',
      ].sort(),
    );
    const ui = await fetch(`${t.url}/docs`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('swagger');
  });

  it('answers the Terminus probes', async () => {
    const live = await request(`${t.url}/health/live`);
    expect(live.status).toBe(200);
    expect(live.body.status).toBe('ok');
    const ready = await request(`${t.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({
      status: 'ok',
      info: { redis: { status: 'up' }, queues: { status: 'up' } },
    });
  });

  it('hides the debug endpoints unless DEBUG_MODE=true', async () => {
    expectEnvelope(await request(`${t.url}/debug/sessions`), 404);
    expectEnvelope(await request(`${t.url}/debug/config`), 404);
  });
});

describe('debug mode', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      DEBUG_MODE: 'true',
      OPENROUTER_API_KEY: 'sk-or-v1-debug-secret-value-0001',
      AI_PROVIDERS: 'offline',
    });
  });
  afterAll(() => t.close());

  it('lists sessions and shows configuration without any key', async () => {
    const created = await request<{ session_id: string }>(`${t.url}/generate`, {
      method: 'POST',
      json: { story_text: 'One. Two.' },
    });
    const sessions = await request<{ active_sessions: number; sessions: { session_id: string }[] }>(
      `${t.url}/debug/sessions`,
    );
    expect(sessions.status).toBe(200);
    expect(sessions.body.active_sessions).toBe(1);
    expect(sessions.body.sessions.map((s) => s.session_id)).toEqual([created.body.session_id]);

    const config = await request(`${t.url}/debug/config`);
    expect(config.status).toBe(200);
    expect(config.body.api_keys).toEqual({
      openrouter: 'configured',
      runware: 'missing',
      api_auth: 'missing',
      webhook_secret: 'missing',
    });
    expect(JSON.stringify(config.body)).not.toContain('debug-secret');
  });
});

describe('status caching for polling clients', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('answers 304 to an unchanged session and a fresh body once it changes', async () => {
    const { body } = await request<{ session_id: string }>(`${t.url}/generate`, {
      method: 'POST',
      json: { story_text: 'One. Two. Three.', num_scenes: 3 },
    });
    const id = body.session_id;
    await pollUntil(
      () => request<{ status: string }>(`${t.url}/status/${id}`),
      (r) => r.body.status === 'completed',
    );
    const first = await fetch(`${t.url}/status/${id}`);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^W\/"\d+-[\w-]{8}"$/);
    const firstBody = await first.text();
    const again = await fetch(`${t.url}/status/${id}`, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    // A cached answer is byte-identical to the freshly built one.
    expect(await (await fetch(`${t.url}/status/${id}`)).text()).toBe(firstBody);

    await request(`${t.url}/approve`, { method: 'POST', json: { session_id: id, approved_scenes: [0] } });
    const changed = await fetch(`${t.url}/status/${id}`, { headers: { 'if-none-match': etag! } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
    const view = (await changed.json()) as { approved_scenes: number[] };
    expect(view.approved_scenes).toEqual([0]);
  });
});
