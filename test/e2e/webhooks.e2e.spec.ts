import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import { Webhook } from 'standardwebhooks';
import { SessionStore } from '../../src/sessions/session.store';
import { QueueName } from '../../src/domain/jobs';
import { startFakeOpenRouter, FakeOpenRouter } from '../support/fake-openrouter';
import { startFakeRunware, FakeRunware } from '../support/fake-runware';
import { expectEnvelope, request } from '../support/http-client';
import { liveProviderVars } from '../support/live-vars';
import { CapturingLogger, startTestApp, TestApp } from '../support/test-app';
import { pollUntil, REDIS_URL } from '../support/test-env';
import { createSession } from '../support/session-record';

// 32 bytes, base64: a secret in the form the standardwebhooks package generates.
const SECRET = `whsec_${Buffer.from('webhook-test-secret-0123456789ab').toString('base64')}`;
const SECRET_BYTES = SECRET.slice('whsec_'.length);
const STORY = 'Mara found a glowing lantern in the attic. She carried it down to the harbour at dusk.';

interface Delivery {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Whether the signature verified with standardwebhooks, as a receiver would check it. */
  verified: boolean;
  answered: number;
  event: { type: string; timestamp: string; data: Record<string, unknown> };
}

/** A local webhook receiver: verifies every request and answers each path's scripted statuses, then 204. */
class Receiver {
  readonly deliveries: Delivery[] = [];
  private readonly scripts = new Map<string, number[]>();
  private readonly verifier = new Webhook(SECRET);

