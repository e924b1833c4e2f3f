import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { QueueName } from '../../src/domain/jobs';
import { envelopeProblem, JsonResponse, request } from '../support/http-client';
import { startTestApp, TestApp } from '../support/test-app';
import { pollUntil } from '../support/test-env';

const BODY = { story_text: 'The fox crossed the river. The heron watched it go.', num_scenes: 2 };
const KEY_A = 'client-a-key-0123456789';
const KEY_B = 'client-b-key-0123456789';

type Created = { session_id: string };

const generate = (t: TestApp, idempotencyKey: string, apiKey?: string) =>
  request<Created>(`${t.url}/generate`, {
    method: 'POST',
    headers: { 'idempotency-key': idempotencyKey, ...(apiKey ? { 'x-api-key': apiKey } : {}) },
    json: BODY,
  });

const status = (t: TestApp, id: string, apiKey?: string) =>
  request<{ status: string }>(`${t.url}/status/${id}`, { headers: apiKey ? { 'x-api-key': apiKey } : {} });

describe('concurrent requests', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('eight simultaneous POST /generate with one Idempotency-Key make one session, existing when returned', async () => {
    const key = randomUUID();
    // Each answer is followed at once by a GET of the id it carries: the session must already exist.
    const answers = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const created = await generate(t, key);
        return { created, seen: await status(t, created.body.session_id) };
      }),
    );
    expect(answers.map(({ created }) => created.status)).toEqual(Array(8).fill(200));
    expect(new Set(answers.map(({ created }) => created.body.session_id)).size).toBe(1);
    expect(answers.map(({ seen }) => seen.status)).toEqual(Array(8).fill(200));
  });

  it('eight simultaneous POST /approve of one completed session: one 200, seven 409', async () => {
    const id = (await generate(t, randomUUID())).body.session_id;
    await pollUntil(
      () => status(t, id),
      (res) => res.body.status === 'completed',
    );
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        request(`${t.url}/approve`, { method: 'POST', json: { session_id: id, approved_scenes: [0] } }),
      ),
    );
    const ok = answers.filter((res) => res.status === 200);
    expect(ok.map((res) => res.body)).toEqual([
      { message: 'Images approved and downloading', download_status: 'started' },
    ]);
    const problems = answers.filter((res) => res.status !== 200).map((res) => envelopeProblem(res, 409));
    expect(problems).toEqual(Array(7).fill(null));
  });
});

describe('idempotency keys per API key', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ API_KEYS: `${KEY_A},${KEY_B}` });
  });
  afterAll(() => t.close());

  it('the same Idempotency-Key and body under two API keys make two sessions', async () => {
    const key = randomUUID();
    const a1 = await generate(t, key, KEY_A);
    const b1 = await generate(t, key, KEY_B);
    const a2 = await generate(t, key, KEY_A);
    const b2 = await generate(t, key, KEY_B);
    expect([a1, b1, a2, b2].map((res) => res.status)).toEqual([200, 200, 200, 200]);
    expect(a1.body.session_id).not.toBe(b1.body.session_id);
    expect(a2.body.session_id).toBe(a1.body.session_id);
    expect(b2.body.session_id).toBe(b1.body.session_id);
    expect((await status(t, b1.body.session_id, KEY_B)).status).toBe(200);
  });
});

describe('an Idempotency-Key whose request could not be queued', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('answers 503 at once and frees the key for a retry once the queue is back', async () => {
    const key = randomUUID();
    // The producer connection of the queues: Redis is away for it alone while sessions are still written.
    const queueConnection = (await t.app.get<Queue>(getQueueToken(QueueName.Generation)).getBackend()
      .client) as unknown as Redis;
    queueConnection.disconnect();
    let failed: JsonResponse<Created>;
    try {
      const started = Date.now();
      failed = await generate(t, key);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await queueConnection.connect();
    }
    expect(envelopeProblem(failed, 503)).toBeNull();

    const retried = await generate(t, key);
    expect(retried.status).toBe(200);
    const done = await pollUntil(
      () => status(t, retried.body.session_id),
      (res) => res.body.status !== 'processing',
    );
    expect(done.body.status).toBe('completed');
    expect((await generate(t, key)).body.session_id).toBe(retried.body.session_id);
  });
});
