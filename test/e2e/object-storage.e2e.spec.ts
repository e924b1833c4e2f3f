import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { readdirSync } from 'node:fs';
import * as http from 'node:http';
import { SessionStore } from '../../src/sessions/session.store';
import { FakeOpenRouter, startFakeOpenRouter } from '../support/fake-openrouter';
import { FakeRunware, startFakeRunware } from '../support/fake-runware';
import { envelopeProblem, request } from '../support/http-client';
import { liveProviderVars } from '../support/live-vars';
import { pdfPageTexts } from '../support/pdf-tools';
import { CapturingLogger, startTestApp, TestApp } from '../support/test-app';
import { pollUntil, TestEnv } from '../support/test-env';
import { S3_ACCESS_KEY, S3_SECRET_KEY, startTestS3, TestS3 } from '../support/test-s3';
import { readZip } from '../support/zip-reader';

const STORY = 'Ada sails to the island. She finds the old map. The storm passes and the sun returns.';
const OPENROUTER_KEY = 'sk-or-v1-S3-E2E-71c0';
const RUNWARE_KEY = 'rw-S3-E2E-5d2a';

type Status = {
  status: string;
  download_status: string;
  scenes: { title: string; image_url: string; download: { status: string; error: string | null } | null }[];
};

describe('the s3 storage driver against an S3-compatible server (in-process app)', () => {
  let s3: TestS3;
  beforeAll(async () => {
    s3 = await startTestS3();
  });
  afterAll(() => s3.close());

  it('runs against servers without the newest checksum modes: the SDK defaults would be refused', async () => {
    const defaults = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY },
    });
    try {
      // The control: the front does refuse what the SDK sends by default, so the flows below prove the setting.
      await expect(
        defaults.send(
          new PutObjectCommand({ Bucket: s3.bucket, Key: 'control/x.png', Body: Buffer.from('x') }),
        ),
      ).rejects.toMatchObject({ $metadata: { httpStatusCode: 400 } });
    } finally {
      defaults.destroy();
      // Only the service's own requests are checked for refusals below.
      s3.requests.splice(0);
    }
  });

  describe('offline', () => {
    let t: TestApp;
    const logger = new CapturingLogger();
    const env = new TestEnv();
    const prefix = `${env.prefix}/`;
    const generate = async () => {
      const res = await request<{ session_id: string }>(`${t.url}/generate`, {
        method: 'POST',
        json: { story_text: STORY, num_scenes: 3 },
      });
      expect(res.status).toBe(200);
      const done = await pollUntil(
        () => request<Status>(`${t.url}/status/${res.body.session_id}`),
        (r) => r.body.status !== 'processing',
      );
      expect(done.body.status).toBe('completed');
      return { id: res.body.session_id, status: done.body };
    };
    const approveAll = async (id: string) => {
      expect(
        (
          await request(`${t.url}/approve`, {
            method: 'POST',
            json: { session_id: id, approved_scenes: [0, 1, 2] },
          })
        ).status,
      ).toBe(200);
      await pollUntil(
        () => request<Status>(`${t.url}/status/${id}`),
        (r) => r.body.download_status === 'completed',
      );
    };

    beforeAll(async () => {
      // 11 s sessions and a fast housekeeping tick, for the expiry case.
      t = await startTestApp(
        { ...s3.vars(prefix), SESSION_TTL_HOURS: '0.003', HOUSEKEEPING_INTERVAL_MS: '200' },
        env,
        logger,
      );
    });
    afterAll(() => t.close());
    afterEach(() => {
      s3.comeBack();
      s3.releaseGets();
    });

    it('reports the bucket in /health and /health/ready, and answers 503 while it is unreachable', async () => {
      const health = await request<{ status: string; services: Record<string, string> }>(`${t.url}/health`);
      expect(health.status).toBe(200);
      expect(health.body.services.storage).toBe('available');
      expect((await request(`${t.url}/health/ready`)).status).toBe(200);
      const { status } = await generate();

      s3.goDown();
      const down = await request<{ status: string; services: Record<string, string> }>(`${t.url}/health`);
      expect(down.status).toBe(503);
      expect(down.body).toMatchObject({
        status: 'unhealthy',
        services: { storage: 'unavailable', redis: 'available' },
      });
      expect(envelopeProblem(down, 503, /image storage is unreachable/)).toBeNull();
      const ready = await request(`${t.url}/health/ready`);
      expect(ready.status).toBe(503);
      expect(envelopeProblem(ready, 503, /image storage/)).toBeNull();
      // An image read during the outage is a 503 with the envelope, never a 500.
      const image = await request(status.scenes[0].image_url);
      expect(image.status).toBe(503);
      expect(image.headers.get('retry-after')).toBe('5');
      expect(envelopeProblem(image, 503, /image storage is unavailable/)).toBeNull();

      s3.comeBack();
      expect((await request(`${t.url}/health/ready`)).status).toBe(200);
      expect((await fetch(status.scenes[0].image_url)).status).toBe(200);
    });

    it('keeps the storyboard PDF in the bucket beside the images, and exports it from there', async () => {
      const { id, status } = await generate();
      await approveAll(id);
      // Built by the download job, under the session's prefix (so the expiry sweep below removes it too).
      const pdfs = (await s3.keys(`${prefix}${id}/`)).filter((key) => key.includes('/storyboard/'));
      expect(pdfs).toEqual([expect.stringMatching(/\/storyboard\/[0-9a-f]{16}\.pdf$/)]);
      expect(pdfs[0].startsWith(`${prefix}${id}/storyboard/`)).toBe(true);

      const res = await fetch(`${t.url}/download`, {
        method: 'POST',
        body: new URLSearchParams({ session_id: id }),
      });
      expect(res.status).toBe(200);
      const zip = Buffer.from(await res.arrayBuffer());
      expect(zip.length).toBe(Number(res.headers.get('content-length')));
      const entries = await readZip(zip);
      expect(entries.map((e) => e.name)).toEqual([
        'images/scene_01.png',
        'images/scene_02.png',
        'images/scene_03.png',
        'storyboard.pdf',
        'scenes.json',
        'story.txt',
        'storyboard.html',
      ]);
      const pdf = entries.find((e) => e.name === 'storyboard.pdf')!.data;
      expect(pdf.equals(await s3.object(pdfs[0]))).toBe(true);
      const pages = await pdfPageTexts(pdf);
      expect(pages).toHaveLength(4);
      for (const [index, scene] of status.scenes.entries()) expect(pages[index + 1]).toContain(scene.title);

      // A PDF that no longer matches the scenes (text changed behind the record) is built again at export
      // time, and the superseded object is deleted from the bucket.
      const sessions = t.app.get(SessionStore);
      const scenes = (await sessions.get(id))!.scenes;
      await sessions.update(id, {}, [{ ...scenes[0], title: 'A new first title' }]);
      const again = await fetch(`${t.url}/download`, {
        method: 'POST',
        body: new URLSearchParams({ session_id: id }),
      });
      const rebuilt = (await readZip(Buffer.from(await again.arrayBuffer()))).find(
        (e) => e.name === 'storyboard.pdf',
      )!.data;
      expect((await pdfPageTexts(rebuilt))[1]).toContain('A new first title');
      const now = (await s3.keys(`${prefix}${id}/`)).filter((key) => key.includes('/storyboard/'));
      expect(now).toHaveLength(1);
      expect(now[0]).not.toBe(pdfs[0]);
      expect(rebuilt.equals(await s3.object(now[0]))).toBe(true);
    });

    it('cuts an export short, cleanly, when its session expires and its objects go mid-stream', async () => {
      const { id } = await generate();
      await approveAll(id);
      s3.holdGets();
      const answer = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = http.request(
          `${t.url}/download`,
          { method: 'POST', headers: { 'content-type': 'application/json' } },
          resolve,
        );
        req.on('error', reject);
        req.end(JSON.stringify({ session_id: id }));
      });
      expect(answer.statusCode).toBe(200);
      const declared = Number(answer.headers['content-length']);
      const received = new Promise<{ bytes: number; aborted: boolean }>((resolve) => {
        let bytes = 0;
        answer.on('data', (chunk: Buffer) => (bytes += chunk.length));
        answer.on('end', () => resolve({ bytes, aborted: false }));
        answer.on('error', () => resolve({ bytes, aborted: true }));
        answer.on('aborted', () => resolve({ bytes, aborted: true }));
      });
      // The session expires and the housekeeping tick deletes its objects while the export waits on them.
      await pollUntil(
        () => s3.keys(`${prefix}${id}/`),
        (keys) => keys.length === 0,
        30_000,
      );
      s3.releaseGets();
      const outcome = await received;
      expect(outcome.bytes).toBeLessThan(declared);
      expect(outcome.aborted).toBe(true);
      expect(logger.lines.some((line) => line.includes(`ZIP of ${id} not completed`))).toBe(true);
      // The API goes on serving.
      expect((await request(`${t.url}/health`)).status).toBe(200);
      expect((await request(`${t.url}/status/${id}`)).status).toBe(404);
    });

    it('keeps nothing on the local disk, and the bucket refused none of its requests', () => {
      // After the flows above: the service did send its reads and writes to the bucket.
      expect(s3.requests.filter((seen) => seen.method === 'PUT').length).toBeGreaterThan(0);
      expect(readdirSync(env.imageDir, { recursive: true })).toEqual([]);
      expect(s3.refused()).toEqual([]);
    });
  });

  describe('live', () => {
    let t: TestApp;
    let openrouter: FakeOpenRouter;
    let runware: FakeRunware;
    const env = new TestEnv();
    const prefix = `${env.prefix}/`;
    beforeAll(async () => {
      openrouter = await startFakeOpenRouter({ apiKey: OPENROUTER_KEY });
      // Above the 5 MB part size, so the upload is a multipart one.
      runware = await startFakeRunware({ apiKey: RUNWARE_KEY, imageBytes: 6_500_000 });
      t = await startTestApp(
        {
          ...liveProviderVars(openrouter, runware, { openrouter: OPENROUTER_KEY, runware: RUNWARE_KEY }),
          ...s3.vars(prefix),
          IMAGE_DOWNLOAD_MAX_BYTES: String(6_000_000),
          JOB_ATTEMPTS: '1',
        },
        env,
      );
    });
    afterAll(async () => {
      await t.close();
      await Promise.allSettled([openrouter.close(), runware.close()]);
    });

    it('leaves no object, and no multipart upload, when an image breaks a rule mid-stream', async () => {
      // No Content-Length: the size cap is hit while streaming, after the first 5 MB part went up.
      runware.images.set({ lengthHidden: true });
      const res = await request<{ session_id: string }>(`${t.url}/generate`, {
        method: 'POST',
        json: { story_text: STORY, num_scenes: 1 },
      });
      const id = res.body.session_id;
      await pollUntil(
        () => request<Status>(`${t.url}/status/${id}`),
        (r) => r.body.status === 'completed',
      );
      await request(`${t.url}/approve`, { method: 'POST', json: { session_id: id, approved_scenes: [0] } });
      const settled = await pollUntil(
        () => request<Status>(`${t.url}/status/${id}`),
        (r) => r.body.download_status !== 'started',
      );
      expect(settled.body.download_status).toBe('failed');
      expect(settled.body.scenes[0].download).toMatchObject({
        status: 'failed',
        error: expect.stringContaining('6000000-byte limit'),
      });
      expect(await s3.keys(`${prefix}${id}/`)).toEqual([]);
      expect(s3.refused()).toEqual([]);
      const uploads = s3.requests.filter((seen) => seen.path.includes(`${id}/scene_01.png`));
      // A multipart upload was started, a part sent, and the upload aborted (DELETE ?uploadId=).
      expect(uploads.some((seen) => seen.method === 'PUT' && seen.path.includes('partNumber='))).toBe(true);
      expect(uploads.some((seen) => seen.method === 'DELETE' && seen.path.includes('uploadId='))).toBe(true);
      expect(readdirSync(env.imageDir, { recursive: true })).toEqual([]);
    });
  });
});
