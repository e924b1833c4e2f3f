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

function httpGet(agent: http.Agent, url: string): Promise<Readable> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        if (res.statusCode === 200) return resolve(res);
        res.resume();
        reject(new Error(`GET ${url} answered ${res.statusCode}`));
      })
      .on('error', reject);
  });
}

/**
 * Runs each of `runs` once per round, in turn, for ROUNDS rounds after one warm-up round: the CPU ms this
 * process and process `pid` used in each run.
 */
async function cpuPerRun(
  runs: Record<string, () => Promise<void>>,
  pid: number,
): Promise<Record<string, { self: number; server: number }[]>> {
  const cpu: Record<string, { self: number; server: number }[]> = {};
  for (let pass = -1; pass < ROUNDS; pass++) {
    for (const [name, run] of Object.entries(runs)) {
      const before = { self: process.cpuUsage(), server: cpuMsOf(pid) };
      await run();
      const used = process.cpuUsage(before.self);
      if (pass < 0) continue; // warm-up
      (cpu[name] ??= []).push({
        self: (used.user + used.system) / 1000,
        server: cpuMsOf(pid) - before.server,
      });
    }
  }
  return cpu;
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
      const readAll = (open: (key: string) => Promise<Readable>) => async () => {
        let total = 0;
        for (const key of keys) total += await drain(await open(key));
        if (total !== IMAGES * BYTES) throw new Error(`read ${total} bytes`);
      };
      const getObject = async (key: string) =>
        (await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body as Readable;
      const perExport = await cpuPerRun(
        {
          disk: readAll(async (key) => createReadStream(path.join(folder, path.basename(key)))),
          driver: readAll((key) => driver.read(key)),
          'sdk-uncached': readAll(getObject),
          http: readAll((key) => httpGet(agent, `${s3.endpoint}/${BUCKET}/${key}`)),
        },
        s3.pid,
      );
      for (const [name, runs] of Object.entries(perExport)) {
        rows.push({
          s3rver: flags.join(' ') || '(as in the bench)',
          read: name,
          'this process CPU ms / 20 images': round(median(runs.map((run) => run.self))),
          's3rver CPU ms / 20 images': name === 'disk' ? '-' : round(median(runs.map((run) => run.server))),
        });
      }
      if (flags.length > 0) {
        // What each GetObject costs besides its bytes: a 100-byte object read many times.
        const tiny = renderKey(sessionId, 99, 'png');
        await s3.put(tiny, image.subarray(0, 100));
        const repeat = (open: (key: string) => Promise<Readable>) => async () => {
          for (let i = 0; i < TINY_CALLS; i++) await drain(await open(tiny));
        };
        const perCall = await cpuPerRun(
          { driver: repeat((key) => driver.read(key)), 'sdk-uncached': repeat(getObject) },
          s3.pid,
        );
        for (const [name, runs] of Object.entries(perCall)) {
          const ms = median(runs.map((run) => run.self / TINY_CALLS));
          overhead.push({ read: name, 'CPU ms per GetObject of 100 bytes': round(ms, 3) });
        }
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
