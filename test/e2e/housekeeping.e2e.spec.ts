import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { ExpiredSessionSweeper } from '../../src/housekeeping/expired-session.sweeper';
import { JobName, QueueName } from '../../src/domain/jobs';
import { pendingPortrait, portraitFailureWarning } from '../../src/generation/casting';
import { SessionStore } from '../../src/sessions/session.store';
import { StalledSessionWatchdog } from '../../src/housekeeping/stalled-session.watchdog';
import { request } from '../support/http-client';
import { startTestApp, TestApp } from '../support/test-app';
import { pollUntil, REDIS_URL } from '../support/test-env';
import { createSession, plannedScene } from '../support/session-record';

describe('stalled-session watchdog', () => {
  let t: TestApp;
  const redis = new Redis(REDIS_URL);
  beforeAll(async () => {
    t = await startTestApp({ SESSION_STALL_MINUTES: '5' });
    await withoutScheduledTicks(t);
  });
  afterAll(async () => {
    redis.disconnect();
    await t.close();
  });

  it('fails sessions and downloads that made no progress for SESSION_STALL_MINUTES, and nothing else', async () => {
    const store = t.app.get(SessionStore);
    const [stalled, fresh, downloading, queued, rendered] = await Promise.all(
      [1, 2, 3, 4, 5].map(() => createSession(store)),
    );
    const longAgo = new Date(Date.now() - 6 * 60_000).toISOString();
    await redis.hset(`${t.env.prefix}:session:${stalled}`, 'updated_at', longAgo);
    // Quiet for as long, but its plan job is still queued (delayed): a backlog, not a stall.
    await redis.hset(`${t.env.prefix}:session:${queued}`, 'updated_at', longAgo);
    const generation = new Queue('generation', { connection: redis, prefix: `${t.env.prefix}:bull` });
    await generation.add('plan-story', { sessionId: queued }, { jobId: `plan-${queued}`, delay: 600_000 });
    await redis.hset(`${t.env.prefix}:session:${downloading}`, {
      status: 'completed',
      download_status: 'started',
      updated_at: longAgo,
    });

    // Planned, and both renders ended, but the signal that should have finalised it was lost.
    await store.savePlan(rendered, { renders_left: 2, phase: 'rendering' }, [
      plannedScene(0),
      plannedScene(1),
    ]);
    for (const index of [0, 1]) {
      const outcome =
        index === 0 ? { status: 'done' as const, image_url: '/x.png' } : { status: 'failed' as const };
      expect(await store.saveRender(rendered, index, { ...outcome, attempts: 1, error: null })).toBe(
        1 - index,
      );
    }
    await redis.hset(`${t.env.prefix}:session:${rendered}`, 'updated_at', longAgo);

    expect(await t.app.get(StalledSessionWatchdog).check()).toBe(3);

    const status = async (id: string) => (await request(`${t.url}/status/${id}`)).body;
    expect(await status(stalled)).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('no progress for 5 minutes'),
    });
    expect(await status(fresh)).toMatchObject({ status: 'processing', error: null });
    expect(await status(queued)).toMatchObject({ status: 'processing', error: null });
    await generation.close();
    expect(await status(downloading)).toMatchObject({ status: 'completed', download_status: 'failed' });
    // Finalised rather than failed: its rendered scene stays approvable.
    expect(await status(rendered)).toMatchObject({
      status: 'completed',
      phase: 'awaiting_approval',
      error: null,
      scenes: [{ status: 'done' }, { status: 'failed' }],
    });
  });

  it('moves a session whose portrait jobs were lost on to its scenes, from the text, with a warning each', async () => {
    const store = t.app.get(SessionStore);
    const id = await createSession(store, { story: 'Mira meets Tomas. They cross the bridge.', seed: 7 });
    const cast = [
      { name: 'Mira', description: 'a girl of ten, red coat' },
      { name: 'Tomas', description: 'an old ferryman, grey beard' },
    ];
    // Casting, one portrait's job lost while it ran and the other's before it started: nothing is queued.
    await store.savePlan(
      id,
      { renders_left: 2, portraits_left: 2, phase: 'casting', cast },
      [plannedScene(0, ['Mira']), plannedScene(1, ['Mira', 'Tomas'])],
      [
        { castIndex: 0, portrait: { ...pendingPortrait(7), status: 'rendering', attempts: 1 } },
        { castIndex: 1, portrait: pendingPortrait(7) },
      ],
    );
    await redis.hset(
      `${t.env.prefix}:session:${id}`,
      'updated_at',
      new Date(Date.now() - 6 * 60_000).toISOString(),
    );

    expect(await t.app.get(StalledSessionWatchdog).check()).toBe(1);

    type Status = {
      status: string;
      phase: string;
      warnings: string[];
      cast: { name: string; status: string; error: string | null }[];
      scenes: { status: string; references?: unknown[] }[];
    };
    const done = await pollUntil(
      () => request<Status>(`${t.url}/status/${id}`),
      (r) => r.body.status !== 'processing',
    );
    // Rendered by this app's worker from the text alone, not failed for want of portraits.
    expect(done.body).toMatchObject({ status: 'completed', phase: 'awaiting_approval' });
    expect(done.body.scenes.map((s) => [s.status, s.references])).toEqual([
      ['done', []],
      ['done', []],
    ]);
    expect(done.body.cast).toEqual([
      expect.objectContaining({ name: 'Mira', status: 'failed', error: 'Rendering did not complete' }),
      expect.objectContaining({ name: 'Tomas', status: 'failed', error: 'Rendering did not complete' }),
    ]);
    expect(done.body.warnings).toEqual([
      portraitFailureWarning('Mira', 'Rendering did not complete'),
      portraitFailureWarning('Tomas', 'Rendering did not complete'),
    ]);
  });
});

