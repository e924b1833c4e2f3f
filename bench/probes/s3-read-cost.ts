/**
 * Where the s3 export's extra CPU goes (issue 10): the CPU this process spends reading the 20 ~2 MB images
 * of the export-s3 bench four ways, against s3rver in a child process, plus the CPU s3rver spends serving
 * them. Not part of `npm run bench`; run it alone on an idle machine:
 *
 *   npx ts-node --transpile-only bench/probes/s3-read-cost.ts
 *
 * - disk: the files from local disk (what the local driver's export reads);
 * - driver: the service's s3 driver (`S3ImageStorage.read`, a GetObject through @aws-sdk/client-s3);
 * - sdk-uncached: the same GetObject from a client with the driver's settings but `cacheMiddleware` off
 *   (the SDK's default), which resolves the command's middleware stack on every call;
 * - http: a plain node:http GET of the same objects (s3rver serves them unsigned), the floor of any S3 read.
 * The four alternate for ROUNDS rounds after a warm-up, against s3rver as the bench starts it and then
 * against s3rver started with `--initial-old-space-size=64` (a larger old generation for its small heap);
 * figures are CPU ms per 20 images, median of the rounds. Last, the CPU one GetObject costs besides its
 * bytes, through the driver and through the uncached client.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { PerformanceObserver, constants as perf } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { renderKey } from '../../src/storage/image-keys';
import { S3Config } from '../../src/config/app-config';
import { S3ImageStorage, s3ClientConfig } from '../../src/storage/s3/s3-image-storage';
import { BUCKET, startS3rver } from '../export-s3';
import { cpuMsOf } from '../lib/cpu';
import { median, round } from '../lib/stats';

const IMAGES = 20;
const BYTES = 2_000_000;
const ROUNDS = 9;
const TINY_CALLS = 200;

let majorGcs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries())
    if ((entry as unknown as { detail?: { kind?: number } }).detail?.kind === perf.NODE_PERFORMANCE_GC_MAJOR)
      majorGcs++;
}).observe({ entryTypes: ['gc'] });

async function drain(stream: Readable): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += (chunk as Buffer).length;
  return bytes;
}

function httpGet(agent: http.Agent, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`GET ${url} answered ${res.statusCode}`));
        drain(res).then(resolve, reject);
      })
      .on('error', reject);
  });
}

async function main(): Promise<void> {
  const folder = mkdtempSync(path.join(tmpdir(), 'probe-s3-'));
  const image = Buffer.alloc(BYTES);
  for (let i = 0; i < BYTES; i += 4) image.writeUInt32LE((i * 2654435761) >>> 0, i);
  const sessionId = randomUUID();
  const keys = Array.from({ length: IMAGES }, (_, i) => renderKey(sessionId, i, 'png'));
  for (const key of keys) writeFileSync(path.join(folder, path.basename(key)), image);

  const rows: Record<string, number | string>[] = [];
  const overhead: Record<string, number | string>[] = [];
  for (const flags of [[], ['--initial-old-space-size=64']]) {
    const s3 = await startS3rver(flags);
    const config: S3Config = {
      bucket: BUCKET,
      endpoint: s3.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      forcePathStyle: true,
      prefix: '',
    };
    const driver = new S3ImageStorage(config);
    const client = new S3Client({ ...s3ClientConfig(config), cacheMiddleware: false });
    const agent = new http.Agent({ keepAlive: true });
    try {
      for (const key of keys) await s3.put(key, image);
      const ways: Record<string, () => Promise<number>> = {
        disk: async () => {
          let total = 0;
          for (const key of keys)
            total += await drain(createReadStream(path.join(folder, path.basename(key))));
          return total;
        },
        driver: async () => {
          let total = 0;
          for (const key of keys) total += await drain(await driver.read(key));
          return total;
        },
        'sdk-uncached': async () => {
          let total = 0;
          for (const key of keys) {
            const object = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
            total += await drain(object.Body as Readable);
          }
          return total;
        },
        http: async () => {
          let total = 0;
          for (const key of keys) total += await httpGet(agent, `${s3.endpoint}/${BUCKET}/${key}`);
          return total;
        },
      };
      const cpu: Record<string, { self: number[]; server: number[] }> = {};
      for (let round = -1; round < ROUNDS; round++) {
        for (const [name, read] of Object.entries(ways)) {
          const before = { self: process.cpuUsage(), server: cpuMsOf(s3.pid) };
          const bytes = await read();
          if (bytes !== IMAGES * BYTES) throw new Error(`${name} read ${bytes} bytes`);
          const used = process.cpuUsage(before.self);
          if (round < 0) continue; // warm-up
          (cpu[name] ??= { self: [], server: [] }).self.push((used.user + used.system) / 1000);
          cpu[name].server.push(cpuMsOf(s3.pid) - before.server);
        }
      }
      for (const [name, { self, server }] of Object.entries(cpu)) {
        rows.push({
          s3rver: flags.join(' ') || '(as in the bench)',
          read: name,
          'this process CPU ms / 20 images': round(median(self)),
          's3rver CPU ms / 20 images': name === 'disk' ? '-' : round(median(server)),
        });
      }
      if (flags.length > 0) {
        // What each GetObject costs besides its bytes: a 100-byte object read many times.
        const tiny = renderKey(sessionId, 99, 'png');
        await s3.put(tiny, image.subarray(0, 100));
        const calls: Record<string, () => Promise<unknown>> = {
          driver: async () => drain(await driver.read(tiny)),
          'sdk-uncached': async () =>
            drain((await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: tiny }))).Body as Readable),
        };
        const perCall: Record<string, number[]> = {};
        for (let round = -1; round < ROUNDS; round++) {
          for (const [name, call] of Object.entries(calls)) {
            const before = process.cpuUsage();
            for (let i = 0; i < TINY_CALLS; i++) await call();
            const used = process.cpuUsage(before);
            if (round >= 0) (perCall[name] ??= []).push((used.user + used.system) / 1000 / TINY_CALLS);
          }
        }
        for (const [name, ms] of Object.entries(perCall))
          overhead.push({ read: name, 'CPU ms per GetObject of 100 bytes': round(median(ms), 3) });
      }
    } finally {
      client.destroy();
      await driver.close();
      agent.destroy();
      s3.close();
    }
  }
  rmSync(folder, { recursive: true, force: true });
  console.table(rows);
  console.table(overhead);
  console.log(`full GCs in this process: ${majorGcs}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
