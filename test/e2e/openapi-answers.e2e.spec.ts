import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ActiveSessionQuota } from '../../src/generation/active-session-quota';
import { RedisService } from '../../src/redis/redis.service';
import { SessionStore } from '../../src/sessions/session.store';
import { Answer, ContractClient, OpenApiDocument } from '../support/contract-client';
import { envelopeProblem, request } from '../support/http-client';
import { PrismProxy, responseViolations, startPrismProxy } from '../support/prism-proxy';
import { startTestApp, TestApp } from '../support/test-app';
import { pollUntil } from '../support/test-env';

const KEY = 'contract-key-5b1f0e';
const AUTH = { 'x-api-key': KEY };
const JSON_AUTH = { ...AUTH, 'content-type': 'application/json' };
const UNKNOWN_ID = '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f';
const STORY = [
  'Mara found a glowing lantern in the attic. She carried it down to the harbour at dusk.',
  'The lantern led Mara across the bay to an island nobody had mapped. There, Mara met Tomas.',
  'Tomas told Mara the lantern had been his. Together they lit the lighthouse again.',
].join('\n\n');

/** Documented answers no request here can provoke, and why. */
const NOT_PROVOKED: Record<string, string> = {
  '* 431': "Prism's own HTTP server refuses oversized headers before they could reach the service",
  '* 500': 'no request provokes an unexpected error',
  'generateStory 409': 'needs an identical request still creating its session after 5 s',
  'getDownloadedImage 503':
    'needs the image storage down; test/e2e/object-storage.e2e.spec.ts provokes it with a bucket taken away',
  'getRenderedImage 503':
    'needs the image storage down; test/e2e/object-storage.e2e.spec.ts provokes it with a bucket taken away',
};

type Scene = { image_url: string; download: { status: string; file_url: string } | null };
type Status = { status: string; download_status: string; scenes: Scene[] };

const json = (body: unknown) => JSON.stringify(body);
const expectEnvelopeOf = (answer: Answer, status: number) =>
  expect(
    envelopeProblem({ status: answer.status, headers: answer.headers, body: answer.json() }, status),
  ).toBeNull();

/**
 * Every answer of the flow, errors included, goes through Stoplight Prism as a validating proxy in front of
 * the real service, checked against the document the service serves. The last test fails when some answer
 * the document lists was never provoked, so new endpoints and statuses need a request here.
 */
