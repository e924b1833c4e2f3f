import { SessionStore } from '../../src/sessions/session.store';
import { startFakeOpenRouter, FakeOpenRouter } from '../support/fake-openrouter';
import { startFakeRunware, FakeRunware } from '../support/fake-runware';
import { request } from '../support/http-client';
import { liveProviderVars } from '../support/live-vars';
import { startTestApp, TestApp } from '../support/test-app';
import { pollUntil } from '../support/test-env';
import { readZip } from '../support/zip-reader';

/**
 * Casting in live mode: the real @runware/sdk-js client against the fake Runware, which records the
 * references each task carries and can refuse them or fail a portrait.
 */

const OPENROUTER_KEY = 'or-test-key-0123456789';
const RUNWARE_KEY = 'rw-test-key-0123456789';
const STORY = [
  'Mara found the lantern in the attic. It glowed the moment Tom touched it.',
  'The next morning, Mara and Tom followed its light into the forest.',
  'At dusk Mara climbed the tower stairs alone, the lantern raised high.',
].join('\n\n');

type Status = {
  status: string;
  phase: string;
  warnings: string[];
  download_status: string;
  cast: { name: string; status: string; error: string | null; image_url: string | null }[];
  scenes: { index: number; characters: string[]; references: { name: string; version: number }[] }[];
};

const isPortraitTask = (task: { positivePrompt: unknown }) =>
  String(task.positivePrompt).includes('Character reference sheet');

/** Starts a session of STORY and waits for its end, calling `during` on each status read until it is true. */
async function generateIn(
  t: TestApp,
  during?: (s: Status) => boolean,
): Promise<{ id: string; done: Status }> {
  const res = await request<{ session_id: string }>(`${t.url}/generate`, {
    method: 'POST',
    json: { story_text: STORY, num_scenes: 3, media_type: 'cinematic' },
  });
  expect(res.status).toBe(200);
  const id = res.body.session_id;
  const read = async () => (await request<Status>(`${t.url}/status/${id}`)).body;
  if (during) await pollUntil(read, during);
  const done = await pollUntil(read, (s) => s.status !== 'processing');
  return { id, done };
}

/** The service in live mode against fakes of its own, started before and stopped after the describe. */
function liveStage(): { openrouter: FakeOpenRouter; runware: FakeRunware; t: TestApp } {
  const stage = {} as { openrouter: FakeOpenRouter; runware: FakeRunware; t: TestApp };
  beforeAll(async () => {
    stage.openrouter = await startFakeOpenRouter({ apiKey: OPENROUTER_KEY });
    stage.runware = await startFakeRunware({ apiKey: RUNWARE_KEY });
    stage.t = await startTestApp({
      ...liveProviderVars(stage.openrouter, stage.runware, {
        openrouter: OPENROUTER_KEY,
        runware: RUNWARE_KEY,
      }),
      JOB_ATTEMPTS: '1',
    });
  });
  afterAll(async () => {
    await stage.t.close();
    await Promise.all([stage.openrouter.close(), stage.runware.close()]);
  });
  return stage;
}