  /** Whether a delivery's signature holds, as a receiver checks it (Standard Webhooks). */
  verifies(body: string, headers: Record<string, string>): boolean {
    try {
      this.verifier.verify(body, headers);
      return true;
    } catch {
      return false;
    }
  }
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '/';
      const verified = this.verifies(body, req.headers as Record<string, string>);
      const answered = this.scripts.get(path)?.shift() ?? 204;
      this.deliveries.push({
        path,
        headers: req.headers,
        body,
        verified,
        answered,
        event: JSON.parse(body) as Delivery['event'],
      });
      res.writeHead(answered).end();
    });
  });
  port = 0;

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  script(path: string, statuses: number[]): void {
    this.scripts.set(path, statuses);
  }

  to(path: string, type?: string): Delivery[] {
    return this.deliveries.filter((d) => d.path === path && (!type || d.event.type === type));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

type WebhookView = {
  url: string;
  last_event: string | null;
  last_status_code: number | null;
  attempts: number;
  delivered_at: string | null;
};
type Status = {
  status: string;
  phase: string;
  download_status: string;
  scenes: { index: number; version: number; status: string }[];
  webhook: WebhookView | null;
};

describe('signed webhooks (offline)', () => {
  const receiver = new Receiver();
  const logger = new CapturingLogger();
  let t: TestApp;

  const generate = (json: Record<string, unknown>) =>
    request<Record<string, unknown>>(`${t.url}/generate`, { method: 'POST', json });
  const status = async (id: string) => (await request<Status>(`${t.url}/status/${id}`)).body;
  const activeSessions = async () =>
    (await request<{ active_sessions: number }>(`${t.url}/debug/sessions`)).body.active_sessions;
  /** The delivery that succeeded for `type` on `path`, once there is one. */
  const delivered = (path: string, type: string) =>
    pollUntil(
      async () => receiver.to(path, type),
      (list) => list.some((d) => d.answered < 300),
      20_000,
    );

  beforeAll(async () => {
    await receiver.start();
    t = await startTestApp(
      {
        WEBHOOK_SECRET: SECRET,
        // The receiver by name; and a wildcard that matches 127.0.0.1 on port 9 only by suffix, so that
        // host must resolve to a public address (and does not).
        WEBHOOK_ALLOWED_HOSTS: `127.0.0.1:${receiver.port},*.0.0.1:9`,
        WEBHOOK_ATTEMPTS: '5',
        WEBHOOK_TIMEOUT_MS: '2000',
        DEBUG_MODE: 'true',
      },
      undefined,
      logger,
    );
  });
  afterAll(async () => {
    await t.close();
    await receiver.close();
  });

  it('delivers session.completed signed, retrying two 500s with the same webhook-id', async () => {
    receiver.script('/flaky', [500, 500]);
    const res = await generate({ story_text: STORY, num_scenes: 2, callback_url: receiver.url('/flaky') });
    expect(res.status).toBe(200);
    const id = res.body.session_id as string;

    const attempts = await delivered('/flaky', 'session.completed');
    expect(attempts.map((d) => d.answered)).toEqual([500, 500, 204]);
    expect(attempts.every((d) => d.verified)).toBe(true);
    expect(new Set(attempts.map((d) => d.headers['webhook-id'])).size).toBe(1);
    // The same event each time: the same body, signed afresh per attempt.
    expect(new Set(attempts.map((d) => d.body)).size).toBe(1);
    for (const d of attempts) {
      expect(d.headers['webhook-timestamp']).toMatch(/^\d+$/);
      expect(d.headers['webhook-signature']).toMatch(/^v1,/);
      expect(d.headers['content-type']).toBe('application/json');
    }
    expect(attempts[2].event).toMatchObject({
      type: 'session.completed',
      timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      data: {
        session_id: id,
        status: 'completed',
        phase: 'awaiting_approval',
        num_scenes: 2,
        scenes_done: 2,
        scenes_failed: 0,
        download_status: 'not_started',
      },
    });
    // The receiver's check is real: the same delivery with a signature made with another secret fails it.
    const last = attempts[2];
    const webhookId = last.headers['webhook-id'] as string;
    const forged = {
      'webhook-id': webhookId,
      'webhook-timestamp': last.headers['webhook-timestamp'] as string,
      'webhook-signature': new Webhook(`whsec_${'A'.repeat(43)}=`).sign(webhookId, new Date(), last.body),
    };
    expect(receiver.verifies(last.body, last.headers as Record<string, string>)).toBe(true);
    expect(receiver.verifies(last.body, forged)).toBe(false);

    const shown = await pollUntil(
      () => status(id),
      (s) => s.webhook?.delivered_at !== null,
    );
    expect(shown.webhook).toEqual({
      url: receiver.url('/flaky'),
      last_event: 'session.completed',
      last_status_code: 204,
      attempts: 3,
      delivered_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });
    const raw = JSON.stringify(shown);
    expect(raw).not.toContain(SECRET_BYTES);
    expect(raw).not.toContain('whsec_');
  });

  it('delivers scene.regenerated after a regeneration, and download.completed after approval', async () => {
    const res = await generate({ story_text: STORY, num_scenes: 2, callback_url: receiver.url('/story') });
    const id = res.body.session_id as string;
    await delivered('/story', 'session.completed');

    const regen = await request(`${t.url}/sessions/${id}/scenes/1/regenerate`, {
      method: 'POST',
      json: { seed: 77 },
    });
    expect(regen.status).toBe(202);
    const [regenerated] = (await delivered('/story', 'scene.regenerated')).filter((d) => d.answered < 300);
    expect(regenerated.verified).toBe(true);
    expect(regenerated.event.data).toMatchObject({
      session_id: id,
      status: 'completed',
      phase: 'awaiting_approval',
      scene: { index: 1, version: 2, status: 'done', error: null, current_version: 2 },
    });
    // The regeneration finalised the session again, which is reported once, by scene.regenerated.
    expect(receiver.to('/story', 'session.completed')).toHaveLength(1);

    const approve = await request(`${t.url}/approve`, {
      method: 'POST',
      json: { session_id: id, approved_scenes: [0, 1] },
    });
    expect(approve.status).toBe(200);
    const [done] = (await delivered('/story', 'download.completed')).filter((d) => d.answered < 300);
    expect(done.verified).toBe(true);
    expect(done.event.data).toMatchObject({
      session_id: id,
      download_status: 'completed',
      approved_scenes: [0, 1],
      download_error: null,
    });
    const ids = receiver.to('/story').map((d) => d.headers['webhook-id']);
    expect(new Set(ids).size).toBe(3);
    const shown = await pollUntil(
      () => status(id),
      (s) => s.webhook?.last_event === 'download.completed',
    );
    expect(shown.webhook).toMatchObject({ last_status_code: 204, attempts: 1 });
  });

  it('stops after one attempt when the receiver answers 410', async () => {
    receiver.script('/gone', [410, 410, 410]);
    const res = await generate({ story_text: STORY, num_scenes: 1, callback_url: receiver.url('/gone') });
    const id = res.body.session_id as string;
    const webhooks = t.app.get<Queue>(getQueueToken(QueueName.Webhooks), { strict: false });
    const jobId = `msg_${id}_session.completed`;
    const job = await pollUntil(
      async () => webhooks.getJob(jobId),
      (j) => j !== undefined && j.finishedOn !== undefined,
      20_000,
    );
    expect(await job?.getState()).toBe('failed');
    expect(job?.attemptsMade).toBe(1);
    expect(receiver.to('/gone').map((d) => d.answered)).toEqual([410]);
    expect((await status(id)).webhook).toEqual({
      url: receiver.url('/gone'),
      last_event: 'session.completed',
      last_status_code: 410,
      attempts: 1,
      delivered_at: null,
    });
  });

  it('refuses a callback_url outside WEBHOOK_ALLOWED_HOSTS with 400, creating nothing', async () => {
    const before = await activeSessions();
    for (const url of [
      'http://example.com/hook', // not listed
      `http://127.0.0.1:${receiver.port + 1}/hook`, // listed host, other port
      'http://127.0.0.1:9/hook', // matched only by *.0.0.1:9, and resolves to a private address
      `ftp://127.0.0.1:${receiver.port}/hook`,
      'not a url',
      `http://user:pass@127.0.0.1:${receiver.port}/hook`,
    ]) {
      const res = await generate({ story_text: STORY, num_scenes: 1, callback_url: url });
      expectEnvelope(res, 400);
    }
    const privateHost = await generate({
      story_text: STORY,
      num_scenes: 1,
      callback_url: 'http://127.0.0.1:9/hook',
    });
    expect(JSON.stringify(privateHost.body)).toContain('private address');
    expectEnvelope(await generate({ story_text: STORY, num_scenes: 1, callback_url: 42 }), 400);
    expect(await activeSessions()).toBe(before);
  });

  it('a session without callback_url has webhook null; /debug/config shows the secret only as configured', async () => {
    const res = await generate({ story_text: STORY, num_scenes: 1 });
    expect((await status(res.body.session_id as string)).webhook).toBeNull();
    const config = await request(`${t.url}/debug/config`);
    expect((config.body.api_keys as Record<string, string>).webhook_secret).toBe('configured');
    expect(JSON.stringify(config.body)).not.toContain(SECRET_BYTES);
    expect(logger.lines.join('\n')).not.toContain(SECRET_BYTES);
  });
});

describe('signed webhooks: a session that fails (live mode against the fakes)', () => {
  const receiver = new Receiver();
  let openrouter: FakeOpenRouter;
  let runware: FakeRunware;
  let t: TestApp;

  beforeAll(async () => {
    await receiver.start();
    openrouter = await startFakeOpenRouter({ apiKey: 'or-key-0123456789' });
    runware = await startFakeRunware({ apiKey: 'rw-key-0123456789' });
    t = await startTestApp({
      ...liveProviderVars(openrouter, runware, {
        openrouter: 'or-key-0123456789',
        runware: 'rw-key-0123456789',
      }),
      PROVIDER_OUTAGE_TOLERANCE_SECONDS: '0',
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_ALLOWED_HOSTS: `127.0.0.1:${receiver.port}`,
    });
  });
  afterAll(async () => {
    await t.close();
    await openrouter.close();
    await runware.close();
    await receiver.close();
  });

  it('delivers session.failed when planning is refused', async () => {
    openrouter.set({ status: 401 });
    const res = await request<Record<string, unknown>>(`${t.url}/generate`, {
      method: 'POST',
      json: { story_text: STORY, num_scenes: 2, callback_url: receiver.url('/failed') },
    });
    expect(res.status).toBe(200);
    const [failed] = await pollUntil(
      async () => receiver.to('/failed', 'session.failed'),
      (list) => list.length > 0,
      20_000,
    );
    expect(failed.verified).toBe(true);
    expect(failed.event.data).toMatchObject({
      session_id: res.body.session_id,
      status: 'failed',
      phase: 'failed',
      error: expect.stringMatching(/OpenRouter rejected the API key/),
    });
  });
});

describe('signed webhooks: not configured', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ WEBHOOK_ALLOWED_HOSTS: '127.0.0.1:8080' });
  });
  afterAll(() => t.close());

  it('refuses any callback_url with 400 without WEBHOOK_SECRET', async () => {
    const res = await request(`${t.url}/generate`, {
      method: 'POST',
      json: { story_text: STORY, num_scenes: 1, callback_url: 'http://127.0.0.1:8080/hook' },
    });
    expect(JSON.stringify(expectEnvelope(res, 400))).toContain('WEBHOOK_SECRET');
  });
});

