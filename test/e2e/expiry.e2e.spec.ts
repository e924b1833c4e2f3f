import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { FakeOpenRouter, startFakeOpenRouter } from '../support/fake-openrouter';
import { FakeRunware, startFakeRunware } from '../support/fake-runware';
import { envelopeProblem, request } from '../support/http-client';
import { liveProviderVars } from '../support/live-vars';
import { startTestApp, TestApp } from '../support/test-app';
import { keysUnder, pollUntil, REDIS_URL } from '../support/test-env';

// The shortest TTL allowed: 3.6 s, which the store sets in whole seconds: 4 s.
const TTL_HOURS = 0.001;
const TTL_MS = Math.round(TTL_HOURS * 3600) * 1000;
const STORY = 'The kite rose over the dunes. The wind carried it out to sea.';

type Status = { status: string };

describe('session expiry (offline providers, real Redis TTLs, real housekeeping tick)', () => {
  let t: TestApp;
  const redis = new Redis(REDIS_URL);
  const sessionKey = (id: string) => `${t.env.prefix}:session:${id}`;
  const generate = async (headers: Record<string, string> = {}) => {
    const res = await request<{ session_id: string }>(`${t.url}/generate`, {
      method: 'POST',
      headers,
      json: { story_text: STORY, num_scenes: 2 },
    });
    expect(res.status).toBe(200);
    return res.body.session_id;
  };
  const expired = (id: string) =>
    pollUntil(
      () => redis.exists(sessionKey(id)),
      (n) => n === 0,
      15_000,
    );

  beforeAll(async () => {
    t = await startTestApp({ SESSION_TTL_HOURS: String(TTL_HOURS), HOUSEKEEPING_INTERVAL_MS: '200' });
  });
  afterAll(async () => {
    redis.disconnect();
    await t.close();
  });

  it('gives every key of a session SESSION_TTL_HOURS as its TTL', async () => {
    const started = Date.now();
    const id = await generate({ 'idempotency-key': randomUUID() });
    // Queue records (`:bull:`) follow BullMQ's retention; the index of all sessions is not a session's key.
    const keys = (await keysUnder(redis, t.env.prefix)).filter(
      (key) => !key.startsWith(`${t.env.prefix}:bull:`) && key !== `${t.env.prefix}:sessions`,
    );
    const ofSession: string[] = [];
    for (const key of keys) {
      const value = (await redis.type(key)) === 'string' ? await redis.get(key) : '';
      if (key.includes(id) || value?.includes(id)) ofSession.push(key);
    }
    expect(ofSession).toHaveLength(3);
    expect(ofSession).toEqual(
      expect.arrayContaining([
        sessionKey(id),
        `${t.env.prefix}:story:${id}`,
        expect.stringMatching(/:idem:/),
      ]),
    );
    const ttls = await Promise.all(ofSession.map(async (key) => ({ key, ttl: await redis.pttl(key) })));
    // Set when the session was created, so each has run down by at most the time elapsed since.
    const elapsed = Date.now() - started;
    expect(ttls.filter(({ ttl }) => ttl > TTL_MS || ttl < TTL_MS - elapsed)).toEqual([]);
  });

  it('answers 404 for an expired session on GET /status, /approve and /download; its Idempotency-Key is free', async () => {
    const key = randomUUID();
    const id = await generate({ 'idempotency-key': key });
    const done = await pollUntil(
      () => request<Status>(`${t.url}/status/${id}`),
      (res) => res.body.status !== 'processing',
    );
    expect(done.status).toBe(200);
    await expired(id);

    const answers = await Promise.all([
      request(`${t.url}/status/${id}`),
      request(`${t.url}/approve`, { method: 'POST', json: { session_id: id, approved_scenes: [0] } }),
      request(`${t.url}/download`, { method: 'POST', json: { session_id: id } }),
    ]);
    expect(answers.map((res) => envelopeProblem(res, 404))).toEqual([null, null, null]);

    const again = await generate({ 'idempotency-key': key });
    expect(again).not.toBe(id);
    expect((await request(`${t.url}/status/${again}`)).status).toBe(200);
  });

  it("removes an expired session's files and index entry on the housekeeping tick", async () => {
    const id = await generate();
    const folder = path.join(t.env.imageDir, id);
    await pollUntil(
      () => Promise.resolve(existsSync(path.join(folder, 'renders', 'scene_02.png'))),
      (found) => found,
    );
    const state = async () => ({
      folder: existsSync(folder),
      session: await redis.exists(sessionKey(id)),
      indexed: await redis.zscore(`${t.env.prefix}:sessions`, id),
    });
    // The files go only once Redis has expired the session, never before.
    const last = await pollUntil(state, (s) => !s.folder || s.indexed === null, 15_000);
    expect(last.session).toBe(0);
    expect(await pollUntil(state, (s) => !s.folder && s.indexed === null, 2_000)).toEqual({
      folder: false,
      session: 0,
      indexed: null,
    });
  });
});

describe('a job that finishes after its session expired (live providers against the fakes)', () => {
  let openrouter: FakeOpenRouter;
  let runware: FakeRunware;
  let t: TestApp;
  const redis = new Redis(REDIS_URL);
  let generation: Queue;

  beforeAll(async () => {
    openrouter = await startFakeOpenRouter({ apiKey: 'sk-or-expiry-test' });
    // Every image takes longer than the session lives.
    runware = await startFakeRunware({ apiKey: 'rw-expiry-test', behaviour: { latencyMs: TTL_MS + 2500 } });
    t = await startTestApp({
      ...liveProviderVars(openrouter, runware, {
        openrouter: 'sk-or-expiry-test',
        runware: 'rw-expiry-test',
      }),
      SESSION_TTL_HOURS: String(TTL_HOURS),
    });
    generation = new Queue('generation', { connection: redis, prefix: `${t.env.prefix}:bull` });
  });
  afterAll(async () => {
    await generation.close();
    redis.disconnect();
    await t.close();
    await Promise.all([openrouter.close(), runware.close()]);
  });

  it('does not bring the session back', async () => {
    const created = await request<{ session_id: string }>(`${t.url}/generate`, {
      method: 'POST',
      json: { story_text: STORY, num_scenes: 2 },
    });
    const id = created.body.session_id;
    const renders = () => Promise.all([0, 1].map((index) => generation.getJobState(`render-${id}-${index}`)));
    const ended = (states: string[]) => states.every((state) => state === 'completed' || state === 'failed');
    await pollUntil(
      () => Promise.resolve(runware.stats.imageTasks.length),
      (n) => n === 2,
      10_000,
    );

    await pollUntil(
      () => redis.exists(`${t.env.prefix}:session:${id}`),
      (n) => n === 0,
      15_000,
    );
    expect(ended(await renders())).toBe(false);
    // Both renders end, the last one finalising the session: all of it after the session expired.
    await pollUntil(renders, ended, 15_000);

    expect(envelopeProblem(await request(`${t.url}/status/${id}`), 404)).toBeNull();
    const left = (await keysUnder(redis, t.env.prefix)).filter(
      (key) => key.includes(id) && !key.startsWith(`${t.env.prefix}:bull:`),
    );
    expect(left).toEqual([]);
    expect(await redis.exists(`${t.env.prefix}:session:${id}`, `${t.env.prefix}:story:${id}`)).toBe(0);
  });
});
