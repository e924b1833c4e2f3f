import { expectEnvelope } from '../support/http-client';
import { pollUntil } from '../support/test-env';
import { Cluster, summarize } from './support/cluster';
import { PrivateRedis } from './support/private-redis';
import { record } from './support/tally';

describe('Redis stopped and started again mid-run', () => {
  it('answers 503 with the envelope while Redis is down, then every process reconnects and every session completes', async () => {
    const redis = await PrivateRedis.start();
    const cluster = await Cluster.start({
      apis: 1,
      workers: 2,
      vars: { REDIS_URL: redis.url },
      runware: { behaviour: { latencyMs: 800 } },
    });
    try {
      const client = cluster.client;
      const before = await Promise.all([4, 4, 4].map((n) => cluster.generate(n)));
      // Stop Redis while renders are in flight.
      await pollUntil(
        async () => cluster.runware.stats.imageTasks.length,
        (sent) => sent >= 2,
        10_000,
      );

      await redis.down();
      client.outage = true;
      const started = Date.now();
      const status = await client.call(`/status/${before[0]}`);
      expectEnvelope(status, 503);
      expectEnvelope(
        await client.call('/generate', { method: 'POST', json: { story_text: 'During the outage.' } }),
        503,
      );
      const health = await client.call('/health');
      expect(health.status).toBe(503);
      expect(health.body).toMatchObject({ status: 'unhealthy', status_code: 503 });
      expectEnvelope(await client.call('/health/ready'), 503);
      expect((await client.call('/health/live')).status).toBe(200);
      // Fast answers, not hung requests: four calls well inside the command timeout.
      expect(Date.now() - started).toBeLessThan(8_000);

      await redis.up();
      // The API reconnects by itself: readiness comes back without a restart.
      const deadline = Date.now() + 20_000;
      while ((await client.call('/health/ready')).status !== 200) {
        if (Date.now() > deadline)
          throw new Error(`API did not reconnect:\n${cluster.apis[0].process.output.slice(-3000)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      client.outage = false;
      const after = await Promise.all([3, 3].map((n) => cluster.generate(n)));
      const outcomes = await cluster.settle([...before, ...after], 90_000);
      for (const [id, outcome] of outcomes) {
        expect({ id, status: outcome.status, error: outcome.error }).toEqual({
          id,
          status: 'completed',
          error: null,
        });
      }
      expect(cluster.crashed()).toEqual([]);
      expect(client.unexpected5xx).toEqual([]);
      record('Redis stopped and restarted (AOF)', {
        ...summarize(outcomes),
        faults: { 'Redis restarts': 1 },
        requests: client.requests,
        unexpected_5xx: client.unexpected5xx.length,
        outage_503: client.outage503,
      });
    } finally {
      await cluster.stop();
      await redis.destroy();
    }
  });
});
