import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { download, sceneFile, writeImages, writeSession } from './export';
import { MeasureContext, MeasureResult } from './lib/context';
import { cpuMsOf } from './lib/cpu';
import { figure } from './lib/figures';
import { withStage } from './lib/stage';
import { median, round, sleep } from './lib/stats';

const SCENES = 20;

/**
 * 6. Export from a bucket: POST /download of a session with 20 approved ~2 MB images, from an API process
 * with STORAGE_DRIVER=s3 against a local S3-compatible server (s3rver, from npm, in a process of its own as
 * a real server would be, not in this measuring process), against the same export
 * from an API process with the local driver (the same images on disk), alternating the two. The figure is
 * the ratio of the medians; the target (issue 10) is at most 1.5.
 */
export async function exportS3(ctx: MeasureContext): Promise<MeasureResult> {
  const rounds = ctx.quick ? 2 : 7;
  const s3 = await startS3rver();
  try {
    return await withStage(
      'export-s3',
      ctx.redis,
      { plannerLatencyMs: 0, imageLatencyMs: 0 },
      async (stage) => {
        const id = randomUUID();
        const image = await writeImages(path.join(stage.imageDir, id), SCENES);
        const prefix = `${stage.prefix}/`;
        for (let i = 0; i < SCENES; i++) await s3.put(`${prefix}${id}/${sceneFile(i)}`, image);
        s3.client.destroy();
        await writeSession(stage, id, SCENES, image.length, crc32(image));
        const local = await stage.startApi();
        const bucket = await stage.startApi({
          STORAGE_DRIVER: 's3',
          S3_BUCKET: BUCKET,
          S3_ENDPOINT: s3.endpoint,
          S3_ACCESS_KEY_ID: 'S3RVER',
          S3_SECRET_ACCESS_KEY: 'S3RVER',
          S3_PREFIX: prefix,
        });
        // Warm both (module loading, JIT, page cache, connection pools), then let them settle.
        for (const api of [local, bucket]) await download(api.url, id);
        await sleep(500);

        const localRuns: { ms: number; bytes: number }[] = [];
        const bucketRuns: { ms: number; bytes: number }[] = [];
        // CPU time per export of each process involved: where the bucket's extra time goes.
        const cpu = { localApi: 0, bucketApi: 0, s3rver: 0, bench: 0 };
        for (let i = 0; i < rounds; i++) {
          const before = cpuMsOf(local.proc.pid);
          localRuns.push(await download(local.url, id));
          cpu.localApi += cpuMsOf(local.proc.pid) - before;
          const mid = { api: cpuMsOf(bucket.proc.pid), s3rver: cpuMsOf(s3.pid), bench: process.cpuUsage() };
          bucketRuns.push(await download(bucket.url, id));
          cpu.bucketApi += cpuMsOf(bucket.proc.pid) - mid.api;
          cpu.s3rver += cpuMsOf(s3.pid) - mid.s3rver;
          const used = process.cpuUsage(mid.bench);
          cpu.bench += (used.user + used.system) / 1000;
        }
        const perExport = Object.fromEntries(
          Object.entries(cpu).map(([name, ms]) => [name, round(ms / rounds)]),
        );
        ctx.log(`export-s3: CPU ms per export ${JSON.stringify(perExport)}`);
        if (bucketRuns.some((run) => run.bytes !== localRuns[0].bytes))
          throw new Error('The two exports differ in size');
        const localMs = median(localRuns.map((r) => r.ms));
        const bucketMs = median(bucketRuns.map((r) => r.ms));
        ctx.log(`export-s3: bucket ${JSON.stringify(bucketRuns)} local ${JSON.stringify(localRuns)}`);
        return {
          figures: [
            figure({
              group: 'export',
              name: `ZIP of ${SCENES} x ${round(image.length / 1e6, 1)} MB images from an S3 bucket (s3rver)`,
              measured: bucketMs,
              unit: 'ms',
              baseline: localMs,
              baselineLabel: 'same export, local driver',
              ratio: bucketMs / localMs,
              target: { of: 'ratio', op: '<=', value: 1.5 },
            }),
          ],
          details: {
            scenes: SCENES,
            imageBytes: image.length,
            rounds,
            localRuns,
            bucketRuns,
            cpuMsPerExport: perExport,
          },
        };
      },
    );
  } finally {
    s3.close();
  }
}

export const BUCKET = 'bench';

/** s3rver in a child process, with one bucket; `put` uploads through the SDK as the service would read. */
export async function startS3rver(nodeFlags: string[] = []) {
  const directory = mkdtempSync(path.join(tmpdir(), 'bench-s3-'));
  const script = `const S3rver = require('s3rver');
new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: ${JSON.stringify(directory)},
  configureBuckets: [{ name: '${BUCKET}' }] }).run().then((a) => console.log('port ' + a.port));`;
  const child = spawn(process.execPath, [...nodeFlags, '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      const match = /port (\d+)/.exec(chunk.toString());
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}`)));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  return {
    endpoint,
    client,
    pid: child.pid ?? -1,
    put: async (key: string, body: Buffer) => {
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    },
    close: () => {
      child.kill('SIGKILL');
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
