import { spawn } from 'node:child_process';
import { randomInt, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { fakeImage } from '../test/support/fake-images';
import { MeasureContext, MeasureResult } from './lib/context';
import { figure } from './lib/figures';
import { MB, RssSampler, settledRss } from './lib/rss';
import { STORY } from './lib/sessions';
import { Stage, withStage } from './lib/stage';
import { median, round, sleep } from './lib/stats';

const IMAGE_BYTES = 2_000_000;

/**
 * 5. Export: POST /download of a session with many approved ~2 MB scenes, timed to the last byte read,
 * against `zip -0 -r` of the same files to a pipe read by this process (stored, like the service's
 * images), alternating the two. The API's RSS is sampled every 20 ms during the downloads; the figure is
 * the peak over the RSS before the first download.
 *
 * The API caps num_scenes at 20, so the session is written straight into Redis in SessionStore's layout
 * (src/sessions/session.store.ts): one hash, scalar fields, `scene:<i>` and `download:<i>` JSON fields,
 * and the story under its own key.
 */
export async function exportZip(ctx: MeasureContext): Promise<MeasureResult> {
  const scenes = ctx.quick ? 20 : 100;
  const rounds = ctx.quick ? 1 : 5;
  return withStage('export', ctx.redis, { plannerLatencyMs: 0, imageLatencyMs: 0 }, async (stage) => {
    const id = randomUUID();
    const dir = path.join(stage.imageDir, id);
    const image = await writeImages(dir, scenes);
    const fileBytes = image.length;
    await writeSession(stage, id, scenes, fileBytes, crc32(image));
    const api = await stage.startApi();
    // Warm the route (module loading, JIT) with a status read, then let the process settle.
    await (await fetch(`${api.url}/status/${id}`)).arrayBuffer();
    await sleep(1000);
    const baselineRss = await settledRss(api.proc.pid);

    const sampler = new RssSampler(api.proc.pid, 20, 120_000);
    const apiRuns: { ms: number; bytes: number }[] = [];
    const zipRuns: { ms: number; bytes: number }[] = [];
    try {
      // Warm-up round (timed but not counted): page cache, the zip binary, the export code path's JIT. Its
      // RSS is sampled: a first export's allocations are part of what streaming costs.
      const warmup = { zip: await zipToPipe(stage.imageDir, id), api: await download(api.url, id) };
      ctx.log(`export: warm-up api ${warmup.api.ms} ms, zip ${warmup.zip.ms} ms`);
      for (let i = 0; i < rounds; i++) {
        zipRuns.push(await zipToPipe(stage.imageDir, id));
        apiRuns.push(await download(api.url, id));
      }
    } finally {
      sampler.stop();
    }
    const apiMs = median(apiRuns.map((r) => r.ms));
    const zipMs = median(zipRuns.map((r) => r.ms));
    const growthMB = (sampler.peak - baselineRss) / MB;
    ctx.log(
      `export: api ${JSON.stringify(apiRuns)} zip ${JSON.stringify(zipRuns)} rss +${round(growthMB)} MB`,
    );
    return {
      figures: [
        figure({
          group: 'export',
          name: `ZIP of ${scenes} x ${round(fileBytes / 1e6, 1)} MB images`,
          measured: apiMs,
          unit: 'ms',
          baseline: zipMs,
          baselineLabel: 'zip -0 -r',
          ratio: apiMs / zipMs,
          target: { of: 'ratio', op: '<=', value: 1.3 },
        }),
        figure({
          group: 'export',
          name: 'API peak RSS growth while streaming',
          measured: growthMB,
          unit: 'MB',
          target: { of: 'measured', op: '<', value: 64 },
        }),
      ],
      details: {
        scenes,
        imageBytes: fileBytes,
        rounds,
        apiRuns,
        zipRuns,
        baselineRssMB: round(baselineRss / MB),
        peakRssMB: round(sampler.peak / MB),
        rssSamples: sampler.samples.length,
      },
    };
  });
}

/** Writes `count` copies of one ~2 MB noise PNG (as the fake provider serves them) as scene_NN.png. */
export async function writeImages(dir: string, count: number): Promise<Buffer> {
  mkdirSync(dir, { recursive: true });
  const image = await fakeImage('png', IMAGE_BYTES);
  for (let i = 0; i < count; i++) writeFileSync(path.join(dir, sceneFile(i)), image);
  return image;
}

/** As sceneFileBase() in src/storage/image-keys.ts: scene_01 … scene_100. */
export const sceneFile = (index: number) => `scene_${String(index + 1).padStart(2, '0')}.png`;

export async function writeSession(
  stage: Stage,
  id: string,
  count: number,
  bytes: number,
  crc: number,
): Promise<void> {
  const now = new Date().toISOString();
  const key = `${stage.prefix}:session:${id}`;
  const fields: Record<string, string> = {
    id,
    status: 'completed',
    phase: 'awaiting_approval',
    media_type: 'cinematic',
    requested_scenes: String(count),
    version: '1',
    seed: String(randomInt(1, 2 ** 31 - 1)),
    planner: 'openrouter',
    style: 'Soft painterly light',
    planned: '1',
    finalized: '1',
    warnings: '[]',
    cast: '[]',
    approved: JSON.stringify(Array.from({ length: count }, (_, i) => i)),
    download_status: 'completed',
    created_at: now,
    updated_at: now,
    planned_at: now,
    completed_at: now,
    downloaded_at: now,
  };
  for (let i = 0; i < count; i++) {
    const url = `http://${stage.runware.imageHost}/image/ws/2/ii/${randomUUID()}.png`;
    // Mirrors newScene() in src/domain/session.model.ts after a successful render.
    fields[`scene:${i}`] = JSON.stringify({
      index: i,
      title: `Scene ${i + 1}`,
      description: `Passage ${i + 1} of the story.`,
      image_prompt: `Illustration of passage ${i + 1}`,
      negative_prompt: null,
      characters: [],
      status: 'done',
      image_url: url,
      seed: 1,
      provider: 'runware',
      model: 'runware:bench@1',
      error: null,
      attempts: 1,
      source: { kind: 'remote', url },
      rendered_at: now,
      rendered_by: 'bench',
    });
    fields[`download:${i}`] = JSON.stringify({
      status: 'done',
      file: sceneFile(i),
      bytes,
      content_type: 'image/png',
      error: null,
      crc32: crc, // recorded by the download job (src/download/download.processor.ts)
    });
  }
  await stage.redis
    .multi()
    .hset(key, fields)
    .expire(key, 3600)
    .set(`${stage.prefix}:story:${id}`, STORY, 'EX', 3600)
    .zadd(`${stage.prefix}:sessions`, Date.now() + 3600_000, id)
    .exec();
}

/** POST /download, reading the whole ZIP; resolves with the time to the last byte. */
export function download(url: string, id: string): Promise<{ ms: number; bytes: number }> {
  const body = `session_id=${id}`;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/download`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': body.length },
        timeout: 60_000,
      },
      (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`POST /download answered ${res.statusCode}`));
          else resolve({ ms: round(performance.now() - started), bytes });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('POST /download timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** `zip -0 -r - <session folder>` into a pipe this process drains, like the HTTP client above. */
function zipToPipe(cwd: string, folder: string): Promise<{ ms: number; bytes: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('zip', ['-0', '-r', '-q', '-', folder], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    let bytes = 0;
    child.stdout.on('data', (chunk: Buffer) => (bytes += chunk.length));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`zip exited with ${code}`));
      else resolve({ ms: round(performance.now() - started), bytes });
    });
  });
}
