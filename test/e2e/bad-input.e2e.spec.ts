import { randomUUID } from 'node:crypto';
import { SessionStore } from '../../src/sessions/session.store';
import { expectEnvelope, request } from '../support/http-client';
import { errorMismatch, HostileContext, hostileInputs, send } from '../support/hostile-inputs';
import { startTestApp, TestApp } from '../support/test-app';
import { pollUntil } from '../support/test-env';

const story = 'Once upon a time. Then something happened. And it ended.';

describe('bad input gets its 4xx and the error envelope saying why', () => {
  let t: TestApp;
  const ctx = {} as HostileContext;

  beforeAll(async () => {
    t = await startTestApp();
    const create = async () =>
      (
        await request<{ session_id: string }>(`${t.url}/generate`, {
          method: 'POST',
          json: { story_text: story, num_scenes: 3 },
        })
      ).body.session_id;
    ctx.completedId = await create();
    ctx.approvedId = await create();
    for (const id of [ctx.completedId, ctx.approvedId]) {
      await pollUntil(
        () => request(`${t.url}/status/${id}`),
        (r) => r.body.status === 'completed',
      );
    }
    await request(`${t.url}/approve`, {
      method: 'POST',
      json: { session_id: ctx.approvedId, approved_scenes: [0] },
    });
    const store = t.app.get(SessionStore);
    // Sessions no worker will pick up (created without a job): one stays processing, one is failed.
    ctx.processingId = randomUUID();
    ctx.failedId = randomUUID();
    for (const id of [ctx.processingId, ctx.failedId]) {
      await store.create({ id, owner: null, media_type: 'cinematic', requested_scenes: 2, story, seed: 7 });
    }
    await store.update(ctx.failedId, {
      status: 'failed',
      phase: 'failed',
      error: 'Scene planning failed: test',
    });
  });
  afterAll(() => t.close());

  it.each(
    hostileInputs({ completedId: 'c', processingId: 'p', approvedId: 'a', failedId: 'f' }).map((c, i) => [
      c.name,
      i,
    ]),
  )('%s', async (_name, index) => {
    const c = hostileInputs(ctx)[index as number];
    const res = await send(t.url, c);
    const body = expectEnvelope(res, c.status);
    expect(errorMismatch(c, body.error)).toBeNull();
  });

  it('stays healthy and keeps its sessions intact after the bad inputs', async () => {
    const health = await request(`${t.url}/health`);
    expect(health.body.status).toBe('healthy');
    const status = await request<{ status: string; download_status: string; scenes: unknown[] }>(
      `${t.url}/status/${ctx.completedId}`,
    );
    expect(status.body).toMatchObject({ status: 'completed', download_status: 'not_started' });
    expect(status.body.scenes).toHaveLength(3);
  });
});
