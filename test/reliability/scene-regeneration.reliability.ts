import { pollUntil } from '../support/test-env';
import { readZip } from '../support/zip-reader';
import { Cluster, summarize } from './support/cluster';
import { record } from './support/tally';

type Scene = {
  index: number;
  status: string;
  error: string | null;
  seed: number | null;
  image_url: string | null;
  version: number;
  versions: { version: number; status: string; image_url: string | null; seed: number | null }[];
  download: { status: string; file_url: string | null; error: string | null } | null;
};
type Status = {
  status: string;
  phase: string;
  error: string | null;
  download_status: string;
  scenes: Scene[];
};

describe('regenerating a scene through crashes of real processes', () => {
  it('loses nothing when the worker rendering a regeneration is killed with SIGKILL', async () => {
    const cluster = await Cluster.start({ apis: 1, workers: 1 });
    try {
      const id = await cluster.generate(3);
      const first = (await cluster.settle([id], 30_000)).get(id);
      expect(first?.status).toBe('completed');
      const before = (await cluster.client.call<Status>(`/status/${id}`)).body;

      // The regeneration's render hangs in Runware long enough to kill its worker mid-task.
      cluster.runware.set({ latencyMs: 2500 });
      const tasksBefore = cluster.runware.stats.imageTasks.length;
      const res = await cluster.client.call(`/sessions/${id}/scenes/1/regenerate`, {
        method: 'POST',
        json: { seed: 4242 },
      });
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ version: 2, status: 'rendering' });
      await pollUntil(
        async () => cluster.runware.stats.imageTasks.length,
        (n) => n > tasksBefore,
        20_000,
      );
      const victim = cluster.workers[0];
      await victim.stop('SIGKILL');
      cluster.retire(victim);
      const meanwhile = (await cluster.client.call<Status>(`/status/${id}`)).body;
      expect(meanwhile).toMatchObject({ status: 'processing', phase: 'rendering' });
      cluster.runware.set({ latencyMs: 0 });
      cluster.addWorker();

      // BullMQ hands the stalled job to the new worker; its render ends the scene and finalises the session.
      const outcome = (await cluster.settle([id], 60_000)).get(id);
      const after = (await cluster.client.call<Status>(`/status/${id}`)).body;
      expect(after).toMatchObject({ status: 'completed', phase: 'awaiting_approval', error: null });
      expect(after.scenes[1]).toMatchObject({ status: 'done', version: 2, seed: 4242, error: null });
      expect(after.scenes[1].versions.map((v) => [v.version, v.status, v.seed])).toEqual([
        [1, 'done', before.scenes[1].seed],
        [2, 'done', 4242],
      ]);
      expect(after.scenes[1].versions[0].image_url).toBe(before.scenes[1].image_url);
      // The other scenes were not rendered again.
      expect([after.scenes[0], after.scenes[2]]).toEqual([before.scenes[0], before.scenes[2]]);
      const regenerations = cluster.runware.stats.imageTasks.slice(tasksBefore);
      expect(regenerations.length).toBeGreaterThanOrEqual(2);
      expect(regenerations.every((task) => task.seed === 4242)).toBe(true);

      // The version that survived the crash is the one approval downloads and the ZIP records.
      const approved = await cluster.client.call('/approve', {
        method: 'POST',
        json: { session_id: id, approved_scenes: [0, 1, 2] },
      });
      expect(approved.status).toBe(200);
      const downloaded = await pollUntil(
        () => cluster.client.call<Status>(`/status/${id}`),
        (r) => r.body.download_status !== 'started',
        30_000,
      );
      expect(downloaded.body.scenes.map((scene) => scene.download)).toEqual([
        { status: 'done', file_url: expect.any(String), error: null },
        { status: 'done', file_url: expect.any(String), error: null },
        { status: 'done', file_url: expect.any(String), error: null },
      ]);
      expect(downloaded.body.download_status).toBe('completed');
      const zip = await cluster.client.fetch('/download', {
        method: 'POST',
        body: new URLSearchParams({ session_id: id }),
      });
      expect(zip.status).toBe(200);
      const entries = await readZip(Buffer.from(await zip.arrayBuffer()));
      const manifest = JSON.parse(entries.find((e) => e.name === 'scenes.json')!.data.toString()) as {
        index: number;
        version: number;
        seed: number;
        source_url: string;
      }[];
      expect(manifest.map((m) => [m.index, m.version])).toEqual([
        [0, 1],
        [1, 2],
        [2, 1],
      ]);
      expect(manifest[1]).toMatchObject({ seed: 4242, source_url: after.scenes[1].image_url });

      expect(cluster.crashed()).toEqual([]);
      expect(cluster.client.unexpected5xx).toEqual([]);
      record('worker SIGKILL mid-regenerate', {
        ...summarize(
          new Map([[id, outcome ?? { status: 'lost', error: null, scenes: [], download_status: '' }]]),
        ),
        faults: { 'worker killed (SIGKILL) mid-regenerate': 1 },
        requests: cluster.client.requests,
        unexpected_5xx: cluster.client.unexpected5xx.length,
      });
    } finally {
      await cluster.stop();
    }
  });
});
