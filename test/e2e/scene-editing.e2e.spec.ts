import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { QueueName } from '../../src/domain/jobs';
import { SessionStore } from '../../src/sessions/session.store';
import { startFakeOpenRouter, FakeOpenRouter } from '../support/fake-openrouter';
import { startFakeRunware, FakeRunware } from '../support/fake-runware';
import { expectEnvelope, request } from '../support/http-client';
import { liveProviderVars } from '../support/live-vars';
import { startTestApp, TestApp } from '../support/test-app';
import { pollUntil } from '../support/test-env';
import { readZip } from '../support/zip-reader';

const ALICE = 'alice-key-0123456789abcdef';
const BOB = 'bob-key-0123456789abcdef';
const as = (key: string) => ({ 'x-api-key': key });

const STORY = [
  'Mara found the lantern in the attic. It glowed the moment Tom touched it.',
  'The next morning, Mara and Tom followed its light into the forest.',
  'At dusk they reached the tower, and Mara climbed the stairs with the lantern raised high.',
].join('\n\n');

type Version = {
  version: number;
  status: string;
  image_url: string | null;
  image_prompt: string;
  seed: number | null;
  created_at: string;
};
type Scene = {
  index: number;
  title: string;
  description: string;
  image_prompt: string;
  status: string;
  image_url: string | null;
  seed: number | null;
  version: number;
  versions: Version[];
};
type Status = {
  status: string;
  phase: string;
  error: string | null;
  warnings: string[];
  progress: { current_step: number; total_steps: number };
  download_status: string;
  scenes: Scene[];
};