describe('casting against the fake Runware', () => {
  const stage = liveStage();
  let runware: FakeRunware;
  let t: TestApp;
  beforeAll(() => ({ runware, t } = stage));
  beforeEach(() => runware.reset());

  const generate = (during?: (s: Status) => boolean) => generateIn(t, during);

  /** The fake's tasks since `from`: portraits are the ones asking for a reference sheet. */
  const tasksSince = (from: number) => runware.stats.imageTasks.slice(from);

  it('renders the portraits first, then each scene with exactly its characters’ portraits as IP-Adapter guides', async () => {
    const from = runware.stats.imageTasks.length;
    // Each image takes 300 ms, so the casting phase lasts long enough to be seen: queued → planning →
    // casting (progress counting the planned step, then the portraits) → rendering → awaiting_approval.
    runware.set({ latencyMs: 300 });
    const phases: string[] = [];
    const { id, done } = await generate((s) => {
      if (phases.at(-1) !== s.phase) phases.push(s.phase);
      return s.status !== 'processing';
    });
    expect(phases.filter((p) => p !== 'queued' && p !== 'planning')).toEqual([
      'casting',
      'rendering',
      'awaiting_approval',
    ]);
    expect(done.status).toBe('completed');
    expect(done.warnings).toEqual([]);
    expect(done.cast.map((m) => [m.name, m.status])).toEqual([
      ['Mara', 'done'],
      ['Tom', 'done'],
    ]);

    const tasks = tasksSince(from);
    const portraits = tasks.filter(isPortraitTask);
    const scenes = tasks.filter((task) => !isPortraitTask(task));
    expect(portraits).toHaveLength(2);
    expect(scenes).toHaveLength(3);
    // Every portrait task came before every scene task, and carried no reference itself.
    expect(Math.max(...portraits.map((p) => p.at))).toBeLessThanOrEqual(Math.min(...scenes.map((s) => s.at)));
    for (const portrait of portraits)
      expect([portrait.referenceImages, portrait.ipAdapters]).toEqual([undefined, undefined]);

    // The references are this session's portraits: the image UUIDs Runware gave for them.
    const record = (await t.app.get(SessionStore).get(id))!;
    const uuidOf = new Map(record.cast.map((m) => [m.name, m.portrait?.reference]));
    const portraitUuids = new Set(portraits.flatMap((p) => p.imageUUIDs));
    for (const member of record.cast) expect(portraitUuids.has(member.portrait!.reference!)).toBe(true);

    for (const scene of done.scenes) {
      const task = scenes.find((s) => String(s.positivePrompt) === record.scenes[scene.index].image_prompt);
      expect(task).toBeDefined();
      const guides = (
        (task!.ipAdapters ?? []) as { model: string; weight: number; guideImage: string }[]
      ).map((adapter) => {
        expect(adapter).toMatchObject({ model: 'runware:105@1', weight: 0.6 });
        return adapter.guideImage;
      });
      expect(guides).toEqual(scene.characters.map((name) => uuidOf.get(name)));
      expect(scene.references).toEqual(scene.characters.map((name) => ({ name, version: 1 })));
    }

    // Approved, the portraits are copied from Runware's image host into the export.
    await request(`${t.url}/approve`, { method: 'POST', json: { session_id: id, approved_scenes: [0, 1] } });
    await pollUntil(
      async () => (await request<Status>(`${t.url}/status/${id}`)).body,
      (s) => s.download_status !== 'started',
    );
    const zip = await fetch(`${t.url}/download`, {
      method: 'POST',
      body: new URLSearchParams({ session_id: id }),
    });
    const names = (await readZip(Buffer.from(await zip.arrayBuffer()))).map((e) => e.name);
    expect(names.filter((n) => n.startsWith('cast/')).sort()).toEqual(['cast/Mara.png', 'cast/Tom.png']);
  });

  it('keeps going when a portrait fails: a warning names the character, its scenes render from the text', async () => {
    // The casting step's tasks come first: the first one of them fails for good.
    runware.enqueue({ fault: 'invalidParameter' });
    const { id, done } = await generate();
    expect(done.status).toBe('completed');
    const failed = done.cast.filter((m) => m.status === 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0].error).toBeTruthy();
    const name = failed[0].name;
    expect(done.warnings).toEqual([expect.stringContaining(`The portrait of ${name} could not be rendered`)]);
    for (const scene of done.scenes) {
      expect(scene.references.map((r) => r.name)).toEqual(scene.characters.filter((c) => c !== name));
    }

    // Drawn again, it works this time, and the warning goes.
    const redraw = await request(`${t.url}/sessions/${id}/cast/${name}/regenerate`, { method: 'POST' });
    expect(redraw.status).toBe(202);
    const redrawn = await pollUntil(
      async () => (await request<Status>(`${t.url}/status/${id}`)).body,
      (s) => s.cast.find((m) => m.name === name)?.status === 'done',
    );
    expect(redrawn.warnings).toEqual([]);
  });

  it('keeps rendering scenes from the last portrait drawn while a redraw renders, and after it fails', async () => {
    const { id, done } = await generate();
    const record = (await t.app.get(SessionStore).get(id))!;
    const maraV1 = record.cast.find((m) => m.name === 'Mara')!.portrait!;
    // The redraw fails for good (the next task is the portrait's).
    runware.enqueue({ fault: 'invalidParameter' });
    const redraw = await request(`${t.url}/sessions/${id}/cast/Mara/regenerate`, {
      method: 'POST',
      json: { seed: 5 },
    });
    expect(redraw.status).toBe(202);
    const failed = await pollUntil(
      async () => (await request<Status>(`${t.url}/status/${id}`)).body,
      (s) => s.cast.find((m) => m.name === 'Mara')?.status === 'failed',
    );
    // The failed version shows its error, and the last portrait drawn is still shown and used.
    const mara = failed.cast.find((m) => m.name === 'Mara')!;
    expect(mara.error).toBeTruthy();
    expect(mara.image_url).toBe(done.cast.find((m) => m.name === 'Mara')!.image_url);
    const index = done.scenes.find((s) => s.characters.includes('Mara'))!.index;
    const before = runware.stats.imageTasks.length;
    expect(
      (await request(`${t.url}/sessions/${id}/scenes/${index}/regenerate`, { method: 'POST' })).status,
    ).toBe(202);
    const after = await pollUntil(
      async () => (await request<Status>(`${t.url}/status/${id}`)).body,
      (s) => s.status === 'completed' && s.scenes[index].references.length > 0,
    );
    expect(after.scenes[index].references).toContainEqual({ name: 'Mara', version: 1 });
    const task = runware.stats.imageTasks.slice(before).find((t) => !isPortraitTask(t))!;
    const guides = (task.ipAdapters as { guideImage: string }[]).map((a) => a.guideImage);
    expect(guides).toContain(maraV1.reference);
  });
});