describe('signed webhooks: an outcome whose event was never queued', () => {
  const receiver = new Receiver();
  let t: TestApp;

  beforeAll(async () => {
    await receiver.start();
    t = await startTestApp({
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_ALLOWED_HOSTS: `127.0.0.1:${receiver.port}`,
      // Housekeeping (and with it the reconciler) ticks often.
      HOUSEKEEPING_INTERVAL_MS: '300',
    });
  });
  afterAll(async () => {
    await t.close();
    await receiver.close();
  });

  it('is queued by housekeeping once the outcome has stood for a few seconds, and only once', async () => {
    const store = t.app.get(SessionStore);
    const id = await createSession(store, {
      requested_scenes: 1,
      story: STORY,
      callbackUrl: receiver.url('/lost'),
    });
    // As a worker that died right after writing the outcome would leave it: failed, no event queued.
    expect(await store.fail(id, 'The worker died')).toBe(true);
    const redis = new Redis(REDIS_URL);
    try {
      await redis.hset(
        `${t.env.prefix}:session:${id}`,
        'updated_at',
        new Date(Date.now() - 10_000).toISOString(),
      );
    } finally {
      redis.disconnect();
    }
    const got = await pollUntil(
      async () => receiver.to('/lost', 'session.failed'),
      (list) => list.length > 0,
      15_000,
    );
    expect(got[0].verified).toBe(true);
    expect(got[0].event.data).toMatchObject({ session_id: id, status: 'failed' });
    // Later ticks see the marker and queue nothing more.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(receiver.to('/lost')).toHaveLength(1);
  });

  it('leaves alone an event the normal path queued', async () => {
    const res = await request<{ session_id: string }>(`${t.url}/generate`, {
      method: 'POST',
      json: { story_text: STORY, num_scenes: 1, callback_url: receiver.url('/normal') },
    });
    expect(res.status).toBe(200);
    await pollUntil(
      async () => receiver.to('/normal', 'session.completed'),
      (list) => list.length > 0,
      15_000,
    );
    const redis = new Redis(REDIS_URL);
    try {
      // Old enough for the reconciler to look at it.
      await redis.hset(
        `${t.env.prefix}:session:${res.body.session_id}`,
        'updated_at',
        new Date(Date.now() - 10_000).toISOString(),
      );
    } finally {
      redis.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(receiver.to('/normal')).toHaveLength(1);
  });
});
