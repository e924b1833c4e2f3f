import { expectEnvelope, request } from '../support/http-client';
import { startTestApp, TestApp } from '../support/test-app';
import { TestEnv } from '../support/test-env';

const KEY = 'client-key-0123456789abcdef';

describe('API key authentication and rate limiting', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      API_KEYS: `${KEY},second-key-xyz-0123,third-key-rate-0123`,
      RATE_LIMIT_PER_MINUTE: '5',
    });
  });
  afterAll(() => t.close());

  it('rejects requests without a valid key with 401 and the envelope', async () => {
    expectEnvelope(await request(`${t.url}/generate`, { method: 'POST', json: { story_text: 'x' } }), 401);
    expectEnvelope(
      await request(`${t.url}/status/7b0c8e9e-1f8a-4a59-9d7c-1f4a2b3c4d5e`, {
        headers: { 'x-api-key': 'wrong' },
      }),
      401,
    );
    expectEnvelope(
      await request(`${t.url}/debug/config`, { headers: { authorization: 'Bearer nope' } }),
      401,
    );
  });

  it('accepts X-API-Key and Authorization: Bearer', async () => {
    const viaHeader = await request(`${t.url}/generate`, {
      method: 'POST',
      json: { story_text: 'x' },
      headers: { 'x-api-key': KEY },
    });
    expect(viaHeader.status).toBe(200);
    const viaBearer = await request(`${t.url}/status/${viaHeader.body.session_id as string}`, {
      headers: { authorization: `Bearer ${KEY}` },
    });
    expect(viaBearer.status).toBe(200);
    // Another valid key does not see it (tenants: tenancy.e2e.spec.ts).
    const otherKey = await request(`${t.url}/status/${viaHeader.body.session_id as string}`, {
      headers: { authorization: 'Bearer second-key-xyz-0123' },
    });
    expectEnvelope(otherKey, 404);
  });

  it('leaves health probes and docs open', async () => {
    expect((await request(`${t.url}/health`)).status).toBe(200);
    expect((await request(`${t.url}/health/live`)).status).toBe(200);
    expect((await request(`${t.url}/health/ready`)).status).toBe(200);
    expect((await fetch(`${t.url}/docs`)).status).toBe(200);
  });

  it('limits each key per minute with 429 and Retry-After, health exempt', async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 7; i++) {
      const res = await request(`${t.url}/status/7b0c8e9e-1f8a-4a59-9d7c-1f4a2b3c4d5e`, {
        headers: { 'x-api-key': 'third-key-rate-0123' },
      });
      statuses.push(res.status);
      if (res.status === 429) {
        expectEnvelope(res, 429);
        retryAfter = res.headers.get('retry-after');
      }
    }
    expect(statuses).toEqual([404, 404, 404, 404, 404, 429, 429]);
    // Seconds until the budget comes back: within the one-minute window, never 0 (clients would hammer).
    expect(Number(retryAfter)).toBeGreaterThan(0);
    expect(Number(retryAfter)).toBeLessThanOrEqual(60);
    // Another key has its own budget; health probes have none.
    expect(
      (
        await request(`${t.url}/status/7b0c8e9e-1f8a-4a59-9d7c-1f4a2b3c4d5e`, {
          headers: { 'x-api-key': KEY },
        })
      ).status,
    ).toBe(404);
    for (let i = 0; i < 8; i++) expect((await request(`${t.url}/health/live`)).status).toBe(200);
  });
});

describe('the rate limit', () => {
  it('is one budget per client for the whole API, not one per route', async () => {
    const t = await startTestApp({ ROLE: 'api', RATE_LIMIT_PER_MINUTE: '4' });
    try {
      const status = () => request(`${t.url}/status/7b0c8e9e-1f8a-4a59-9d7c-1f4a2b3c4d5e`);
      const approve = () => request(`${t.url}/approve`, { method: 'POST', json: {} });
      const statuses: number[] = [];
      for (const call of [status, approve, status, approve, status]) statuses.push((await call()).status);
      expect(statuses).toEqual([404, 400, 404, 400, 429]);
    } finally {
      await t.close();
    }
  });
});