describe('every answer conforms to the served OpenAPI document (Prism proxy)', () => {
  let t: TestApp;
  let limited: TestApp;
  let proxies: PrismProxy[] = [];
  let api: ContractClient;
  let limitedApi: ContractClient;
  let sessionId: string;
  let scenes: Scene[];

  const documentOf = async (app: TestApp) => (await request<OpenApiDocument>(`${app.url}/docs/json`)).body;

  beforeAll(async () => {
    [t, limited] = await Promise.all([
      startTestApp({ API_KEYS: KEY, DEBUG_MODE: 'true', MAX_ACTIVE_SESSIONS_PER_KEY: '1' }),
      startTestApp({ RATE_LIMIT_PER_MINUTE: '2' }),
    ]);
    proxies = await Promise.all([t, limited].map((app) => startPrismProxy(`${app.url}/docs/json`, app.url)));
    api = new ContractClient(proxies[0].url, await documentOf(t));
    limitedApi = new ContractClient(proxies[1].url, await documentOf(limited));
  });
  afterAll(async () => {
    await Promise.all(proxies.map((proxy) => proxy.close()));
    await Promise.all([t?.close(), limited?.close()]);
  });

  const status = (id: string) => api.send(`/status/${id}`, { headers: AUTH });
  const pollStatus = (id: string, done: (body: Status) => boolean) =>
    pollUntil(async () => (await status(id)).json<Status>(), done);

  it('generates, polls, approves and downloads as documented', async () => {
    const body = json({ story_text: STORY, media_type: 'cartoon', num_scenes: 3 });
    const started = await api.send('/generate', {
      method: 'POST',
      headers: { ...JSON_AUTH, 'idempotency-key': 'contract-flow-1' },
      body,
    });
    expect(started.status).toBe(200);
    sessionId = started.json<{ session_id: string }>().session_id;
    const repeated = await api.send('/generate', {
      method: 'POST',
      headers: { ...JSON_AUTH, 'idempotency-key': 'contract-flow-1' },
      body,
    });
    expect(repeated.json()).toEqual(started.json());

    const completed = await pollStatus(sessionId, (s) => s.status !== 'processing');
    expect(completed.status).toBe('completed');
    scenes = completed.scenes;
    // Not approved yet: every scene's download is null, the answer Prism rejected before.
    expect(scenes.map((scene) => scene.download)).toEqual([null, null, null]);
    const first = await status(sessionId);
    const unchanged = await api.send(`/status/${sessionId}`, {
      headers: { ...AUTH, 'if-none-match': first.headers.get('etag') ?? '' },
    });
    expect(unchanged.status).toBe(304);

    const early = await api.send('/download', {
      method: 'POST',
      headers: AUTH,
      body: new URLSearchParams({ session_id: sessionId }),
    });
    expectEnvelopeOf(early, 409);

    const approved = await api.send('/approve', {
      method: 'POST',
      headers: JSON_AUTH,
      body: json({ session_id: sessionId, approved_scenes: [0, 2] }),
    });
    expect(approved.status).toBe(200);
    const downloaded = await pollStatus(sessionId, (s) => s.download_status !== 'started');
    expect(downloaded.download_status).toBe('completed');
    expect(downloaded.scenes.map((scene) => scene.download?.status ?? null)).toEqual(['done', null, 'done']);

    // The three request encodings the document lists for POST /download.
    const form = new FormData();
    form.set('session_id', sessionId);
    const encodings: RequestInit[] = [
      { headers: AUTH, body: new URLSearchParams({ session_id: sessionId }) },
      { headers: AUTH, body: form },
      { headers: JSON_AUTH, body: json({ session_id: sessionId }) },
    ];
    for (const init of encodings) {
      const zip = await api.send('/download', { method: 'POST', ...init });
      expect(zip.status).toBe(200);
      // Prism passes binary bodies on as text, which mangles them: the ZIP's bytes are checked in
      // flow.e2e.spec.ts and generated-client.e2e.spec.ts, which talk to the service directly.
      expect(zip.headers.get('content-disposition')).toBe(
        `attachment; filename="story_${sessionId.slice(0, 8)}.zip"`,
      );
    }
  });

  it('serves the session images with their documented answers', async () => {
    const rendered = new URL(scenes[0].image_url).pathname;
    const downloadedStatus = (await status(sessionId)).json<Status>();
    const downloaded = new URL(downloadedStatus.scenes[0].download?.file_url ?? '').pathname;
    for (const file of [rendered, downloaded]) {
      const whole = await api.send(file, { headers: AUTH });
      expect(whole.status).toBe(200);
      const etag = whole.headers.get('etag') ?? '';
      expect((await api.send(file, { headers: { ...AUTH, range: 'bytes=0-7' } })).status).toBe(206);
      // fetch adds `Cache-Control: no-cache` to conditional requests unless told otherwise, and the
      // static server rightly answers no-cache with the whole file.
      const revalidate = { ...AUTH, 'if-none-match': etag, 'cache-control': 'max-age=0' };
      expect((await api.send(file, { headers: revalidate })).status).toBe(304);
      expectEnvelopeOf(await api.send(file, { headers: { ...AUTH, 'if-match': '"stale"' } }), 412);
      const beyond = await api.send(file, { headers: { ...AUTH, range: 'bytes=100000000-' } });
      expectEnvelopeOf(beyond, 416);
      expectEnvelopeOf(await api.sendInvalid(file), 401);
    }
    // The URLs GET /status gives are signed: a plain GET (an <img> tag) loads them; a changed one is refused.
    const signed = new URL(scenes[0].image_url);
    const plain = await api.send(`${signed.pathname}${signed.search}`);
    expect(plain.status).toBe(200);
    expect(plain.headers.get('cache-control')).toMatch(/^private/);
    // Its first character changed (to one it is not), so the signature no longer matches.
    const tampered = `${signed.pathname}${signed.search.replace(/signature=(.)/, (_, c: string) => `signature=${c === 'A' ? 'B' : 'A'}`)}`;
    expectEnvelopeOf(await api.send(tampered), 403);
    const signedFile = new URL(downloadedStatus.scenes[0].download?.file_url ?? '');
    const forged = `${signedFile.pathname}?expires=${signedFile.searchParams.get('expires')}&signature=forged`;
    expectEnvelopeOf(await api.send(forged), 403);
    expectEnvelopeOf(await api.send(`/static/${sessionId}/scene_09.png`, { headers: AUTH }), 404);
    expectEnvelopeOf(await api.send(`/static/${sessionId}/renders/scene_09.png`, { headers: AUTH }), 404);
  });

  it('answers wrong requests with the documented errors', async () => {
    const post = (path: string, headers: Record<string, string>, body: RequestInit['body']) => () =>
      api.sendInvalid(path, { method: 'POST', headers, body });
    const postValid = (path: string, headers: Record<string, string>, body: RequestInit['body']) => () =>
      api.send(path, { method: 'POST', headers, body });
    const get =
      (path: string, headers: Record<string, string> = {}) =>
      () =>
        api.sendInvalid(path, { headers });
    const cases: [() => Promise<Answer>, number][] = [
      [post('/generate', JSON_AUTH, json({ story_text: '   ' })), 400],
      [post('/generate', JSON_AUTH, json({ story_text: STORY, num_scenes: 21 })), 400],
      [
        post(
          '/generate',
          { ...JSON_AUTH, 'idempotency-key': 'contract-flow-1' },
          json({ story_text: 'Other.' }),
        ),
        422,
      ],
      [post('/generate', { ...AUTH, 'content-type': 'text/plain' }, STORY), 415],
      [post('/generate', JSON_AUTH, json({ story_text: 'x'.repeat(1_100_000) })), 413],
      [post('/generate', { 'content-type': 'application/json' }, json({ story_text: STORY })), 401],
      [get('/status/not-a-uuid', AUTH), 400],
      [get(`/status/${UNKNOWN_ID}`, AUTH), 404],
      [get('/status/not-a-uuid/events', AUTH), 400],
      [get(`/status/${UNKNOWN_ID}/events`, AUTH), 404],
      [post('/approve', JSON_AUTH, json({ session_id: sessionId, approved_scenes: [] })), 400],
      [postValid('/approve', JSON_AUTH, json({ session_id: UNKNOWN_ID, approved_scenes: [0] })), 404],
      [postValid('/approve', JSON_AUTH, json({ session_id: sessionId, approved_scenes: [1] })), 409],
      [post('/approve', { ...AUTH, 'content-type': 'text/plain' }, 'hello'), 415],
      [post('/download', AUTH, new URLSearchParams({ session_id: 'nope' })), 400],
      [postValid('/download', AUTH, new URLSearchParams({ session_id: UNKNOWN_ID })), 404],
      [post('/download', { ...AUTH, 'content-type': 'multipart/mixed; boundary=x' }, '--x--'), 415],
      [get('/debug/config'), 401],
    ];
    for (const [send, expected] of cases) expectEnvelopeOf(await send(), expected);

    expect((await api.send('/health')).status).toBe(200);
    expect((await api.send('/health/live')).status).toBe(200);
    expect((await api.send('/health/ready')).status).toBe(200);
    expect((await api.send('/info')).status).toBe(200);
    expect((await api.send('/debug/sessions', { headers: AUTH })).status).toBe(200);
    expect((await api.send('/debug/config', { headers: AUTH })).status).toBe(200);
  });

  it('streams a session as documented until it expires', async () => {
    // Prism passes an answer on once it has all of it: a session about to expire ends its stream soon.
    const id = 'c3a1e0f2-7b6d-4e5c-9a8b-1d2e3f4a5b6c';
    await t.app.get(SessionStore).create({
      id,
      owner: t.config.apiKeys[0].tenant,
      media_type: 'cartoon',
      requested_scenes: 1,
      story: STORY,
      seed: 1,
    });
    await t.app.get(RedisService).commands.pexpire(`${t.config.redisPrefix}:session:${id}`, 1500);
    const stream = await api.send(`/status/${id}/events`, { headers: AUTH });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = stream.body.toString();
    expect(text).toMatch(/^event: snapshot\nid: 1\ndata: \{/);
    expect(text).toContain(`event: expired\nid: 1\ndata: {"session_id":"${id}"}`);
  });

  it('edits, regenerates and selects scene versions as documented', async () => {
    const started = await api.send('/generate', {
      method: 'POST',
      headers: JSON_AUTH,
      body: json({ story_text: STORY, num_scenes: 2 }),
    });
    expect(started.status).toBe(200);
    const id = started.json<{ session_id: string }>().session_id;
    expect((await pollStatus(id, (s) => s.status !== 'processing')).status).toBe('completed');
    const scene = (path: string) => `/sessions/${id}/scenes/${path}`;
    const send = (path: string, method: string, body?: unknown, headers = JSON_AUTH) =>
      api.send(path, { method, headers, body: body === undefined ? undefined : json(body) });
    const sendInvalid = (path: string, method: string, body: string, headers = JSON_AUTH) =>
      api.sendInvalid(path, { method, headers, body });

    const edited = await send(scene('0'), 'PATCH', { title: 'The attic' });
    expect(edited.status).toBe(200);
    expect(edited.json()).toMatchObject({ index: 0, title: 'The attic', version: 1 });
    const regenerated = await send(scene('0/regenerate'), 'POST', { seed: 99 });
    expect(regenerated.status).toBe(202);
    expect(regenerated.json()).toMatchObject({ session_id: id, index: 0, version: 2, status: 'rendering' });
    await pollStatus(id, (s) => s.status === 'completed');
    const selected = await send(scene('0/select'), 'POST', { version: 1 });
    expect(selected.status).toBe(200);
    expect(selected.json()).toMatchObject({ index: 0, version: 1 });

    // The cast: a portrait drawn again (the session is not approved yet).
    const portrait = await send(`/sessions/${id}/cast/Mara/regenerate`, 'POST', { seed: 7 });
    expect(portrait.status).toBe(202);
    expect(portrait.json()).toMatchObject({ session_id: id, name: 'Mara', version: 2, status: 'rendering' });
    // Drawn before the session goes on, so no render is left running behind the cases below.
    await pollStatus(id, (s) =>
      (s as unknown as { cast: { name: string; version: number; status: string }[] }).cast.some(
        (m) => m.name === 'Mara' && m.version === 2 && m.status !== 'rendering',
      ),
    );

    const approved = `/sessions/${sessionId}/scenes/0`;
    const cases: [() => Promise<Answer>, number][] = [
      [() => sendInvalid(`/sessions/${id}/cast/Mara/regenerate`, 'POST', json({ seed: 0 })), 400],
      [() => send(`/sessions/${id}/cast/Nobody/regenerate`, 'POST'), 404],
      [() => send(`/sessions/${sessionId}/cast/Mara/regenerate`, 'POST'), 409],
      [() => sendInvalid(scene('0'), 'PATCH', json({ colour: 'red' })), 400],
      [() => send(scene('9'), 'PATCH', { title: 'Nowhere' }), 404],
      [() => send(approved, 'PATCH', { title: 'Too late' }), 409],
      [() => sendInvalid(scene('0'), 'PATCH', 'title=x', { ...AUTH, 'content-type': 'text/plain' }), 415],
      [() => sendInvalid(scene('0/regenerate'), 'POST', json({ seed: 0 })), 400],
      [() => send(`/sessions/${UNKNOWN_ID}/scenes/0/regenerate`, 'POST'), 404],
      [() => send(`${approved}/regenerate`, 'POST'), 409],
      [() => sendInvalid(scene('0/select'), 'POST', json({ version: 0 })), 400],
      [() => send(scene('0/select'), 'POST', { version: 9 }), 404],
      [() => send(`${approved}/select`, 'POST', { version: 1 }), 409],
      [
        () => sendInvalid(scene('0/select'), 'POST', 'version=1', { ...AUTH, 'content-type': 'text/plain' }),
        415,
      ],
    ];
    for (const [call, expected] of cases) expectEnvelopeOf(await call(), expected);
  });

  it('answers 429 with Retry-After once the key has MAX_ACTIVE_SESSIONS_PER_KEY sessions processing', async () => {
    // A session no worker will pick up (created without a job) holds the key's one slot.
    const stuck = '0b6f4a4e-52a4-4bb1-9f4f-3f0e3a9c2d11';
    const tenant = t.config.apiKeys[0].tenant;
    const sessions = t.app.get(SessionStore);
    await sessions.create({
      id: stuck,
      owner: tenant,
      media_type: 'cartoon',
      requested_scenes: 1,
      story: STORY,
      seed: 1,
    });
    expect(await t.app.get(ActiveSessionQuota).reserve(tenant, stuck)).toBe(true);
    try {
      const refused = await api.send('/generate', {
        method: 'POST',
        headers: JSON_AUTH,
        body: json({ story_text: STORY }),
      });
      expectEnvelopeOf(refused, 429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await sessions.fail(stuck, 'test over');
    }
  });

  it('answers 503 as documented while Redis is unreachable', async () => {
    const redis = t.app.get(RedisService).commands;
    redis.disconnect();
    try {
      expect((await api.send('/health')).status).toBe(503);
      expectEnvelopeOf(await api.send('/health/ready'), 503);
      expectEnvelopeOf(await api.send(`/status/${sessionId}`, { headers: AUTH }), 503);
      const body = json({ story_text: STORY });
      expectEnvelopeOf(await api.send('/generate', { method: 'POST', headers: JSON_AUTH, body }), 503);
      const approval = json({ session_id: sessionId, approved_scenes: [0] });
      expectEnvelopeOf(
        await api.send('/approve', { method: 'POST', headers: JSON_AUTH, body: approval }),
        503,
      );
      const form = new URLSearchParams({ session_id: sessionId });
      expectEnvelopeOf(await api.send('/download', { method: 'POST', headers: AUTH, body: form }), 503);
      expectEnvelopeOf(await api.send('/debug/sessions', { headers: AUTH }), 503);
    } finally {
      await redis.connect();
    }
  });

  it('answers 429 with Retry-After, and 404 for debug endpoints when DEBUG_MODE is off', async () => {
    expectEnvelopeOf(await limitedApi.send('/debug/config'), 404);
    expectEnvelopeOf(await limitedApi.send('/debug/sessions'), 404);
    const refused = await limitedApi.send(`/status/${UNKNOWN_ID}`);
    expectEnvelopeOf(refused, 429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('is a check that can fail: Prism reports answers the document does not allow', async () => {
    // The document as it was before nullability and the 404 of POST /download were declared.
    const wrong = JSON.parse(JSON.stringify(await documentOf(t)));
    wrong.components.schemas.SceneView.properties.download = {
      $ref: '#/components/schemas/SceneDownloadView',
    };
    delete wrong.paths['/download'].post.responses['404'];
    const file = path.join(t.env.imageDir, 'wrong-openapi.json');
    writeFileSync(file, JSON.stringify(wrong));
    const strict = await startPrismProxy(file, t.url);
    try {
      const missing = await fetch(`${strict.url}/download`, {
        method: 'POST',
        headers: AUTH,
        body: new URLSearchParams({ session_id: UNKNOWN_ID }),
      });
      expect(responseViolations(missing.headers)).not.toEqual([]);
      // Scene 1 of the flow's session was not approved, so its download is null.
      const unapproved = await fetch(`${strict.url}/status/${sessionId}`, { headers: AUTH });
      expect(responseViolations(unapproved.headers).map((v) => v.location.join('.'))).toEqual([
        'response.body.scenes.1.download',
      ]);
    } finally {
      await strict.close();
    }
  });

  it('provoked every answer the document lists', () => {
    const unexercised = [api, limitedApi]
      .map((client) => new Set(client.unexercised()))
      .reduce((a, b) => new Set([...a].filter((answer) => b.has(answer))));
    expect([...unexercised].filter((answer) => !(answer in NOT_PROVOKED))).toEqual([]);
  });
});