describe('directing scenes: edit, regenerate, select, export (offline)', () => {
  let t: TestApp;
  let id: string;
  const url = (path: string) => `${t.url}/sessions/${id}/scenes/${path}`;
  const status = async (key = ALICE) =>
    (await request<Status>(`${t.url}/status/${id}`, { headers: as(key) })).body;
  const post = (path: string, json?: unknown, key = ALICE) =>
    request<Record<string, unknown>>(url(path), { method: 'POST', headers: as(key), json });
  const patch = (path: string, json: unknown, key = ALICE) =>
    request<Record<string, unknown>>(url(path), { method: 'PATCH', headers: as(key), json });
  const untilSettled = () => pollUntil(status, (s) => s.status !== 'processing');
  /** The render queue, paused so that a regeneration stays "rendering" until it is resumed. */
  const renders = () => t.app.get<Queue>(getQueueToken(QueueName.Generation), { strict: false });
  /** A completed session of its own, for tests that must not change the shared one. */
  const anotherSession = async (numScenes: number) => {
    const res = await request<{ session_id: string }>(`${t.url}/generate`, {
      method: 'POST',
      headers: as(ALICE),
      json: { story_text: STORY, num_scenes: numScenes },
    });
    const other = res.body.session_id;
    const statusOf = async () =>
      (await request<Status>(`${t.url}/status/${other}`, { headers: as(ALICE) })).body;
    expect((await pollUntil(statusOf, (s) => s.status !== 'processing')).status).toBe('completed');
    const regenerate = (index: number) =>
      request(`${t.url}/sessions/${other}/scenes/${index}/regenerate`, {
        method: 'POST',
        headers: as(ALICE),
      });
    return { other, statusOf, regenerate };
  };
  const bytesOf = async (imageUrl: string) => {
    const res = await fetch(imageUrl);
    expect(res.status).toBe(200);
    return Buffer.from(await res.arrayBuffer());
  };

  beforeAll(async () => {
    t = await startTestApp({ API_KEYS: `alice:${ALICE},bob:${BOB}`, MAX_VERSIONS_PER_SCENE: '3' });
    const res = await request<{ session_id: string }>(`${t.url}/generate`, {
      method: 'POST',
      headers: as(ALICE),
      json: { story_text: STORY, num_scenes: 3 },
    });
    expect(res.status).toBe(200);
    id = res.body.session_id;
    expect((await untilSettled()).status).toBe('completed');
  });
  afterAll(() => t.close());

  it('starts every scene at version 1 with one version', async () => {
    const { scenes } = await status();
    expect(scenes).toHaveLength(3);
    for (const scene of scenes) {
      expect(scene.version).toBe(1);
      expect(scene.versions).toEqual([
        {
          version: 1,
          status: 'done',
          image_url: scene.image_url,
          image_prompt: scene.image_prompt,
          seed: scene.seed,
          created_at: expect.any(String),
        },
      ]);
    }
  });

  it('stores an edit without rendering, and answers with the scene', async () => {
    const before = (await status()).scenes[1];
    const res = await patch('1', {
      title: 'The forest path',
      image_prompt: 'a lantern-lit forest path at dawn',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      index: 1,
      title: 'The forest path',
      description: before.description,
      image_prompt: 'a lantern-lit forest path at dawn',
      status: 'done',
      version: 1,
      image_url: before.image_url,
    });
    // The version keeps the prompt it was rendered with.
    expect((res.body.versions as Version[])[0].image_prompt).toBe(before.image_prompt);
    const after = await status();
    expect(after.status).toBe('completed');
    expect(after.scenes[1]).toMatchObject({
      title: 'The forest path',
      version: 1,
      image_url: before.image_url,
    });
  });

  it('refuses bad edits: unknown fields, blank or non-text values, bad indices, other keys', async () => {
    expectEnvelope(await patch('1', { colour: 'red' }), 400);
    expectEnvelope(await patch('1', { title: '   ' }), 400);
    expectEnvelope(await patch('1', { image_prompt: 42 }), 400);
    expectEnvelope(await patch('1', { description: 'x'.repeat(50_001) }), 400);
    expectEnvelope(await patch('one', { title: 'A title' }), 400);
    expectEnvelope(await patch('7', { title: 'A title' }), 404);
    expectEnvelope(await patch('1', { title: 'A title' }, BOB), 404);
    const form = await request(url('1'), {
      method: 'PATCH',
      headers: { ...as(ALICE), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'title=A+title',
    });
    expectEnvelope(form, 415);
    expect((await status()).scenes[1].title).toBe('The forest path');
  });

  it('regenerates a scene as version 2: processing meanwhile, completed after, other scenes untouched', async () => {
    const before = await status();
    const v1Bytes = await bytesOf(before.scenes[1].image_url as string);
    await renders().pause();
    let res;
    try {
      res = await post('1/regenerate', { seed: 4242 });
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ session_id: id, index: 1, version: 2, status: 'rendering' });

      const meanwhile = await status();
      expect(meanwhile).toMatchObject({ status: 'processing', phase: 'rendering' });
      expect(meanwhile.progress.current_step).toBe(before.progress.current_step);
      expect(meanwhile.scenes[1]).toMatchObject({ status: 'rendering', version: 2, image_url: null });
      expect(meanwhile.scenes[1].versions.map((v) => [v.version, v.status])).toEqual([
        [1, 'done'],
        [2, 'rendering'],
      ]);
      // While it renders: no second regeneration, no edit, no select, no approval.
      expectEnvelope(await post('1/regenerate'), 409);
      expectEnvelope(await patch('1', { title: 'Another' }), 409);
      expectEnvelope(await post('1/select', { version: 1 }), 409);
      const approve = await request(`${t.url}/approve`, {
        method: 'POST',
        headers: as(ALICE),
        json: { session_id: id, approved_scenes: [0] },
      });
      expectEnvelope(approve, 409);
    } finally {
      await renders().resume();
    }

    const after = await untilSettled();
    expect(after).toMatchObject({ status: 'completed', phase: 'awaiting_approval', error: null });
    expect(after.progress.current_step).toBe(after.progress.total_steps);
    const scene = after.scenes[1];
    expect(scene).toMatchObject({
      status: 'done',
      version: 2,
      seed: 4242,
      image_prompt: 'a lantern-lit forest path at dawn',
    });
    expect(scene.image_url).toMatch(/\/static\/[0-9a-f-]{36}\/renders\/scene_02_v2\.png\?/);
    expect(scene.versions).toEqual([
      expect.objectContaining({ version: 1, status: 'done', image_url: before.scenes[1].image_url }),
      expect.objectContaining({
        version: 2,
        status: 'done',
        image_url: scene.image_url,
        image_prompt: 'a lantern-lit forest path at dawn',
        seed: 4242,
      }),
    ]);
    // A new image under a key of its own; the first one is still served.
    const v2Bytes = await bytesOf(scene.image_url as string);
    expect(v2Bytes.equals(v1Bytes)).toBe(false);
    expect((await bytesOf(before.scenes[1].image_url as string)).equals(v1Bytes)).toBe(true);
    // Other scenes untouched.
    for (const i of [0, 2]) expect(after.scenes[i]).toEqual(before.scenes[i]);
  });

  it('selects a version, which is shown, approved and exported', async () => {
    const v3 = await post('1/regenerate', { image_prompt: 'the forest path under snow' });
    expect(v3.status).toBe(202);
    expect(v3.body.version).toBe(3);
    const rendered = await untilSettled();
    expect(rendered.scenes[1]).toMatchObject({ version: 3, status: 'done', seed: 4242 });
    // MAX_VERSIONS_PER_SCENE=3: a fourth is refused, nothing changes.
    expectEnvelope(await post('1/regenerate'), 409);
    expect((await status()).scenes[1].versions).toHaveLength(3);

    expectEnvelope(await post('1/select', { version: 9 }), 404);
    expectEnvelope(await post('1/select', { version: 0 }), 400);
    expectEnvelope(await post('1/select', { version: 2 }, BOB), 404);
    const selected = await post('1/select', { version: 2 });
    expect(selected.status).toBe(200);
    expect(selected.body).toMatchObject({
      index: 1,
      version: 2,
      status: 'done',
      seed: 4242,
      image_prompt: 'a lantern-lit forest path at dawn',
    });
    const shown = await status();
    expect(shown.status).toBe('completed');
    const v2 = shown.scenes[1];
    expect(v2.version).toBe(2);
    expect(v2.versions.map((v) => v.version)).toEqual([1, 2, 3]);
    expect(v2.image_url).toBe(v2.versions[1].image_url);
    const v2Bytes = await bytesOf(v2.image_url as string);
    expect(v2Bytes.equals(await bytesOf(v2.versions[2].image_url as string))).toBe(false);

    const approve = await request(`${t.url}/approve`, {
      method: 'POST',
      headers: as(ALICE),
      json: { session_id: id, approved_scenes: [0, 1] },
    });
    expect(approve.status).toBe(200);
    const downloaded = await pollUntil(status, (s) => s.download_status !== 'started');
    expect(downloaded.download_status).toBe('completed');

    const zip = await fetch(`${t.url}/download`, {
      method: 'POST',
      headers: as(ALICE),
      body: new URLSearchParams({ session_id: id }),
    });
    expect(zip.status).toBe(200);
    const entries = await readZip(Buffer.from(await zip.arrayBuffer()));
    const image = entries.find((e) => e.name === 'images/scene_02.png');
    expect(image?.data.equals(v2Bytes)).toBe(true);
    const manifest = JSON.parse(entries.find((e) => e.name === 'scenes.json')!.data.toString('utf8')) as {
      index: number;
      version: number;
      seed: number;
      prompt: string;
    }[];
    expect(manifest.map((m) => [m.index, m.version])).toEqual([
      [0, 1],
      [1, 2],
    ]);
    expect(manifest[1]).toMatchObject({ seed: 4242, prompt: 'a lantern-lit forest path at dawn' });

    // Approved: nothing changes any more.
    expectEnvelope(await patch('0', { title: 'Too late' }), 409);
    expectEnvelope(await post('0/regenerate'), 409);
    expectEnvelope(await post('1/select', { version: 1 }), 409);
  });

  it('finalises once after concurrent regenerations of different scenes, when the last one ends', async () => {
    const { statusOf, regenerate } = await anotherSession(3);
    await renders().pause();
    try {
      const answers = await Promise.all([regenerate(0), regenerate(2)]);
      expect(answers.map((a) => a.status)).toEqual([202, 202]);
      const meanwhile = await statusOf();
      expect(meanwhile.status).toBe('processing');
      expect(meanwhile.scenes.map((s) => s.status)).toEqual(['rendering', 'done', 'rendering']);
    } finally {
      await renders().resume();
    }
    const after = await pollUntil(statusOf, (s) => s.status !== 'processing');
    expect(after).toMatchObject({ status: 'completed', phase: 'awaiting_approval', warnings: [] });
    expect(after.scenes.map((s) => [s.status, s.version])).toEqual([
      ['done', 2],
      ['done', 1],
      ['done', 2],
    ]);
    // Without a new prompt or seed, a version renders with the current ones.
    expect(after.scenes[0].seed).toBe(after.scenes[0].versions[0].seed);
    expect(after.scenes[0].image_prompt).toBe(after.scenes[0].versions[0].image_prompt);
  });

  it('drops a late failure report of the version a regeneration replaced: it ends neither the scene nor the session', async () => {
    const { other, statusOf, regenerate } = await anotherSession(2);
    await renders().pause();
    try {
      expect((await regenerate(1)).status).toBe(202);
      // What the first render's failure event writes when it arrives after the regeneration was asked for
      // (it read the session before): the scene is still rendering, one render is left.
      const store = t.app.get(SessionStore);
      const late = {
        version: 1,
        status: 'failed' as const,
        attempts: 3,
        error: 'Rendering did not complete',
      };
      expect(await store.saveRender(other, 1, late)).toBe(1);
      expect((await statusOf()).scenes[1]).toMatchObject({ status: 'rendering', version: 2, error: null });
    } finally {
      await renders().resume();
    }
    const after = await pollUntil(statusOf, (s) => s.status !== 'processing');
    expect(after).toMatchObject({ status: 'completed', error: null, warnings: [] });
    expect(after.scenes.map((s) => [s.status, s.version])).toEqual([
      ['done', 1],
      ['done', 2],
    ]);
  });

  it('answers 404 for an unknown session and 400 for a malformed one', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    const res = await request(`${t.url}/sessions/${unknown}/scenes/0/regenerate`, {
      method: 'POST',
      headers: as(ALICE),
    });
    expectEnvelope(res, 404);
    expectEnvelope(
      await request(`${t.url}/sessions/not-a-uuid/scenes/0/regenerate`, {
        method: 'POST',
        headers: as(ALICE),
      }),
      400,
    );
    expectEnvelope(await post('0/regenerate', { seed: 0 }), 400);
    expectEnvelope(await post('0/regenerate', { seed: 2 ** 31 }), 400);
    expectEnvelope(await post('0/regenerate', { seed: 1.5 }), 400);
    expectEnvelope(await post('0/regenerate', { image_prompt: '' }), 400);
    expectEnvelope(await post('0/regenerate', { steps: 3 }), 400);
  });
});

