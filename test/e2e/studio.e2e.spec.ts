import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { expectEnvelope, request, requestRawPath } from '../support/http-client';
import { startTestApp, TestApp } from '../support/test-app';

/** The studio's files and GET /info over plain HTTP; test/browser drives the page itself. */

const KEY = 'studio-key-0123456789abcdef';
const PUBLIC = path.join(__dirname, '..', '..', 'public');

const policyOf = (headers: Headers) =>
  new Map(
    (headers.get('content-security-policy') ?? '')
      .split(';')
      .map((directive) => directive.trim().split(/\s+/))
      .map(([name, ...values]) => [name, values] as const),
  );

describe('the studio served by the API', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ API_KEYS: `studio:${KEY}` });
  });
  afterAll(() => t.close());

  it('serves the page at / without a key, under a policy that allows no inline script', async () => {
    const page = await fetch(`${t.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('<label for="story">Story</label>');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // every script is a file
    expect(html).not.toMatch(/\son[a-z]+=/i); // no inline event handlers
    const policy = policyOf(page.headers);
    expect(policy.get('script-src')).toEqual(["'self'"]);
    expect(policy.get('style-src')).toEqual(["'self'"]);
    expect(policy.get('connect-src')).toEqual(["'self'"]);
    expect(policy.has('upgrade-insecure-requests')).toBe(false);
  });

  it('serves every script and stylesheet of public/ with the same policy', async () => {
    const files = readdirSync(PUBLIC, { recursive: true, encoding: 'utf8' }).filter((f) =>
      /\.(js|css)$/.test(f),
    );
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const file of files) {
      const res = await fetch(`${t.url}/${file.split(path.sep).join('/')}`);
      expect([file, res.status]).toEqual([file, 200]);
      expect(res.headers.get('content-type')).toMatch(file.endsWith('.js') ? /javascript/ : /text\/css/);
      expect(policyOf(res.headers).get('script-src')).toEqual(["'self'"]);
    }
  });

  it('keeps Swagger UI at /docs, with its own relaxed policy there only', async () => {
    const docs = await fetch(`${t.url}/docs/`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('swagger');
    expect(policyOf(docs.headers).get('script-src')).toContain("'unsafe-inline'");
  });

  it('hides no API route: unknown paths, keyed routes and bad ids answer as before', async () => {
    expectEnvelope(await request(`${t.url}/no-such-page`), 404);
    expectEnvelope(await request(`${t.url}/status/not-a-uuid`, { headers: { 'x-api-key': KEY } }), 400);
    expectEnvelope(await request(`${t.url}/status/0b6a3f7e-1c9d-4e2a-9f00-000000000000`), 401);
    expectEnvelope(await request(`${t.url}/generate`, { method: 'POST', json: { story_text: 'x' } }), 401);
    expectEnvelope(await requestRawPath(t.url, 'GET', '/../package.json'), 404);
    expectEnvelope(await requestRawPath(t.url, 'GET', '/js/../../package.json'), 404);
    expect((await request(`${t.url}/health/live`)).status).toBe(200);
  });

  it('tells a client at GET /info, without a key, that a key is required and what a story may be', async () => {
    const info = await request(`${t.url}/info`);
    expect(info.status).toBe(200);
    expect(info.body).toEqual({
      version: expect.any(String),
      auth: { api_key_required: true, api_key_headers: ['X-API-Key', 'Authorization: Bearer'] },
      generate: {
        media_types: ['cinematic', 'cartoon', 'realistic'],
        default_media_type: 'cinematic',
        num_scenes: { min: 1, max: 20, default: 5 },
        max_story_chars: 50_000,
      },
    });
    expect(JSON.stringify(info.body)).not.toContain(KEY);
  });
});

describe('the studio switched off, and an open API', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ STUDIO_ENABLED: 'false' });
  });
  afterAll(() => t.close());

  it('answers GET / and its files with the 404 envelope, and /info still says no key is needed', async () => {
    expectEnvelope(await request(`${t.url}/`), 404);
    expectEnvelope(await request(`${t.url}/js/main.js`), 404);
    const info = await request<{ auth: { api_key_required: boolean } }>(`${t.url}/info`);
    expect(info.body.auth.api_key_required).toBe(false);
  });
});
