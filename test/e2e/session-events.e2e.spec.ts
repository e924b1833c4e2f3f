import type Redis from 'ioredis';
import { SessionEventHub } from '../../src/events/session-event-hub';
import { SessionStore } from '../../src/sessions/session.store';
import { envelopeProblem, request } from '../support/http-client';
import { freePort, ServiceProcess, waitForHttp } from '../support/service-process';
import { SseClient } from '../support/sse-client';
import { startTestApp } from '../support/test-app';
import { pollUntil, TestEnv } from '../support/test-env';

const ALICE = 'alice-key-7f3a9c2e51';
const BOB = 'bob-key-0d4e8b6a93c1';
const AS_ALICE = { 'x-api-key': ALICE };
const STORY = [
  'Ada rows out to the lighthouse at dawn. The lamp has gone dark for the first time in a century.',
  'Inside, Ada finds the keeper asleep over his charts. Together they climb the spiral stairs.',
  'At the top they light the lamp again, and the fishing boats turn for home.',
].join('\n\n');
const NUM_SCENES = 3;
const HEARTBEAT_MS = 300;

type Scene = { index: number; status: string; image_url: string | null };
type Snapshot = { session_id: string; status: string; phase: string; scenes: Scene[] };

/**
 * GET /status/{id}/events with the API and the worker as separate processes (compiled service): every
 * change the stream reports is written by the worker process and reaches the API process over Redis.
 */
