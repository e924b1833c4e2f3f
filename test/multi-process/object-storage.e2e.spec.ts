import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { FakeOpenRouter, startFakeOpenRouter } from '../support/fake-openrouter';
import { FakeRunware, startFakeRunware } from '../support/fake-runware';
import { request } from '../support/http-client';
import { liveProviderVars } from '../support/live-vars';
import { freePort, ServiceProcess, waitForHttp } from '../support/service-process';
import { pollUntil, TestEnv } from '../support/test-env';
import { startTestS3, TestS3 } from '../support/test-s3';
import { readZip } from '../support/zip-reader';

const STORY = Array.from(
  { length: 8 },
  (_, i) => `Part ${i + 1}: Ada follows the coast road to the lighthouse number ${i}, where the lamp blinks.`,
).join('\n\n');
const SCENES = 4;
const OPENROUTER_KEY = 'sk-or-v1-object-storage-test';
const RUNWARE_KEY = 'rw-object-storage-test';

interface Status {
  status: string;
  download_status: string;
  scenes: {
    status: string;
    image_url: string;
    download: { status: string; file_url: string | null } | null;
  }[];
}

/** Every file under `dir`, recursively: what a process left on its own disk. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

/**
 * Three machines in miniature: one API process and two worker processes, each with its own IMAGE_DIR that
 * no other process sees, sharing only Redis and an S3-compatible bucket (s3rver behind a front that refuses
 * the SDK's newest checksum headers, like many S3-compatible servers).
 */
class Deployment {
  readonly env = new TestEnv();
  readonly dirs: string[] = [];
  readonly processes: ServiceProcess[] = [];
  url = '';

  constructor(
    readonly s3: TestS3,
    private readonly vars: Record<string, string>,
  ) {}

  get keyPrefix(): string {
    return `${this.env.prefix}/`;
  }