describe('casting against a fake Runware that refuses references', () => {
  // An app of its own: its renderer remembers the refusal, which must not reach the tests above.
  const stage = liveStage();
  let runware: FakeRunware;
  let t: TestApp;
  beforeAll(() => ({ runware, t } = stage));

  const generate = () => generateIn(t);
  const tasksSince = (from: number) => runware.stats.imageTasks.slice(from);

  it('renders the scenes from text alone, with a warning, when the model refuses the references', async () => {
    runware.set({ refuseReferences: 'ip-adapters' });
    const from = runware.stats.imageTasks.length;
    const { done } = await generate();
    expect(done.status).toBe('completed');
    expect(done.warnings).toEqual([
      expect.stringMatching(/refused the cast portraits as references.*text-only/),
    ]);
    expect(done.scenes.every((scene) => scene.references.length === 0)).toBe(true);
    // A scene sent with its guides before the first refusal came back was tried again without them; once
    // refused, the renderer sends the model's scenes text-only straight away (it remembers the refusal).
    const scenes = tasksSince(from).filter((task) => !isPortraitTask(task));
    const withGuides = scenes.filter((task) => Array.isArray(task.ipAdapters));
    expect(withGuides.length).toBeGreaterThanOrEqual(1);
    expect(withGuides.length).toBeLessThanOrEqual(done.scenes.filter((s) => s.characters.length > 0).length);
    expect(scenes.length).toBe(done.scenes.length + withGuides.length);
    expect(runware.stats.referencesRefused).toBe(withGuides.length);

    // The next session of that model is rendered from text at once, with the same warning.
    const before = runware.stats.imageTasks.length;
    const next = await generate();
    expect(next.done.warnings).toEqual(done.warnings);
    expect(tasksSince(before).some((task) => Array.isArray(task.ipAdapters))).toBe(false);
  });
});