describe('live progress over server-sent events (API and worker processes)', () => {
  const env = new TestEnv();
  let api: ServiceProcess;
  let shortLivedApi: ServiceProcess;
  let worker: ServiceProcess | undefined;
  let url: string;
  let apiPort: number;
  let shortLivedUrl: string;
  const streams: SseClient[] = [];

  const vars = (port: number, extra: Record<string, string> = {}) =>
    env.vars({
      PORT: String(port),
      HOST: '127.0.0.1',
      API_KEYS: `alice:${ALICE},bob:${BOB}`,
      SSE_HEARTBEAT_MS: String(HEARTBEAT_MS),
      ...extra,
    });
  const connect = async (base: string, id: string, headers: Record<string, string> = AS_ALICE) => {
    const stream = await SseClient.connect(`${base}/status/${id}/events`, headers);
    streams.push(stream);
    return stream;
  };
  const generate = async (base: string) => {
    const res = await request<{ session_id: string }>(`${base}/generate`, {
      method: 'POST',
      headers: AS_ALICE,
      json: { story_text: STORY, media_type: 'cartoon', num_scenes: NUM_SCENES },
    });
    expect(res.status).toBe(200);
    return res.body.session_id;
  };
  const startWorker = async () => {
    worker ??= new ServiceProcess('worker', { ...vars(apiPort), ROLE: 'worker' });
    await worker.waitForOutput('Worker started');
  };

  beforeAll(async () => {
    apiPort = await freePort();
    url = `http://127.0.0.1:${apiPort}`;
    api = new ServiceProcess('api', { ...vars(apiPort), ROLE: 'api' });
    await waitForHttp(`${url}/health/ready`, 20_000, api);
    // A second API replica whose sessions expire after 3.6 s (rounded up to 4 s).
    const shortPort = await freePort();
    shortLivedUrl = `http://127.0.0.1:${shortPort}`;
    shortLivedApi = new ServiceProcess('short-lived-api', {
      ...vars(shortPort, { SESSION_TTL_HOURS: '0.001' }),
      ROLE: 'api',
    });
    await waitForHttp(`${shortLivedUrl}/health/ready`, 20_000, shortLivedApi);
  });

  afterAll(async () => {
    streams.forEach((stream) => stream.close());
    await Promise.allSettled([api, shortLivedApi, worker].map((p) => p?.stop('SIGKILL')));
    await env.cleanup();
  });

  let sessionId: string;
  let lastId: string;

  it('sends a snapshot, then scene events, then the completed status, all written by the worker process', async () => {
    // No worker runs yet: the session waits in the queue while the stream opens.
    sessionId = await generate(url);
    const stream = await connect(url, sessionId);
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(stream.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(stream.headers.get('x-accel-buffering')).toBe('no');
    await stream.waitFor((events) => events.length >= 1);
    expect(stream.events[0].event).toBe('snapshot');
    const snapshot = JSON.parse(stream.events[0].data) as Snapshot;
    expect(snapshot).toMatchObject({
      session_id: sessionId,
      status: 'processing',
      phase: 'queued',
      scenes: [],
    });

    await startWorker();
    const events = await stream.waitFor((all) =>
      all.some(
        (e) => e.event === 'status' && (JSON.parse(e.data) as { status: string }).status !== 'processing',
      ),
    );
    const statuses = stream.data<{ status: string; phase: string; error: string | null }>('status');
    expect(statuses.at(-1)).toEqual({ status: 'completed', phase: 'awaiting_approval', error: null });
    // Phases only move forward. A stream sends what changed since its last event, so a phase that lasts
    // less than one notice (planning with the offline planner) may be skipped; the order never breaks.
    const lifecycle = ['queued', 'planning', 'casting', 'rendering', 'awaiting_approval'];
    const seen = statuses.map((s) => lifecycle.indexOf(s.phase));
    expect(seen.every((at, i) => at >= 0 && (i === 0 || at >= seen[i - 1]))).toBe(true);
    // The portraits of the casting step came as `cast` events, all drawn before the first scene was done.
    const casts = events.filter((e) => e.event === 'cast');
    const portraits =
      casts.length > 0 ? (JSON.parse(casts.at(-1)!.data) as { cast: { status: string }[] }).cast : [];
    const drawn = portraits.filter((member) => member.status === 'done').length;
    expect(drawn).toBeGreaterThan(0);
    const allDrawn = events.findIndex(
      (e) =>
        e.event === 'cast' &&
        (JSON.parse(e.data) as { cast: { status: string }[] }).cast.filter((m) => m.status === 'done')
          .length === drawn,
    );
    const firstSceneDone = events.findIndex(
      (e) => e.event === 'scene' && (JSON.parse(e.data) as Scene).status === 'done',
    );
    expect(allDrawn).toBeGreaterThanOrEqual(0);
    expect(allDrawn).toBeLessThan(firstSceneDone);

    // Scene events come before the status that completes the session, and end with every scene done.
    const completedAt = events.findIndex((e) => e.event === 'status' && e.data.includes('"completed"'));
    const scenes = events.slice(0, completedAt).filter((e) => e.event === 'scene');
    expect(scenes.length).toBeGreaterThanOrEqual(NUM_SCENES);
    const lastOfEach = new Map<number, Scene>();
    for (const e of scenes) {
      const scene = JSON.parse(e.data) as Scene;
      lastOfEach.set(scene.index, scene);
    }
    expect([...lastOfEach.keys()].sort()).toEqual([0, 1, 2]);
    for (const scene of lastOfEach.values()) {
      expect(scene.status).toBe('done');
      // Signed like GET /status's URLs: a plain GET (an <img> tag, no key) loads the image.
      expect(scene.image_url).toMatch(/\/static\/.+\?expires=\d+&signature=/);
      expect((await fetch(scene.image_url!)).status).toBe(200);
    }
    expect(stream.data<{ current_step: number; total_steps: number }>('progress').at(-1)).toMatchObject({
      current_step: NUM_SCENES + drawn + 2,
      total_steps: NUM_SCENES + drawn + 2,
    });

    // Every event has an id (the session's version), never decreasing; the stream agrees with GET /status.
    const ids = events.map((e) => Number(e.id));
    expect(ids.every((id, i) => Number.isInteger(id) && id > 0 && (i === 0 || id >= ids[i - 1]))).toBe(true);
    const status = await request<Snapshot>(`${url}/status/${sessionId}`, { headers: AS_ALICE });
    expect(status.body.status).toBe('completed');
    lastId = events.at(-1)!.id;
    stream.close();
  });

  it('answers a reconnect with Last-Event-ID with a snapshot, then the later events', async () => {
    const stream = await connect(url, sessionId, { ...AS_ALICE, 'last-event-id': lastId });
    expect(stream.status).toBe(200);
    await stream.waitFor((events) => events.length >= 1);
    expect(stream.events[0].event).toBe('snapshot');
    expect(Number(stream.events[0].id)).toBeGreaterThanOrEqual(Number(lastId));
    expect(JSON.parse(stream.events[0].data)).toMatchObject({
      status: 'completed',
      download_status: 'not_started',
    });

    const approve = await request(`${url}/approve`, {
      method: 'POST',
      headers: AS_ALICE,
      json: { session_id: sessionId, approved_scenes: [0, 2] },
    });
    expect(approve.status).toBe(200);
    await stream.waitFor((events) =>
      events.some((e) => e.event === 'download' && e.data.includes('"download_status":"completed"')),
    );
    const downloads = stream.data<{
      download_status: string;
      scenes: { index: number; download: unknown }[];
    }>('download');
    expect(downloads[0].download_status).toBe('started');
    const last = downloads.at(-1)!;
    expect(last.scenes.map((s) => s.index)).toEqual([0, 2]);
    for (const scene of last.scenes) {
      expect(scene.download).toMatchObject({ status: 'done', file_url: expect.stringMatching(/signature=/) });
    }
    // The events after the snapshot are newer than it.
    const ids = stream.events.map((e) => Number(e.id));
    expect(ids.slice(1).every((id) => id > ids[0])).toBe(true);
  });

  it('sends a heartbeat comment while nothing changes', async () => {
    const stream = await connect(url, sessionId);
    await pollUntil(
      async () => stream.comments.length,
      (count) => count >= 2,
      5_000,
    );
    expect(stream.comments[0]).toBe('heartbeat');
    expect(stream.ended).toBe(false);
  });

  it("answers 404 for another key's session, 400 for a malformed id and 401 without a key", async () => {
    const problem = (stream: SseClient, status: number) =>
      envelopeProblem({ status: stream.status, headers: stream.headers, body: stream.body }, status);
    expect(problem(await connect(url, sessionId, { 'x-api-key': BOB }), 404)).toBeNull();
    expect(problem(await connect(url, '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f'), 404)).toBeNull();
    expect(problem(await connect(url, 'not-a-uuid'), 400)).toBeNull();
    const anonymous = await connect(url, sessionId, {});
    expect(anonymous.status).toBe(401);
  });

  it('ends the stream with an expired event when the session expires', async () => {
    // Created through the short-lived replica, streamed from the other one.
    const id = await generate(shortLivedUrl);
    const stream = await connect(url, id);
    expect(stream.status).toBe(200);
    await pollUntil(
      async () => stream.ended,
      (ended) => ended,
      15_000,
    );
    expect(stream.events[0].event).toBe('snapshot');
    expect(stream.events.at(-1)).toMatchObject({
      event: 'expired',
      data: JSON.stringify({ session_id: id }),
    });
    const again = await connect(url, id);
    expect(again.status).toBe(404);
  });

  it('ends its streams on SIGTERM, so the API process drains at once', async () => {
    const stream = await connect(url, sessionId);
    await stream.waitFor((events) => events.length >= 1);
    const { ms } = await api.stop('SIGTERM', 20_000);
    expect(stream.ended).toBe(true);
    expect(api.output).toContain('Shut down cleanly after SIGTERM');
    // Well within SHUTDOWN_TIMEOUT_MS (25 s), which would cut a stream still open.
    expect(ms).toBeLessThan(10_000);
  });
});

describe('live progress when the subscriber connection drops (in-process API)', () => {
  it('reads the session again after reconnecting, so a change made meanwhile still arrives', async () => {
    const t = await startTestApp();
    try {
      const id = '5a0c6e1d-2b3f-4a4e-9d5c-6b7a8c9d0e1f';
      const sessions = t.app.get(SessionStore);
      await sessions.create({
        id,
        owner: null,
        media_type: 'cartoon',
        requested_scenes: 1,
        story: 'S.',
        seed: 1,
      });
      const live = await SseClient.connect(`${t.url}/status/${id}/events`);
      await live.waitFor((events) => events.length >= 1);
      // The notice of this write is published while the subscriber is away, and lost.
      const subscriber = t.app.get(SessionEventHub)['subscriber'] as Redis;
      subscriber.disconnect(true);
      await sessions.update(id, { phase: 'planning' });
      const events = await live.waitFor((all) => all.some((e) => e.event === 'status'), 10_000);
      expect(JSON.parse(events.find((e) => e.event === 'status')!.data)).toEqual({
        status: 'processing',
        phase: 'planning',
        error: null,
      });
      live.close();
    } finally {
      await t.close();
    }
  });
});
