import { expectEnvelope, request } from '../support/http-client';
import { startTestApp, TestApp } from '../support/test-app';

const KEY = 'client-key-0123456789abcdef';

describe('API key authentication and rate limiting', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ API_KEYS: `${KEY},second-key-xyz,third-key-rate`, RATE_LIMIT_PER_MINUTE: '5' });
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
      headers: { authorization: 'Bearer second-key-xyz' },
    });
    expect(viaBearer.status).toBe(200);
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
        headers: { 'x-api-key': 'third-key-rate' },
      });
      statuses.push(res.status);
      if (res.status === 429) {
        expectEnvelope(res, 429);
        retryAfter = res.headers.get('retry-after');
      }
    }
    expect(statuses).toEqual([404, 404, 404, 404, 404, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThan(0);
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
