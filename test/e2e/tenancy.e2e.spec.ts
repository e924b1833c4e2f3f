import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { UrlSigner } from '../../src/auth/url-signer';
import { QueueName } from '../../src/domain/jobs';
import { SessionStore } from '../../src/sessions/session.store';
import { expectEnvelope, JsonResponse, request } from '../support/http-client';
import { CapturingLogger, startTestApp, TestApp } from '../support/test-app';
import { pollUntil, REDIS_URL, TestEnv } from '../support/test-env';
import { readZip } from '../support/zip-reader';

const ALICE = 'alice-key-0123456789abcdef';
const BOB = 'bob-key-0123456789abcdef';
const STORY =
  'Mara found a lantern in the attic. She took it to the harbour. A boat was waiting for her there.';

type Scene = { image_url: string; download: { status: string; file_url: string | null } | null };
type Status = { status: string; download_status: string; scenes: Scene[] };

const as = (key: string) => ({ 'x-api-key': key });

async function generate(t: TestApp, key: string, extra: Record<string, string> = {}) {
  return request<{ session_id: string }>(`${t.url}/generate`, {
    method: 'POST',
    json: { story_text: STORY, media_type: 'cartoon', num_scenes: 2 },
    headers: { ...as(key), ...extra },
  });
}

const statusOf = (t: TestApp, id: string, key: string) =>
  request<Status>(`${t.url}/status/${id}`, { headers: as(key) });

async function completedSession(t: TestApp, key: string): Promise<{ id: string; status: Status }> {
  const started = await generate(t, key);
  expect(started.status).toBe(200);
  const id = started.body.session_id;
  const status = await pollUntil(
    async () => (await statusOf(t, id, key)).body,
    (s) => s.status !== 'processing',
  );
  expect(status.status).toBe('completed');
  return { id, status };
}

/** GET of a URL as a browser's <img> tag sends it: no header. */
const plainGet = (url: string) => fetch(url);

async function envelopeOf(res: Response, status: number): Promise<string> {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { error: string; status_code: number };
  expect(body.status_code).toBe(status);
  return body.error;
}