describe('expired-session sweeper', () => {
  let t: TestApp;
  const redis = new Redis(REDIS_URL);
  beforeAll(async () => {
    t = await startTestApp();
    await withoutScheduledTicks(t);
  });
  afterAll(async () => {
    redis.disconnect();
    await t.close();
  });

  // Removal after a real expiry, by the housekeeping tick, is in expiry.e2e.spec.ts.
  it("keeps a session's image folder while Redis still holds the session", async () => {
    const created = await request<{ session_id: string }>(`${t.url}/generate`, {
      method: 'POST',
      json: { story_text: 'One. Two.', num_scenes: 2 },
    });
    const id = created.body.session_id;
    const folder = path.join(t.env.imageDir, id);
    await pollUntil(
      () => Promise.resolve(existsSync(path.join(folder, 'renders', 'scene_02.png'))),
      (found) => found,
    );
    const sweeper = t.app.get(ExpiredSessionSweeper);
    expect(await sweeper.sweep()).toBe(0);

    // Its expiry time has passed in the index, but Redis still holds the session (TTLs are not exact).
    await redis.zadd(`${t.env.prefix}:sessions`, Date.now() - 1, id);
    expect(await sweeper.sweep()).toBe(0);
    expect(existsSync(folder)).toBe(true);
    expect(await redis.zscore(`${t.env.prefix}:sessions`, id)).not.toBeNull();
  });
});

/**
 * These tests call the sweeper and the watchdog themselves; a scheduled tick (aligned to the interval, so
 * it may fall mid-test) would race them. The ticks themselves are tested in expiry and workers specs.
 */
async function withoutScheduledTicks(t: TestApp): Promise<void> {
  const housekeeping = t.app.get<Queue>(getQueueToken(QueueName.Housekeeping));
  for (const name of [JobName.SweepExpiredSessions, JobName.CheckStalledSessions]) {
    await housekeeping.removeJobScheduler(name);
  }
  // A scheduler produces its first tick at once: drop it if still waiting, let it end if running.
  await housekeeping.drain(true);
  await pollUntil(
    () => housekeeping.getActiveCount(),
    (active) => active === 0,
  );
}
