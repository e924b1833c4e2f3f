import { randomUUID } from 'node:crypto';
import { SessionStore } from '../../src/sessions/session.store';
import { expectEnvelope, request } from '../support/http-client';
import { startTestApp, TestApp } from '../support/test-app';
import { pollUntil } from '../support/test-env';

interface Case {
  name: string;
  method?: 'GET' | 'POST';
  path: string | (() => string);
  json?: unknown;
  raw?: string;
  contentType?: string;
  status: number;
  error?: RegExp;
}

const story = 'Once upon a time. Then something happened. And it ended.';

describe('bad input gets its 4xx with the error envelope', () => {
  let t: TestApp;
  let completedId: string;
  let queuedId: string;

  beforeAll(async () => {
    t = await startTestApp();
    const res = await request<{ session_id: string }>(`${t.url}/generate`, {
      method: 'POST',
      json: { story_text: story, num_scenes: 3 },
    });
    completedId = res.body.session_id;
    await pollUntil(
      () => request(`${t.url}/status/${completedId}`),
      (r) => r.body.status === 'completed',
    );
    // A session no worker will pick up (created without a job), so it stays "processing".
    queuedId = randomUUID();
    await t.app
      .get(SessionStore)
      .create({ id: queuedId, media_type: 'cinematic', requested_scenes: 2, story, seed: 7 });
  });
  afterAll(() => t.close());

  const cases: Case[] = [
    { name: 'empty object', path: '/generate', json: {}, status: 400, error: /story_text/ },
    { name: 'blank story', path: '/generate', json: { story_text: '   \n\t ' }, status: 400, error: /blank/ },
    {
      name: 'story over 50,000 characters',
      path: '/generate',
      json: { story_text: 'a'.repeat(50_001) },
      status: 400,
      error: /at most 50000/,
    },
    { name: 'story as number', path: '/generate', json: { story_text: 42 }, status: 400 },
    { name: 'story as object', path: '/generate', json: { story_text: { text: 'x' } }, status: 400 },
    { name: 'story as array', path: '/generate', json: { story_text: ['x'] }, status: 400 },
    {
      name: 'unknown media type',
      path: '/generate',
      json: { story_text: story, media_type: 'anime' },
      status: 400,
      error: /media_type/,
    },
    {
      name: 'null media type',
      path: '/generate',
      json: { story_text: story, media_type: null },
      status: 400,
    },
    {
      name: 'num_scenes 0',
      path: '/generate',
      json: { story_text: story, num_scenes: 0 },
      status: 400,
      error: /at least 1/,
    },
    {
      name: 'num_scenes 21',
      path: '/generate',
      json: { story_text: story, num_scenes: 21 },
      status: 400,
      error: /at most 20/,
    },
    {
      name: 'num_scenes negative',
      path: '/generate',
      json: { story_text: story, num_scenes: -3 },
      status: 400,
    },
    {
      name: 'num_scenes fractional',
      path: '/generate',
      json: { story_text: story, num_scenes: 2.5 },
      status: 400,
    },
    {
      name: 'num_scenes as string',
      path: '/generate',
      json: { story_text: story, num_scenes: '3' },
      status: 400,
    },
    { name: 'num_scenes huge', path: '/generate', raw: `{"story_text":"x","num_scenes":1e308}`, status: 400 },
    {
      name: 'unknown field',
      path: '/generate',
      json: { story_text: story, style: 'noir' },
      status: 400,
      error: /style is not an allowed field/,
    },
    {
      name: '__proto__ key',
      path: '/generate',
      raw: `{"story_text":"x","__proto__":{"admin":true}}`,
      status: 400,
    },
    {
      name: 'constructor key',
      path: '/generate',
      raw: `{"story_text":"x","constructor":{"prototype":{}}}`,
      status: 400,
    },
    { name: 'array body', path: '/generate', json: [{ story_text: story }], status: 400 },
    {
      name: 'malformed JSON',
      path: '/generate',
      raw: `{"story_text": "x",}`,
      status: 400,
      error: /not valid JSON/,
    },
    { name: 'truncated JSON', path: '/generate', raw: `{"story_text": "x`, status: 400 },
    { name: 'JSON null', path: '/generate', raw: 'null', status: 400 },
    { name: 'text/plain body', path: '/generate', raw: 'story', contentType: 'text/plain', status: 415 },
    {
      name: 'form body on a JSON endpoint',
      path: '/generate',
      raw: 'story_text=x',
      contentType: 'application/x-www-form-urlencoded',
      status: 415,
    },
    {
      name: 'lone surrogate',
      path: '/generate',
      raw: `{"story_text":"a\\ud800b"}`,
      status: 400,
      error: /Unicode/,
    },
    {
      name: 'control characters',
      path: '/generate',
      json: { story_text: 'a\u0000b\u0007' },
      status: 400,
      error: /control/,
    },
    {
      name: 'body over 1 MB',
      path: '/generate',
      json: { story_text: 'x'.repeat(1_100_000) },
      status: 413,
      error: /too large/,
    },
    { name: 'malformed session id', method: 'GET', path: '/status/not-a-uuid', status: 400, error: /UUID/ },
    { name: 'traversal in session id', method: 'GET', path: '/status/..%2F..%2Fetc%2Fpasswd', status: 400 },
    { name: 'unknown session', method: 'GET', path: () => `/status/${randomUUID()}`, status: 404 },
    {
      name: 'approve unknown session',
      path: '/approve',
      json: () => ({ session_id: randomUUID(), approved_scenes: [0] }),
      status: 404,
    },
    {
      name: 'approve without indices',
      path: '/approve',
      json: () => ({ session_id: completedId }),
      status: 400,
    },
    {
      name: 'approve empty indices',
      path: '/approve',
      json: () => ({ session_id: completedId, approved_scenes: [] }),
      status: 400,
      error: /empty/,
    },
    {
      name: 'approve duplicates',
      path: '/approve',
      json: () => ({ session_id: completedId, approved_scenes: [0, 0] }),
      status: 400,
      error: /duplicates/,
    },
    {
      name: 'approve negative',
      path: '/approve',
      json: () => ({ session_id: completedId, approved_scenes: [-1] }),
      status: 400,
      error: /negative/,
    },
    {
      name: 'approve string index',
      path: '/approve',
      json: () => ({ session_id: completedId, approved_scenes: ['0'] }),
      status: 400,
      error: /integers/,
    },
    {
      name: 'approve fractional index',
      path: '/approve',
      json: () => ({ session_id: completedId, approved_scenes: [0.5] }),
      status: 400,
    },
    {
      name: 'approve out of range',
      path: '/approve',
      json: () => ({ session_id: completedId, approved_scenes: [0, 3] }),
      status: 400,
      error: /out of range/,
    },
    {
      name: 'approve indices as object',
      path: '/approve',
      json: () => ({ session_id: completedId, approved_scenes: { 0: true } }),
      status: 400,
    },
    {
      name: 'approve malformed id',
      path: '/approve',
      json: { session_id: '../x', approved_scenes: [0] },
      status: 400,
    },
    {
      name: 'approve a session still processing',
      path: '/approve',
      json: () => ({ session_id: queuedId, approved_scenes: [0] }),
      status: 409,
    },
    { name: 'download without session_id', path: '/download', json: {}, status: 400 },
    {
      name: 'download malformed id',
      path: '/download',
      raw: 'session_id=abc',
      contentType: 'application/x-www-form-urlencoded',
      status: 400,
    },
    {
      name: 'download unknown session',
      path: '/download',
      json: () => ({ session_id: randomUUID() }),
      status: 404,
    },
    {
      name: 'download before approval',
      path: '/download',
      json: () => ({ session_id: completedId }),
      status: 409,
      error: /approve/,
    },
    {
      name: 'download a processing session',
      path: '/download',
      json: () => ({ session_id: queuedId }),
      status: 409,
    },
    { name: 'static traversal', method: 'GET', path: '/static/../package.json', status: 404 },
    {
      name: 'static encoded traversal',
      method: 'GET',
      path: '/static/%2e%2e/%2e%2e/etc/passwd',
      status: 404,
    },
    {
      name: 'static missing file',
      method: 'GET',
      path: () => `/static/${completedId}/nope.png`,
      status: 404,
    },
    { name: 'unknown route', method: 'GET', path: '/admin', status: 404 },
    { name: 'wrong method', method: 'GET', path: '/generate', status: 404 },
  ];

  it.each(cases)('$name → $status', async (c) => {
    const path = typeof c.path === 'function' ? c.path() : c.path;
    const json = typeof c.json === 'function' ? (c.json as () => unknown)() : c.json;
    const res = await request(`${t.url}${path}`, {
      method: c.method ?? 'POST',
      ...(json !== undefined ? { json } : {}),
      ...(c.raw !== undefined
        ? { body: c.raw, headers: { 'content-type': c.contentType ?? 'application/json' } }
        : {}),
    });
    const body = expectEnvelope(res, c.status);
    if (c.error) expect(JSON.stringify(body.error)).toMatch(c.error);
  });

  it('stays healthy and keeps its sessions intact after the bad inputs', async () => {
    const health = await request(`${t.url}/health`);
    expect(health.body.status).toBe('healthy');
    const status = await request<{ status: string; download_status: string; scenes: unknown[] }>(
      `${t.url}/status/${completedId}`,
    );
    expect(status.body).toMatchObject({ status: 'completed', download_status: 'not_started' });
    expect(status.body.scenes).toHaveLength(3);
  });
});
