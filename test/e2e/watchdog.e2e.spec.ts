import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { SessionStore } from '../../src/sessions/session.store';
import { StalledSessionWatchdog } from '../../src/sessions/stalled-session.watchdog';
import { request } from '../support/http-client';
import { startTestApp, TestApp } from '../support/test-app';
import { REDIS_URL } from '../support/test-env';

describe('stalled-session watchdog', () => {
  let t: TestApp;
  const redis = new Redis(REDIS_URL);
  beforeAll(async () => {
    t = await startTestApp({ SESSION_STALL_MINUTES: '5' });
  });
  afterAll(async () => {
    redis.disconnect();
    await t.close();
  });

  it('fails sessions and downloads that made no progress for SESSION_STALL_MINUTES, and nothing else', async () => {
    const store = t.app.get(SessionStore);
    const [stalled, fresh, downloading] = [randomUUID(), randomUUID(), randomUUID()];
    for (const id of [stalled, fresh, downloading]) {
      await store.create({ id, media_type: 'cartoon', requested_scenes: 2, story: 'A. B.', seed: 3 });
    }
    const longAgo = new Date(Date.now() - 6 * 60_000).toISOString();
    await redis.hset(`${t.env.prefix}:session:${stalled}`, 'updated_at', longAgo);
    await redis.hset(`${t.env.prefix}:session:${downloading}`, {
      status: 'completed',
      download_status: 'started',
      updated_at: longAgo,
    });

    expect(await t.app.get(StalledSessionWatchdog).check()).toBe(2);

    const status = async (id: string) => (await request(`${t.url}/status/${id}`)).body;
    expect(await status(stalled)).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('no progress for 5 minutes'),
    });
    expect(await status(fresh)).toMatchObject({ status: 'processing', error: null });
    expect(await status(downloading)).toMatchObject({ status: 'completed', download_status: 'failed' });
  });
});