describe('sessions belong to the key that created them', () => {
  let t: TestApp;
  let alice: { id: string; status: Status };

  beforeAll(async () => {
    t = await startTestApp({ API_KEYS: `alice:${ALICE},${BOB}`, DEBUG_MODE: 'true' });
    alice = await completedSession(t, ALICE);
    const approved = await request(`${t.url}/approve`, {
      method: 'POST',
      json: { session_id: alice.id, approved_scenes: [0] },
      headers: as(ALICE),
    });
    expect(approved.status).toBe(200);
    alice.status = await pollUntil(
      async () => (await statusOf(t, alice.id, ALICE)).body,
      (s) => s.download_status !== 'started',
    );
    expect(alice.status.download_status).toBe('completed');
  });
  afterAll(() => t.close());

  it('records the key name as the owner, never the key', async () => {
    const redis = new Redis(REDIS_URL);
    try {
      const stored = await redis.hgetall(`${t.env.prefix}:session:${alice.id}`);
      expect(stored.owner).toBe('name:alice');
      expect(JSON.stringify(stored)).not.toContain(ALICE);
    } finally {
      redis.disconnect();
    }
    // An unnamed key is recorded as a hash of it.
    const bobs = await generate(t, BOB);
    const owner = (await t.app.get(SessionStore).get(bobs.body.session_id))?.owner;
    expect(owner).toMatch(/^key:[0-9a-f]{32}$/);
  });

  it('answers another valid key 404, exactly as for an unknown id', async () => {
    const unknown = randomUUID();
    const refusals: [string, (id: string) => Promise<JsonResponse>][] = [
      ['status', (id) => request(`${t.url}/status/${id}`, { headers: as(BOB) })],
      [
        'approve',
        (id) =>
          request(`${t.url}/approve`, {
            method: 'POST',
            json: { session_id: id, approved_scenes: [1] },
            headers: as(BOB),
          }),
      ],
      [
        'download',
        (id) => request(`${t.url}/download`, { method: 'POST', json: { session_id: id }, headers: as(BOB) }),
      ],
    ];
    for (const [name, send] of refusals) {
      const theirs = expectEnvelope(await send(alice.id), 404);
      const nobodys = expectEnvelope(await send(unknown), 404);
      expect({ [name]: theirs.error }).toEqual({ [name]: nobodys.error });
    }
    // Her image URLs, with Bob's key instead of the signature.
    for (const url of [alice.status.scenes[0].image_url, alice.status.scenes[0].download?.file_url ?? '']) {
      const path = new URL(url).pathname;
      expectEnvelope(await request(`${t.url}${path}`, { headers: as(BOB) }), 404);
      expect((await request(`${t.url}${path}`, { headers: as(ALICE) })).status).toBe(200);
    }
    // The debug listing shows each key its own sessions only.
    const listed = await request<{ sessions: { session_id: string }[] }>(`${t.url}/debug/sessions`, {
      headers: as(BOB),
    });
    expect(listed.body.sessions.map((s) => s.session_id)).not.toContain(alice.id);
    const own = await request<{ sessions: { session_id: string }[] }>(`${t.url}/debug/sessions`, {
      headers: as(ALICE),
    });
    expect(own.body.sessions.map((s) => s.session_id)).toContain(alice.id);
  });

  it("answers 404, not 304, to another key that sends the owner's ETag", async () => {
    const own = await fetch(`${t.url}/status/${alice.id}`, { headers: as(ALICE) });
    const etag = own.headers.get('etag') ?? '';
    expect(etag).not.toBe('');
    const replayed = await fetch(`${t.url}/status/${alice.id}`, {
      headers: { ...as(BOB), 'if-none-match': etag },
    });
    await envelopeOf(replayed, 404);
    const revalidated = await fetch(`${t.url}/status/${alice.id}`, {
      headers: { ...as(ALICE), 'if-none-match': etag },
    });
    expect(revalidated.status).toBe(304);
  });

  it('keeps a session with no recorded owner (from before owners) from every key', async () => {
    const legacy = randomUUID();
    const store = t.app.get(SessionStore);
    await store.create({
      id: legacy,
      owner: null,
      media_type: 'cartoon',
      requested_scenes: 1,
      story: STORY,
      seed: 1,
    });
    const redis = new Redis(REDIS_URL);
    try {
      // An open session (created without API_KEYS) is readable by every key...
      expect(await redis.hget(`${t.env.prefix}:session:${legacy}`, 'owner')).toBe('*');
      expect((await statusOf(t, legacy, BOB)).status).toBe(200);
      // ...but one with no owner field at all is nobody's.
      await redis.hdel(`${t.env.prefix}:session:${legacy}`, 'owner');
    } finally {
      redis.disconnect();
    }
    expectEnvelope(await statusOf(t, legacy, ALICE), 404);
    expectEnvelope(await statusOf(t, legacy, BOB), 404);
  });

  it('lets the owner read, approve and download as before', async () => {
    expect((await statusOf(t, alice.id, ALICE)).status).toBe(200);
    const zip = await fetch(`${t.url}/download`, {
      method: 'POST',
      headers: { ...as(ALICE), 'content-type': 'application/json' },
      body: JSON.stringify({ session_id: alice.id }),
    });
    expect(zip.status).toBe(200);
    const names = (await readZip(Buffer.from(await zip.arrayBuffer()))).map((entry) => entry.name);
    expect(names).toEqual(expect.arrayContaining(['scenes.json', 'story.txt']));
  });

  it('gives signed image URLs that load with no header, privately cached', async () => {
    const urls = [alice.status.scenes[0].image_url, alice.status.scenes[0].download?.file_url ?? ''];
    for (const url of urls) {
      expect(new URL(url).searchParams.get('signature')).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const expires = Number(new URL(url).searchParams.get('expires'));
      // Valid for at least IMAGE_URL_TTL_SECONDS (an hour by default), and not much longer.
      expect(expires * 1000 - Date.now()).toBeGreaterThan(3590_000);
      expect(expires * 1000 - Date.now()).toBeLessThan(4000_000);
      const image = await plainGet(url);
      expect(image.status).toBe(200);
      expect(image.headers.get('content-type')).toMatch(/^image\//);
      expect(image.headers.get('cache-control')).toBe('private, max-age=3600');
      expect((await image.arrayBuffer()).byteLength).toBeGreaterThan(100);
    }
  });

  it('refuses a missing, tampered or expired signature with the envelope; the key header still works', async () => {
    const signed = new URL(alice.status.scenes[0].image_url);
    const path = signed.pathname;
    const expires = Number(signed.searchParams.get('expires'));
    const signature = signed.searchParams.get('signature') ?? '';

    expect(await envelopeOf(await plainGet(`${t.url}${path}`), 401)).toMatch(/API key/);
    const flipped = `${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;
    expect(
      await envelopeOf(await plainGet(`${t.url}${path}?expires=${expires}&signature=${flipped}`), 403),
    ).toMatch(/signature/);
    // A longer life is a different message: the signature no longer matches.
    await envelopeOf(await plainGet(`${t.url}${path}?expires=${expires + 3600}&signature=${signature}`), 403);
    // Another file of the same session, with this file's signature.
    const other = new URL(alice.status.scenes[1].image_url).pathname;
    await envelopeOf(await plainGet(`${t.url}${other}?expires=${expires}&signature=${signature}`), 403);
    // Correctly signed, but two hours ago for an hour.
    const key = t.config.urlSigningKey as Buffer;
    const past = new UrlSigner(key, 3600, () => Date.now() - 2 * 3600_000);
    expect(await envelopeOf(await plainGet(`${t.url}${past.sign(path)}`), 403)).toMatch(/expired/);
    // The same signer with today's clock: the check above failed only on time.
    const now = new UrlSigner(key, 3600);
    expect((await plainGet(`${t.url}${now.sign(path)}`)).status).toBe(200);

    const withKey = await fetch(`${t.url}${path}`, { headers: as(ALICE) });
    expect(withKey.status).toBe(200);
    expect(withKey.headers.get('cache-control')).toBe('private, max-age=3600');
  });

  it('says once at start-up only when it is open to anyone', async () => {
    const logger = new CapturingLogger();
    const open = await startTestApp({}, new TestEnv(), logger);
    await open.close();
    expect(logger.lines.filter((line) => line.includes('No API_KEYS'))).toHaveLength(1);
    const keyedLogger = new CapturingLogger();
    const keyed = await startTestApp({ API_KEYS: ALICE }, new TestEnv(), keyedLogger);
    await keyed.close();
    expect(keyedLogger.lines.filter((line) => line.includes('No API_KEYS'))).toEqual([]);
  });
});

describe('renaming and replacing keys', () => {
  const env = new TestEnv();
  afterAll(() => env.cleanup());

  it('keeps access for a new value under the same name; a replaced unnamed key loses it', async () => {
    const first = await startTestApp({ API_KEYS: `alice:${ALICE},${BOB}` }, env);
    const named = await generate(first, ALICE);
    const unnamed = await generate(first, BOB);
    await first.app.close();

    const rotatedAlice = 'alice-rotated-0123456789abcdef';
    const rotatedBob = 'bob-rotated-0123456789abcdef';
    const second = await startTestApp({ API_KEYS: `alice:${rotatedAlice},${rotatedBob}` }, env);
    try {
      expect((await statusOf(second, named.body.session_id, rotatedAlice)).status).toBe(200);
      expectEnvelope(await statusOf(second, named.body.session_id, ALICE), 401);
      expectEnvelope(await statusOf(second, unnamed.body.session_id, rotatedBob), 404);
    } finally {
      await second.app.close();
    }
  });
});

describe('signed URLs without API_KEYS', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('stay plain and public, since the images are open anyway', async () => {
    const { status } = await completedSession(t, 'no-key-needed');
    const url = status.scenes[0].image_url;
    expect(new URL(url).search).toBe('');
    const image = await plainGet(url);
    expect(image.status).toBe(200);
    expect(image.headers.get('cache-control')).toBe('public, max-age=3600');
  });
});

describe('the rate limit covers the images', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ API_KEYS: ALICE, RATE_LIMIT_PER_MINUTE: '4' });
  });
  afterAll(() => t.close());

  it('answers 429 with Retry-After once signed image loads use up the budget', async () => {
    // The key's budget pays for one generate and one status read (waiting reads the store, not the API);
    // signed image loads carry no key, so they count against the client address.
    const started = await generate(t, ALICE);
    const id = started.body.session_id;
    const sessions = t.app.get(SessionStore);
    await pollUntil(
      () => sessions.get(id),
      (s) => s?.status !== 'processing',
    );
    const status = await statusOf(t, id, ALICE);
    expect(status.status).toBe(200);
    const url = status.body.scenes[0]?.image_url;
    expect(url).toEqual(expect.stringContaining('signature='));
    const answers: number[] = [];
    for (let i = 0; i < 4; i++) answers.push((await plainGet(url)).status);
    expect(answers).toEqual([200, 200, 200, 200]);
    const refused = await plainGet(url);
    await envelopeOf(refused, 429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('MAX_ACTIVE_SESSIONS_PER_KEY', () => {
  let t: TestApp;
  let queue: Queue;
  // An API process without workers: its sessions stay processing, as long renders would.
  beforeAll(async () => {
    t = await startTestApp({ ROLE: 'api', API_KEYS: `${ALICE},${BOB}`, MAX_ACTIVE_SESSIONS_PER_KEY: '2' });
    queue = t.app.get<Queue>(getQueueToken(QueueName.Generation));
  });
  afterAll(() => t.close());

  it('refuses a key past its limit with 429, Retry-After and nothing queued; others and repeats go on', async () => {
    const first = await generate(t, ALICE, { 'idempotency-key': 'quota-1' });
    const second = await generate(t, ALICE);
    expect([first.status, second.status]).toEqual([200, 200]);
    const queuedBefore = await queue.getJobCounts();

    const refused = await generate(t, ALICE);
    const body = expectEnvelope(refused, 429);
    expect(body.error).toMatch(/MAX_ACTIVE_SESSIONS_PER_KEY/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await queue.getJobCounts()).toEqual(queuedBefore);

    // A repeat of a request that already has its session is not a new session.
    const repeat = await generate(t, ALICE, { 'idempotency-key': 'quota-1' });
    expect(repeat.status).toBe(200);
    expect(repeat.body.session_id).toBe(first.body.session_id);
    // Another key has its own budget.
    expect((await generate(t, BOB)).status).toBe(200);

    // Once one of Alice's sessions is done (here: failed), she may start another.
    await t.app.get(SessionStore).fail(second.body.session_id, 'done for the test');
    expect((await generate(t, ALICE)).status).toBe(200);
    expectEnvelope(await generate(t, ALICE), 429);
  });

  it('lets concurrent requests of one key take no more than the limit', async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, () => generate(t, BOB)));
    // Bob had one processing session from the test above.
    expect(answers.filter((res) => res.status === 200)).toHaveLength(1);
    expect(answers.filter((res) => res.status === 429)).toHaveLength(5);
  });
});

describe('an Idempotency-Key whose session has expired', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ API_KEYS: ALICE });
  });
  afterAll(() => t.close());

  it('starts a new session instead of naming the expired one', async () => {
    const first = await generate(t, ALICE, { 'idempotency-key': 'expiring' });
    expect(first.status).toBe(200);
    // The session's key expires (as its TTL would) while the idempotency record is still there.
    const redis = new Redis(REDIS_URL);
    try {
      await redis.del(`${t.env.prefix}:session:${first.body.session_id}`);
    } finally {
      redis.disconnect();
    }
    const again = await generate(t, ALICE, { 'idempotency-key': 'expiring' });
    expect(again.status).toBe(200);
    expect(again.body.session_id).not.toBe(first.body.session_id);
    expect((await statusOf(t, again.body.session_id, ALICE)).status).toBe(200);
    // And it is that new session's key from now on.
    const third = await generate(t, ALICE, { 'idempotency-key': 'expiring' });
    expect(third.body.session_id).toBe(again.body.session_id);
  });
});
