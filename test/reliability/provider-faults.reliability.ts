import { storedValues } from '../support/test-env';
import { readZip } from '../support/zip-reader';
import { approveAll, Cluster, OPENROUTER_KEY, RUNWARE_KEY, summarize } from './support/cluster';
import { record } from './support/tally';

describe('providers failing', () => {
  it('completes every session with ~20% 5xx/429 and ~5% hangs injected, and leaks no key anywhere', async () => {
    const cluster = await Cluster.start({
      apis: 1,
      workers: 2,
      vars: {
        JOB_ATTEMPTS: '10',
        JOB_BACKOFF_MS: '100',
        OPENROUTER_TIMEOUT_MS: '1500',
        RUNWARE_TIMEOUT_MS: '1500',
        DEBUG_MODE: 'true',
      },
      openrouter: { seed: 7, behaviour: { latencyMs: 50, faults: { errorRate: 0.2, hangRate: 0.05 } } },
      runware: { seed: 11, behaviour: { latencyMs: 100, faults: { errorRate: 0.2, dropRate: 0.05 } } },
    });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 12; i++) ids.push(await cluster.generate(5));
      const outcomes = await cluster.settle(ids, 120_000);
      for (const outcome of outcomes.values()) expect(outcome.status).toBe('completed');

      // Export one session, so the ZIP is searched for keys too.
      const id = ids[0];
      const rendered = (await approveAll(cluster, [id])).get(id) ?? [];
      const response = await cluster.client.fetch('/download', {
        method: 'POST',
        body: new URLSearchParams({ session_id: id }),
      });
      expect(response.status).toBe(200);
      const zip = Buffer.from(await response.arrayBuffer());
      expect((await readZip(zip)).filter((e) => e.name.startsWith('images/'))).toHaveLength(rendered.length);
      await cluster.client.call('/debug/config');
      await cluster.client.call('/debug/sessions');
      await cluster.client.call('/health');

      const planner = cluster.openrouter.injected;
      const images = cluster.runware.stats.injected;
      expect(
        Object.values(planner).reduce((a, b) => a + b, 0) + Object.values(images).reduce((a, b) => a + b, 0),
      ).toBeGreaterThan(5);
      const logs = cluster.logs();
      const stored = await storedValues(cluster.env.prefix);
      expect(stored.length).toBeGreaterThan(20);
      for (const secret of [OPENROUTER_KEY, RUNWARE_KEY, 'RELIABILITY-SECRET']) {
        expect(cluster.client.bodies.filter((b) => b.includes(secret))).toEqual([]);
        expect(logs.includes(secret)).toBe(false);
        expect(stored.filter((v) => v.includes(secret))).toEqual([]);
        expect(zip.includes(secret)).toBe(false);
      }
      expect(cluster.crashed()).toEqual([]);
      expect(cluster.client.unexpected5xx).toEqual([]);
      const faults: Record<string, number> = {};
      for (const [kind, n] of Object.entries(planner)) faults[`planner ${kind}`] = n;
      for (const [kind, n] of Object.entries(images)) faults[`image ${kind}`] = n;
      record('provider faults injected (~20% errors, ~5% hangs)', {
        ...summarize(outcomes),
        faults,
        requests: cluster.client.requests,
        unexpected_5xx: cluster.client.unexpected5xx.length,
      });
    } finally {
      await cluster.stop();
    }
  });

  it.each([
    ['OpenRouter', /Scene planning failed: .*(reach|connect).*OpenRouter/i],
    ['Runware', /Every scene failed to render: .*Runware/i],
  ])(
    'fails every session with a clear error when %s is down, and the workers stay up',
    async (provider, message) => {
      const cluster = await Cluster.start({
        apis: 1,
        workers: 2,
        vars: {
          JOB_ATTEMPTS: '3',
          JOB_BACKOFF_MS: '100',
          RUNWARE_CONNECT_TIMEOUT_MS: '1000',
          // Sessions fail after their attempts instead of waiting the outage out (provider-outage.reliability.ts).
          PROVIDER_OUTAGE_TOLERANCE_SECONDS: '0',
        },
      });
      try {
        if (provider === 'OpenRouter') await cluster.openrouter.close();
        else await cluster.runware.close();
        const ids: string[] = [];
        for (let i = 0; i < 4; i++) ids.push(await cluster.generate(3));
        const started = Date.now();
        const outcomes = await cluster.settle(ids, 60_000);
        for (const outcome of outcomes.values()) {
          expect(outcome.status).toBe('failed');
          expect(outcome.error).toMatch(message);
        }
        // Bounded: attempts × (timeout + backoff), not a hang.
        expect(Date.now() - started).toBeLessThan(45_000);
        expect(cluster.crashed()).toEqual([]);
        expect((await cluster.client.call('/health')).body.status).toBe('healthy');
        record(`${provider} down entirely`, {
          ...summarize(outcomes),
          faults: { [`${provider} down`]: 1 },
          requests: cluster.client.requests,
          unexpected_5xx: cluster.client.unexpected5xx.length,
        });
      } finally {
        await cluster.stop();
      }
    },
  );
});
