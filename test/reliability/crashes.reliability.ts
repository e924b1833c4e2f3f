import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { pollUntil } from '../support/test-env';
import { readZip } from '../support/zip-reader';
import { approveAll, Cluster, summarize } from './support/cluster';
import { record } from './support/tally';

const waitFor = (check: () => boolean, timeoutMs: number) =>
  pollUntil(
    async () => check(),
    (ok) => ok,
    timeoutMs,
  );

/** Exactly one file per approved scene, no temp leftovers. */
function expectOneFilePerScene(cluster: Cluster, id: string, sceneCount: number): void {
  const files = readdirSync(path.join(cluster.env.imageDir, id));
  expect(files.filter((f) => f.includes('.tmp'))).toEqual([]);
  const names = files.filter((f) => /^scene_\d+\./.test(f)).sort();
  expect(names).toEqual(
    Array.from({ length: sceneCount }, (_, i) => `scene_${String(i + 1).padStart(2, '0')}.png`),
  );
}

describe('crashes and restarts of real processes', () => {
  it('recovers the jobs of a worker killed with SIGKILL mid-render', async () => {
    const cluster = await Cluster.start({ apis: 1, workers: 2, runware: { behaviour: { latencyMs: 1500 } } });
    try {
      const ids = await Promise.all([5, 5, 5, 5].map((n) => cluster.generate(n)));
      await waitFor(() => cluster.runware.stats.imageTasks.length >= 10, 20_000);
      const victim = cluster.workers[0];
      await victim.stop('SIGKILL');
      cluster.retire(victim);
      cluster.addWorker();

      const outcomes = await cluster.settle(ids, 60_000);
      for (const outcome of outcomes.values()) {
        expect(outcome.status).toBe('completed');
        expect(outcome.scenes.every((s) => s.status === 'done')).toBe(true);
      }
      await approveAll(cluster, ids);
      for (const id of ids) expectOneFilePerScene(cluster, id, 5);
      expect(cluster.crashed()).toEqual([]);
      expect(cluster.client.unexpected5xx).toEqual([]);
      record('worker SIGKILL mid-render', {
        ...summarize(outcomes),
        faults: { 'worker killed (SIGKILL)': 1 },
        requests: cluster.client.requests,
        unexpected_5xx: cluster.client.unexpected5xx.length,
      });
    } finally {
      await cluster.stop();
    }
  });

  it('serves the same sessions from another API process after one is killed', async () => {
    const cluster = await Cluster.start({ apis: 2, workers: 1 });
    try {
      const ids = await Promise.all([3, 4].map((n) => cluster.generate(n)));
      await cluster.settle(ids, 30_000);
      const before = await Promise.all(ids.map((id) => cluster.client.call(`/status/${id}`)));
      const victim = cluster.apis[0];
      await victim.process.stop('SIGKILL');
      cluster.retire(victim.process);
      cluster.client.baseUrl = cluster.apis[0].url;
      const after = await Promise.all(ids.map((id) => cluster.client.call(`/status/${id}`)));
      expect(after.map((r) => r.body)).toEqual(before.map((r) => r.body));
      await approveAll(cluster, ids);
      const zip = await cluster.client.fetch('/download', {
        method: 'POST',
        body: new URLSearchParams({ session_id: ids[1] }),
      });
      expect(zip.status).toBe(200);
      expect(
        (await readZip(Buffer.from(await zip.arrayBuffer()))).filter((e) => e.name.startsWith('images/')),
      ).toHaveLength(4);
      const outcomes = await cluster.settle(ids, 5_000);
      expect(cluster.crashed()).toEqual([]);
      record('API SIGKILL, other API takes over', {
        ...summarize(outcomes),
        faults: { 'API killed (SIGKILL)': 1 },
        requests: cluster.client.requests,
        unexpected_5xx: cluster.client.unexpected5xx.length,
      });
    } finally {
      await cluster.stop();
    }
  });

  it('drains a worker on SIGTERM: in-flight jobs finish, nothing is lost, the process exits in time', async () => {
    const cluster = await Cluster.start({ apis: 1, workers: 2, runware: { behaviour: { latencyMs: 2000 } } });
    try {
      const ids = await Promise.all([6, 6, 6].map((n) => cluster.generate(n)));
      await waitFor(() => cluster.runware.stats.imageTasks.length >= 8, 20_000);
      const victim = cluster.workers[0];
      const { ms } = await victim.stop('SIGTERM', 20_000);
      cluster.retire(victim);
      // Bounded by SHUTDOWN_TIMEOUT_MS (10 s) plus process teardown.
      expect(ms).toBeLessThan(15_000);
      expect(victim.output).toContain('Shut down cleanly after SIGTERM');
      const outcomes = await cluster.settle(ids, 60_000);
      for (const outcome of outcomes.values()) {
        expect(outcome.status).toBe('completed');
        expect(outcome.scenes.every((s) => s.status === 'done')).toBe(true);
      }
      expect(cluster.crashed()).toEqual([]);
      record('worker SIGTERM while rendering', {
        ...summarize(outcomes),
        faults: { 'worker stopped (SIGTERM)': 1 },
        requests: cluster.client.requests,
        unexpected_5xx: cluster.client.unexpected5xx.length,
      });
    } finally {
      await cluster.stop();
    }
  });

  it('drains an API process on SIGTERM: a ZIP being streamed completes, new connections are refused', async () => {
    const cluster = await Cluster.start({ apis: 2, workers: 1, runware: { imageBytes: 1_500_000 } });
    try {
      const id = await cluster.generate(10);
      await cluster.settle([id], 30_000);
      await approveAll(cluster, [id]);
      const api = cluster.apis[0];
      const response = await fetch(`${api.url}/download`, {
        method: 'POST',
        body: new URLSearchParams({ session_id: id }),
      });
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      const chunks: Uint8Array[] = [];
      const first = await reader.read();
      if (first.value) chunks.push(first.value);
      // SIGTERM while the ZIP is mid-stream; the client is slow to read the rest.
      const stopping = api.process.stop('SIGTERM', 20_000);
      // New connections are refused once the server has stopped listening (a moment after the signal).
      await pollUntil(
        () =>
          fetch(`${api.url}/health/live`).then(
            () => false,
            () => true,
          ),
        (isRefused) => isRefused,
        5_000,
      );
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
      }
      const { ms } = await stopping;
      cluster.retire(api.process);
      expect(ms).toBeLessThan(15_000);
      const entries = await readZip(Buffer.concat(chunks));
      expect(entries.filter((e) => e.name.startsWith('images/'))).toHaveLength(10);
      expect(api.process.output).toContain('Shut down cleanly after SIGTERM');
      cluster.client.baseUrl = cluster.apis[0].url;
      const outcomes = await cluster.settle([id], 5_000);
      record('API SIGTERM while streaming a ZIP', {
        ...summarize(outcomes),
        faults: { 'API stopped (SIGTERM)': 1 },
        requests: cluster.client.requests,
        unexpected_5xx: cluster.client.unexpected5xx.length,
      });
    } finally {
      await cluster.stop();
    }
  });
});
