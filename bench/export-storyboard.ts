import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { download, writeImages, writeSession } from './export';
import { MeasureContext, MeasureResult } from './lib/context';
import { cpuMsOf } from './lib/cpu';
import { figure } from './lib/figures';
import { MB, RssSampler, settledRss } from './lib/rss';
import { withStage } from './lib/stage';
import { median, round, sleep } from './lib/stats';

const SCENES = 20;

/**
 * 7. The storyboard's cost to an export (issue 13): POST /download of a session with 20 approved ~2 MB
 * noise PNGs from an API process with the storyboard on (the default), whose PDF is already built and
 * recorded, against the same export from an API process with EXPORT_STORYBOARD=false, alternating the two,
 * median of the rounds. Target: ratio at most 1.5.
 *
 * The session is written straight into Redis (as in `export`), so no download job built its PDF: the
 * first export of the storyboard API builds it (20 images re-encoded, the PDF written to the image
 * storage) before it sends a byte. That cold export is reported on its own, with the API's RSS growth
 * while it builds and streams (the PDF is streamed into the storage, never held whole).
 */
export async function exportStoryboard(ctx: MeasureContext): Promise<MeasureResult> {
  const rounds = ctx.quick ? 3 : 9;
  return withStage(
    'export-storyboard',
    ctx.redis,
    { plannerLatencyMs: 0, imageLatencyMs: 0 },
    async (stage) => {
      const id = randomUUID();
      const image = await writeImages(path.join(stage.imageDir, id), SCENES);
      await writeSession(stage, id, SCENES, image.length, crc32(image));
      const board = await stage.startApi({ EXPORT_STORYBOARD: 'true' });
      const plain = await stage.startApi({ EXPORT_STORYBOARD: 'false' });
      // Warm the routes (module loading, JIT) with a status read, then let the processes settle.
      for (const api of [board, plain]) await (await fetch(`${api.url}/status/${id}`)).arrayBuffer();
      await sleep(1000);

      // Each API's first export, with its RSS sampled: the plain one's is what streaming alone costs.
      const first = async (api: typeof board) => {
        const before = await settledRss(api.proc.pid);
        const cpuBefore = cpuMsOf(api.proc.pid);
        const sampler = new RssSampler(api.proc.pid, 20, 120_000);
        try {
          const run = await download(api.url, id);
          return { ...run, cpuMs: cpuMsOf(api.proc.pid) - cpuBefore, growthMB: (sampler.peak - before) / MB };
        } finally {
          sampler.stop();
        }
      };
      const plainFirst = await first(plain);
      const cold = await first(board);
      const coldCpuMs = cold.cpuMs;
      const coldGrowthMB = cold.growthMB;
      ctx.log(
        `export-storyboard: plain first export ${plainFirst.ms} ms, RSS +${round(plainFirst.growthMB)} MB`,
      );
      ctx.log(
        `export-storyboard: cold export ${cold.ms} ms, CPU ${round(coldCpuMs)} ms, RSS +${round(coldGrowthMB)} MB`,
      );

      // One more warm-up export each (JIT of the streaming path), not counted.
      for (const api of [plain, board]) await download(api.url, id);
      const boardRuns: { ms: number; bytes: number }[] = [];
      const plainRuns: { ms: number; bytes: number }[] = [];
      for (let i = 0; i < rounds; i++) {
        plainRuns.push(await download(plain.url, id));
        boardRuns.push(await download(board.url, id));
      }
      if (boardRuns.some((run) => run.bytes !== cold.bytes))
        throw new Error('An export with the recorded storyboard differs in size from the first one');
      const storyboardBytes = cold.bytes - plainRuns[0].bytes;
      if (storyboardBytes <= 0) throw new Error('The storyboard API exported no storyboard');
      const boardMs = median(boardRuns.map((r) => r.ms));
      const plainMs = median(plainRuns.map((r) => r.ms));
      ctx.log(`export-storyboard: with ${JSON.stringify(boardRuns)} without ${JSON.stringify(plainRuns)}`);
      return {
        figures: [
          figure({
            group: 'export',
            name: `ZIP of ${SCENES} x ${round(image.length / 1e6, 1)} MB images with the storyboard built`,
            measured: boardMs,
            unit: 'ms',
            baseline: plainMs,
            baselineLabel: 'EXPORT_STORYBOARD=false',
            ratio: boardMs / plainMs,
            target: { of: 'ratio', op: '<=', value: 1.5 },
          }),
          figure({
            group: 'export',
            name: `first export, building the storyboard of ${SCENES} images`,
            measured: cold.ms,
            unit: 'ms',
            baseline: plainMs,
            baselineLabel: 'EXPORT_STORYBOARD=false',
            ratio: cold.ms / plainMs,
          }),
          figure({
            group: 'export',
            name: 'API peak RSS growth, first export building the storyboard',
            measured: coldGrowthMB,
            unit: 'MB',
            baseline: plainFirst.growthMB,
            baselineLabel: 'first export, EXPORT_STORYBOARD=false',
          }),
        ],
        details: {
          scenes: SCENES,
          imageBytes: image.length,
          rounds,
          zipBytes: { withStoryboard: cold.bytes, without: plainRuns[0].bytes },
          storyboardBytes,
          cold: { ms: cold.ms, bytes: cold.bytes, cpuMs: round(coldCpuMs), rssGrowthMB: round(coldGrowthMB) },
          plainFirst: { ...plainFirst, cpuMs: round(plainFirst.cpuMs), growthMB: round(plainFirst.growthMB) },
          boardRuns,
          plainRuns,
        },
      };
    },
  );
}