describe('directing scenes in live mode, against the fake providers', () => {
  let openrouter: FakeOpenRouter;
  let runware: FakeRunware;
  let t: TestApp;
  const statusOf = async (id: string) => (await request<Status>(`${t.url}/status/${id}`)).body;
  const settle = (id: string) =>
    pollUntil(
      () => statusOf(id),
      (s) => s.status !== 'processing',
      20_000,
    );
  const regenerate = (id: string, index: number, json?: unknown) =>
    request<Record<string, unknown>>(`${t.url}/sessions/${id}/scenes/${index}/regenerate`, {
      method: 'POST',
      json,
    });
  const generate = async () => {
    const res = await request<{ session_id: string }>(`${t.url}/generate`, {
      method: 'POST',
      json: { story_text: STORY, num_scenes: 3 },
    });
    expect(res.status).toBe(200);
    return res.body.session_id;
  };

  beforeAll(async () => {
    openrouter = await startFakeOpenRouter({ apiKey: 'sk-or-v1-SCENES-TEST-1' });
    runware = await startFakeRunware({ apiKey: 'rw-SCENES-TEST-1' });
    t = await startTestApp({
      ...liveProviderVars(openrouter, runware, {
        openrouter: 'sk-or-v1-SCENES-TEST-1',
        runware: 'rw-SCENES-TEST-1',
      }),
      OPENROUTER_TIMEOUT_MS: '3000',
      RUNWARE_TIMEOUT_MS: '3000',
      JOB_ATTEMPTS: '3',
      PROVIDER_OUTAGE_TOLERANCE_SECONDS: '0',
      // The regeneration's task is found by counting the fake's tasks; no portraits among them.
      CAST_PORTRAITS_MAX: '0',
    });
  });
  beforeEach(() => {
    openrouter.reset();
    runware.reset();
  });
  afterAll(async () => {
    await t.close();
    await openrouter.close();
    await runware.close();
  });

  it('renders a regeneration with the new seed and prompt through Runware, and completes again', async () => {
    const id = await generate();
    const first = await settle(id);
    expect(first.status).toBe('completed');
    const tasksBefore = runware.stats.imageTasks.length;
    expect(tasksBefore).toBe(3);

    const res = await regenerate(id, 2, { seed: 777, image_prompt: 'a lighthouse at night, stormy sea' });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ version: 2, status: 'rendering' });
    const again = await settle(id);
    expect(again).toMatchObject({ status: 'completed', phase: 'awaiting_approval', error: null });

    // One more task, for that scene only, with the new seed and prompt.
    const tasks = runware.stats.imageTasks.slice(tasksBefore);
    expect(tasks).toHaveLength(1);
    expect(tasks[0].seed).toBe(777);
    expect(String(tasks[0].positivePrompt)).toContain('a lighthouse at night, stormy sea');
    const scene = again.scenes[2];
    expect(scene).toMatchObject({ status: 'done', version: 2, seed: 777 });
    // Live versions keep the provider's URL; the first one is still listed with its own.
    expect(scene.image_url).toContain(runware.imageHost);
    expect(scene.versions.map((v) => v.image_url)).toEqual([first.scenes[2].image_url, scene.image_url]);
    expect(scene.image_url).not.toBe(first.scenes[2].image_url);
    expect(again.scenes.slice(0, 2)).toEqual(first.scenes.slice(0, 2));
  });

  it('repairs a session whose every scene failed by regenerating its scenes', async () => {
    runware.set({ fault: 'invalidApiKey' });
    const id = await generate();
    const failed = await settle(id);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/Every scene failed/);
    runware.reset();

    expect((await regenerate(id, 0)).status).toBe(202);
    const partly = await settle(id);
    // Repaired in part: completed, with the scenes still failed named in a warning.
    expect(partly).toMatchObject({ status: 'completed', phase: 'awaiting_approval', error: null });
    expect(partly.scenes.map((s) => s.status)).toEqual(['done', 'failed', 'failed']);
    expect(partly.warnings.filter((w) => w.includes('failed to render'))).toEqual([
      expect.stringMatching(/^Scene\(s\) 2, 3 failed to render/),
    ]);

    // Held until both are asked for: a first one ending before the second is asked for would leave the
    // session finishing, and the second would rightly be told to try again (409).
    const renders = t.app.get<Queue>(getQueueToken(QueueName.Generation), { strict: false });
    await renders.pause();
    try {
      expect((await regenerate(id, 1)).status).toBe(202);
      expect((await regenerate(id, 2)).status).toBe(202);
    } finally {
      await renders.resume();
    }
    const whole = await settle(id);
    expect(whole.status).toBe('completed');
    expect(whole.scenes.map((s) => [s.status, s.version])).toEqual([
      ['done', 2],
      ['done', 2],
      ['done', 2],
    ]);
    expect(whole.warnings.filter((w) => w.includes('failed to render'))).toEqual([]);
  });
});

describe('editing scenes from a browser app', () => {
  it('allows PATCH in the CORS preflight of a configured origin', async () => {
    const t = await startTestApp({ CORS_ORIGINS: 'https://storyboard.example.com' });
    try {
      const preflight = await fetch(`${t.url}/sessions/00000000-0000-4000-8000-000000000000/scenes/0`, {
        method: 'OPTIONS',
        headers: {
          origin: 'https://storyboard.example.com',
          'access-control-request-method': 'PATCH',
          'access-control-request-headers': 'content-type',
        },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('https://storyboard.example.com');
      expect(preflight.headers.get('access-control-allow-methods')?.split(',')).toContain('PATCH');
    } finally {
      await t.close();
    }
  });
});