describe('rate limits across API processes', () => {
  const LIMIT = 4;
  const SHARED_KEY = 'shared-key-0123456789';
  const vars = { ROLE: 'api', API_KEYS: SHARED_KEY, RATE_LIMIT_PER_MINUTE: String(LIMIT) };
  const statusPath = '/status/7b0c8e9e-1f8a-4a59-9d7c-1f4a2b3c4d5e';
  // Two API processes of one deployment: same Redis prefix, each with its own throttler and connection.
  const env = new TestEnv();
  let first: TestApp;
  let second: TestApp;
  beforeAll(async () => {
    first = await startTestApp(vars, env);
    second = await startTestApp(vars, env);
  });
  afterAll(async () => {
    await Promise.all([first.close(), second.close()]);
  });

  it('share one budget per key through Redis, answering 429 with Retry-After and the envelope', async () => {
    const statuses: number[] = [];
    // Alternating: per-process counters would each see only half the requests and never reach the limit.
    for (let i = 0; i < LIMIT + 2; i++) {
      const app = i % 2 === 0 ? first : second;
      const res = await request(`${app.url}${statusPath}`, { headers: { 'x-api-key': SHARED_KEY } });
      statuses.push(res.status);
      if (res.status === 429) {
        expectEnvelope(res, 429);
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(60);
      }
    }
    expect(statuses).toEqual([404, 404, 404, 404, 429, 429]);
  });

  it('count made-up keys against the client address, so rotating them buys no budget', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 1; i++) {
      const app = i % 2 === 0 ? first : second;
      statuses.push(
        (await request(`${app.url}${statusPath}`, { headers: { 'x-api-key': `made-up-${i}` } })).status,
      );
    }
    // Rate limiting runs before authentication: 401 while the address has budget, 429 after.
    expect(statuses).toEqual([401, 401, 401, 401, 429]);
  });

  it('leave a deployment under another REDIS_PREFIX its own budget', async () => {
    const viaKey = (app: TestApp) =>
      request(`${app.url}${statusPath}`, { headers: { 'x-api-key': SHARED_KEY } });
    const exhausted: number[] = [];
    for (let i = 0; i <= LIMIT && exhausted.at(-1) !== 429; i++) exhausted.push((await viaKey(first)).status);
    expect(exhausted.at(-1)).toBe(429);
    const other = await startTestApp(vars);
    try {
      // Same route, same key, same Redis: only the prefix differs, so a key without it would answer 429.
      expect((await viaKey(other)).status).toBe(404);
    } finally {
      await other.close();
    }
  });
});

describe('RATE_LIMIT_PER_MINUTE=0', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_PER_MINUTE: '0' });
  });
  afterAll(() => t.close());

  it('turns rate limiting off', async () => {
    // 0 still configures a throttler with limit 1 (it needs one); only the skip keeps the second request out of 429.
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await request(`${t.url}/status/7b0c8e9e-1f8a-4a59-9d7c-1f4a2b3c4d5e`);
      statuses.push(res.status);
      expect(res.headers.get('x-ratelimit-limit')).toBeNull();
    }
    expect(statuses).toEqual([404, 404, 404]);
  });
});

describe('headers, CORS and idempotency', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ CORS_ORIGINS: 'https://app.example.com' });
  });
  afterAll(() => t.close());

  it('sends security headers and no X-Powered-By', async () => {
    const res = await fetch(`${t.url}/health`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('allows only the configured origins', async () => {
    const allowed = await fetch(`${t.url}/health`, { headers: { origin: 'https://app.example.com' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    const other = await fetch(`${t.url}/health`, { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('returns the same session for a repeated Idempotency-Key and 422 for another body', async () => {
    const headers = { 'idempotency-key': 'order-42' };
    const first = await request(`${t.url}/generate`, {
      method: 'POST',
      json: { story_text: 'Same story.' },
      headers,
    });
    const again = await request(`${t.url}/generate`, {
      method: 'POST',
      json: { story_text: 'Same story.', num_scenes: 5 },
      headers,
    });
    expect(first.status).toBe(200);
    expect(again.body.session_id).toBe(first.body.session_id);
    expectEnvelope(
      await request(`${t.url}/generate`, { method: 'POST', json: { story_text: 'Other story.' }, headers }),
      422,
    );
    const fresh = await request(`${t.url}/generate`, {
      method: 'POST',
      json: { story_text: 'Same story.' },
      headers: { 'idempotency-key': 'order-43' },
    });
    expect(fresh.body.session_id).not.toBe(first.body.session_id);
    expectEnvelope(
      await request(`${t.url}/generate`, {
        method: 'POST',
        json: { story_text: 'x' },
        headers: { 'idempotency-key': 'bad key with spaces' },
      }),
      400,
    );
  });
});
