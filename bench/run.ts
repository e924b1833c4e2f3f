/**
 * `npm run bench`: measures the compiled service (dist/) against its limits, each figure as a ratio to a
 * baseline measured in the same run (or as a count), because the machines are shared and noisy.
 *
 * BENCH_ONLY=fanout,fanout-casting,capacity,per-scene,status,export,export-s3,export-storyboard,memory,observability,sse runs a subset; BENCH_QUICK=1 a reduced version.
 * Writes a table to stdout and everything to bench/results/latest.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { capacity } from './capacity';
import { exportZip } from './export';
import { exportS3 } from './export-s3';
import { exportStoryboard } from './export-storyboard';
import { fanout, fanoutCasting } from './fanout';
import { MeasureContext, Measurement } from './lib/context';
import { Figure, formatTable } from './lib/figures';
import { machineFacts } from './lib/machine';
import { killAllChildren } from './lib/processes';
import { connectRedis } from './lib/redis';
import { closeAllStages } from './lib/stage';
import { memory } from './memory';
import { observability } from './observability';
import { perScene } from './per-scene';
import { sseStreams } from './sse';
import { statusReads } from './status-reads';

const MEASUREMENTS: [string, Measurement][] = [
  ['fanout', fanout],
  ['fanout-casting', fanoutCasting],
  ['capacity', capacity],
  ['per-scene', perScene],
  ['status', statusReads],
  ['export', exportZip],
  ['export-s3', exportS3],
  ['export-storyboard', exportStoryboard],
  ['memory', memory],
  ['observability', observability],
  ['sse', sseStreams],
];

/** Hard stop for the whole bench: a hung measurement must not keep children and keys around. */
const BENCH_DEADLINE_MS = 12 * 60_000;

async function main(): Promise<number> {
  const only = (process.env.BENCH_ONLY ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = only.filter((name) => !MEASUREMENTS.some(([n]) => n === name));
  if (unknown.length > 0) {
    console.error(
      `Unknown BENCH_ONLY entries: ${unknown.join(', ')} (known: ${MEASUREMENTS.map(([n]) => n).join(', ')})`,
    );
    return 2;
  }
  const quick = ['1', 'true', 'yes'].includes((process.env.BENCH_QUICK ?? '').toLowerCase());
  const redis = connectRedis();
  const started = Date.now();
  const log = (message: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);
  const ctx: MeasureContext = { redis, quick, log };

  const figures: Figure[] = [];
  const details: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  try {
    const machine = await machineFacts(redis);
    log(`machine: ${JSON.stringify(machine)}`);
    for (const [name, measure] of MEASUREMENTS) {
      if (only.length > 0 && !only.includes(name)) continue;
      log(`${name}: starting`);
      const t0 = Date.now();
      try {
        const result = await measure(ctx);
        figures.push(...result.figures);
        details[name] = { ...result.details, seconds: (Date.now() - t0) / 1000 };
        log(`${name}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      } catch (err) {
        errors[name] = err instanceof Error ? (err.stack ?? err.message) : String(err);
        log(`${name}: FAILED: ${errors[name].slice(0, 2000)}`);
      }
    }
    const totalSeconds = (Date.now() - started) / 1000;
    console.log(`\n${formatTable(figures)}\n`);
    console.log(
      `Total bench time: ${totalSeconds.toFixed(1)} s${quick ? ' (BENCH_QUICK: indicative only)' : ''}`,
    );
    const out = path.join(__dirname, 'results', 'latest.json');
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(
      out,
      JSON.stringify({ machine, quick, only, totalSeconds, figures, details, errors }, null, 2) + '\n',
    );
    console.log(`Results written to ${path.relative(process.cwd(), out)}`);
    return Object.keys(errors).length > 0 ? 1 : 0;
  } finally {
    await closeAllStages();
    redis.disconnect();
  }
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\n${signal}: stopping children and removing bench keys…`);
    killAllChildren();
    void closeAllStages().finally(() => process.exit(130));
  });
}

const deadline = setTimeout(() => {
  console.error(`Bench exceeded ${BENCH_DEADLINE_MS / 60_000} minutes; aborting.`);
  killAllChildren();
  void closeAllStages().finally(() => process.exit(1));
}, BENCH_DEADLINE_MS);
deadline.unref();

main().then(
  (code) => {
    killAllChildren();
    process.exit(code);
  },
  (err: unknown) => {
    console.error(err);
    killAllChildren();
    process.exit(1);
  },
);
