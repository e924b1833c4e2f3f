import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { pollUntil } from '../support/test-env';
import { startTestS3, TestS3 } from '../support/test-s3';
import { readZip } from '../support/zip-reader';
import { Cluster, summarize } from './support/cluster';
import { record } from './support/tally';

const SCENES = 5;

describe('images in an S3-compatible bucket', () => {
  let s3: TestS3;
  beforeAll(async () => {
    s3 = await startTestS3();
  });
  afterAll(() => s3.close());

  it('loses nothing when the worker fetching approved images into the bucket is killed mid-download', async () => {
    const prefix = `rel-${randomBytes(4).toString('hex')}/`;
    const cluster = await Cluster.start({
      apis: 1,
      workers: 1,
      vars: { ...s3.vars(prefix), DOWNLOAD_CONCURRENCY: '2' },
    });
    try {
      const id = await cluster.generate(SCENES);
      const outcomes = await cluster.settle([id], 30_000);
      expect(outcomes.get(id)?.status).toBe('completed');

      // The image host holds its answers: the download job is mid-way when its worker dies.
      cluster.runware.images.set({ held: true });
      const approve = await cluster.client.call('/approve', {
        method: 'POST',
        json: { session_id: id, approved_scenes: [0, 1, 2, 3, 4] },
      });
      expect(approve.status).toBe(200);
      const imagePaths = (
        await cluster.client.call<{ scenes: { image_url: string }[] }>(`/status/${id}`)
      ).body.scenes.map((scene) => new URL(scene.image_url).pathname);
      await pollUntil(
        async () => imagePaths.filter((path) => cluster.runware.images.requestsFor(path) > 0).length,
        (asked) => asked >= 2,
        15_000,
      );
      const victim = cluster.workers[0];
      await victim.stop('SIGKILL');
      cluster.retire(victim);
      cluster.runware.images.set({ held: false });
      cluster.runware.images.release();
      await cluster.addWorker().waitForOutput('Worker started');

      const done = await pollUntil(
        () => cluster.client.call<{ download_status: string }>(`/status/${id}`),
        (r) => r.body.download_status !== 'started',
        60_000,
      );
      expect(done.body.download_status).toBe('completed');
      // Exactly one object per approved scene, each what the provider served, and the export is made of them
      // (beside them: the cast portraits copied for the export, and the storyboard PDF built from them all).
      const all = await s3.keys(`${prefix}${id}/`);
      const keys = all.filter((key) => /\/scene_\d+\.png$/.test(key));
      expect(keys).toEqual(imagePaths.map((_, i) => `${prefix}${id}/scene_0${i + 1}.png`));
      const { cast } = (await cluster.client.call<{ cast: { status: string }[] }>(`/status/${id}`)).body;
      const castCount = cast.filter((member) => member.status === 'done').length;
      expect(all.filter((key) => /\/cast_\d+\.png$/.test(key))).toHaveLength(castCount);
      expect(all.filter((key) => /\/storyboard\/[0-9a-f]{16}\.pdf$/.test(key))).toHaveLength(1);
      expect(all).toHaveLength(keys.length + castCount + 1);
      const zip = await fetch(`${cluster.apis[0].url}/download`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ session_id: id }),
      });
      expect(zip.status).toBe(200);
      const images = (await readZip(Buffer.from(await zip.arrayBuffer()))).filter((e) =>
        e.name.startsWith('images/'),
      );
      expect(images).toHaveLength(SCENES);
      for (const [i, entry] of images.entries()) {
        const object = await s3.object(keys[i]);
        expect(entry.data.equals(object)).toBe(true);
        expect(object.equals(await cluster.runware.images.bytesFor(imagePaths[i]))).toBe(true);
      }
      expect(readdirSync(cluster.env.imageDir, { recursive: true })).toEqual([]);
      expect(s3.refused()).toEqual([]);
      expect(cluster.crashed()).toEqual([]);
      expect(cluster.client.unexpected5xx).toEqual([]);
      record('worker SIGKILL mid-download (s3 storage)', {
        ...summarize(outcomes),
        faults: { 'worker killed (SIGKILL) mid-download': 1 },
        requests: cluster.client.requests,
        unexpected_5xx: cluster.client.unexpected5xx.length,
      });
    } finally {
      await cluster.stop();
    }
  });
});
