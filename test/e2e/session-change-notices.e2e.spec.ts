import Redis from 'ioredis';
import { loadConfig } from '../../src/config/app-config';
import { newScene } from '../../src/domain/session.model';
import { RedisService } from '../../src/redis/redis.service';
import { sessionEventsChannel } from '../../src/sessions/session-changes';
import { SessionStore } from '../../src/sessions/session.store';
import { pollUntil, REDIS_URL, TestEnv } from '../support/test-env';

const ID = '3d9c1f7e-0a2b-4c5d-8e6f-7a8b9c0d1e2f';
const GONE = '9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b';

/** SessionStore's writes publish the session's new version from the script that wrote, and only then. */
describe('session change notices (real Redis)', () => {
  const env = new TestEnv();
  const config = loadConfig(env.vars({ ROLE: 'api' }));
  const redis = new RedisService(config);
  const store = new SessionStore(redis, config);
  const subscriber = new Redis(REDIS_URL);
  const notices: { channel: string; message: string }[] = [];

  beforeAll(async () => {
    await redis.onModuleInit();
    subscriber.on('message', (channel: string, message: string) => notices.push({ channel, message }));
    await subscriber.subscribe(
      sessionEventsChannel(config.redisPrefix, ID),
      sessionEventsChannel(config.redisPrefix, GONE),
    );
    await store.create({
      id: ID,
      owner: null,
      media_type: 'cartoon',
      requested_scenes: 1,
      story: 'S.',
      seed: 1,
    });
  });
  afterAll(async () => {
    subscriber.disconnect();
    await redis.onApplicationShutdown();
    await env.cleanup();
  });

  /** Waits for the notices a write should bring, after a marker write that always publishes. */
  const noticesAfter = async (write: () => Promise<unknown>): Promise<string[]> => {
    const before = notices.length;
    await write();
    const marker = await store.update(ID, { warnings: [] });
    expect(marker).toBe(true);
    const version = String((await store.get(ID))!.version);
    await pollUntil(
      async () => notices.map((n) => n.message),
      (messages) => messages.includes(version),
    );
    return notices.slice(before, -1).map((n) => n.message);
  };

  it("publishes the session's new version on its channel with every write", async () => {
    const version = (await store.get(ID))!.version;
    const seen = await noticesAfter(() =>
      store.savePlan(ID, { phase: 'rendering', renders_left: 1 }, [
        newScene(0, { title: 't', description: 'd', image_prompt: 'p' }),
      ]),
    );
    expect(seen).toEqual([String(version + 1)]);
    expect(notices.at(-1)!.channel).toBe(`${config.redisPrefix}:session-events:${ID}`);
  });

  it('publishes nothing when a script writes nothing', async () => {
    // A session no longer processing (this write publishes, and is waited for before the real check).
    expect(await noticesAfter(() => store.update(ID, { status: 'completed' }))).toHaveLength(1);
    const seen = await noticesAfter(async () => {
      // A second plan, a late write to an expired session, a failure of a session no longer processing.
      expect(await store.savePlan(ID, { phase: 'rendering' }, [])).toBe(false);
      expect(await store.update(GONE, { phase: 'rendering' })).toBe(false);
      expect(await store.fail(ID, 'late')).toBe(false);
    });
    expect(seen).toEqual([]);
    expect(notices.some((n) => n.channel.endsWith(GONE))).toBe(false);
  });
});