  async start(): Promise<this> {
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}`;
    const api = this.spawn('api', { ROLE: 'api', PORT: String(port), HOST: '127.0.0.1' });
    await waitForHttp(`${this.url}/health/ready`, 20_000, api);
    const workers = [1, 2].map((n) => this.spawn(`worker-${n}`, { ROLE: 'worker' }));
    await Promise.all(workers.map((worker) => worker.waitForOutput('Worker started')));
    return this;
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.processes.map((p) => p.stop('SIGTERM')));
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
    await this.env.cleanup();
  }

  async generate(): Promise<string> {
    const res = await request<{ session_id: string }>(`${this.url}/generate`, {
      method: 'POST',
      json: { story_text: STORY, num_scenes: SCENES, media_type: 'cartoon' },
    });
    expect(res.status).toBe(200);
    return res.body.session_id;
  }

  status(id: string) {
    return request<Status>(`${this.url}/status/${id}`);
  }

  async bytes(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
    const res = await fetch(url, { headers });
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
  }

  private spawn(name: string, role: Record<string, string>): ServiceProcess {
    const dir = mkdtempSync(path.join(tmpdir(), `sig-${name}-`));
    this.dirs.push(dir);
    const process = new ServiceProcess(
      name,
      this.env.vars({ ...this.vars, ...this.s3.vars(this.keyPrefix), ...role, IMAGE_DIR: dir }),
    );
    this.processes.push(process);
    return process;
  }
}

/**
 * The whole flow against one deployment: generate, GET every image URL, approve every scene, export. Every
 * image the API serves and every image in the ZIP is byte for byte the bucket's object.
 */
async function wholeFlow(deployment: Deployment, rendersInBucket: boolean): Promise<string> {
  const { s3, keyPrefix } = deployment;
  const id = await deployment.generate();
  const rendered = await pollUntil(
    () => deployment.status(id),
    (r) => r.body.status !== 'processing',
    60_000,
  );
  expect(rendered.body.status).toBe('completed');
  for (const [index, scene] of rendered.body.scenes.entries()) {
    const served = await deployment.bytes(scene.image_url);
    expect(served.status).toBe(200);
    if (rendersInBucket) {
      expect(new URL(scene.image_url).pathname).toBe(`/static/${id}/renders/scene_0${index + 1}.png`);
      expect(served.body.equals(await s3.object(`${keyPrefix}${id}/renders/scene_0${index + 1}.png`))).toBe(
        true,
      );
    }
  }

  const approved = await request(`${deployment.url}/approve`, {
    method: 'POST',
    json: { session_id: id, approved_scenes: [0, 1, 2, 3] },
  });
  expect(approved.status).toBe(200);
  const downloaded = await pollUntil(
    () => deployment.status(id),
    (r) => r.body.download_status !== 'started',
    60_000,
  );
  expect(downloaded.body.download_status).toBe('completed');

  const objects = new Map<string, Buffer>();
  for (const [index, scene] of downloaded.body.scenes.entries()) {
    const file = `scene_0${index + 1}.png`;
    const object = await s3.object(`${keyPrefix}${id}/${file}`);
    objects.set(`images/${file}`, object);
    const fileUrl = scene.download?.file_url ?? '';
    expect(new URL(fileUrl).pathname).toBe(`/static/${id}/${file}`);
    expect((await deployment.bytes(fileUrl)).body.equals(object)).toBe(true);
    // A byte range comes from the bucket too.
    const range = await deployment.bytes(fileUrl, { range: 'bytes=10-29' });
    expect(range.status).toBe(206);
    expect(range.body.equals(object.subarray(10, 30))).toBe(true);
  }

  const zip = await fetch(`${deployment.url}/download`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ session_id: id }),
  });
  expect(zip.status).toBe(200);
  const zipBytes = Buffer.from(await zip.arrayBuffer());
  expect(Number(zip.headers.get('content-length'))).toBe(zipBytes.length);
  const entries = await readZip(zipBytes);
  const images = entries.filter((entry) => entry.name.startsWith('images/'));
  expect(images.map((entry) => entry.name)).toEqual([...objects.keys()]);
  for (const entry of images) expect(entry.data.equals(objects.get(entry.name) as Buffer)).toBe(true);

  // Nothing went to any process's own disk, and the bucket never had to refuse a checksum header.
  expect(deployment.dirs.flatMap(filesUnder)).toEqual([]);
  expect(s3.refused()).toEqual([]);
  return id;
}

describe('images in an S3-compatible bucket: one API and two workers, each with its own disk', () => {
  let s3: TestS3;
  beforeAll(async () => {
    s3 = await startTestS3();
  });
  afterAll(() => s3.close());

  describe('offline providers', () => {
    let deployment: Deployment;
    beforeAll(async () => {
      deployment = await new Deployment(s3, {
        // 18 s: long enough for the flow, short enough to watch the expiry.
        SESSION_TTL_HOURS: '0.005',
        HOUSEKEEPING_INTERVAL_MS: '500',
        WORKER_CONCURRENCY: '4',
      }).start();
    });
    afterAll(() => deployment.stop());

    let id: string;
    it('passes the whole flow, the API serving and exporting what the workers stored', async () => {
      id = await wholeFlow(deployment, true);
      // The renders, the approved copies, the cast portrait (rendered, and copied for the export) and the
      // storyboard PDF a worker built for the export.
      const keys = await s3.keys(`${deployment.keyPrefix}${id}/`);
      expect(keys.filter((key) => /\/(renders\/)?cast_01\.png$/.test(key))).toHaveLength(2);
      expect(keys).toHaveLength(2 * SCENES + 2 + 1);
      expect(keys.filter((key) => /\/storyboard\/[0-9a-f]{16}\.pdf$/.test(key))).toHaveLength(1);
    });

    it("removes the session's objects once it expires", async () => {
      expect(id).toBeDefined();
      const keys = await pollUntil(
        () => s3.keys(`${deployment.keyPrefix}${id}/`),
        (left) => left.length === 0,
        45_000,
      );
      expect(keys).toEqual([]);
      expect((await deployment.status(id)).status).toBe(404);
    });
  });

  describe('live providers (the fakes)', () => {
    let deployment: Deployment;
    let openrouter: FakeOpenRouter;
    let runware: FakeRunware;
    beforeAll(async () => {
      openrouter = await startFakeOpenRouter({ apiKey: OPENROUTER_KEY });
      runware = await startFakeRunware({ apiKey: RUNWARE_KEY });
      deployment = await new Deployment(s3, {
        ...liveProviderVars(openrouter, runware, { openrouter: OPENROUTER_KEY, runware: RUNWARE_KEY }),
        WORKER_CONCURRENCY: '4',
      }).start();
    });
    afterAll(async () => {
      await deployment.stop();
      await Promise.allSettled([openrouter.close(), runware.close()]);
    });

    it('passes the whole flow, the approved images fetched from the provider into the bucket', async () => {
      const id = await wholeFlow(deployment, false);
      // Live renders and portraits stay with the provider: only the approved downloads, the portraits
      // copied for the export (and the storyboard PDF built from them) are objects.
      expect(await s3.keys(`${deployment.keyPrefix}${id}/`)).toEqual([
        ...[1, 2].map((n) => `${deployment.keyPrefix}${id}/cast_0${n}.png`),
        ...[1, 2, 3, 4].map((n) => `${deployment.keyPrefix}${id}/scene_0${n}.png`),
        expect.stringMatching(/\/storyboard\/[0-9a-f]{16}\.pdf$/),
      ]);
    });
  });
});
