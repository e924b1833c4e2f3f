import { SseClient, SseEvent } from '../test/support/sse-client';
import { MeasureContext, MeasureResult } from './lib/context';
import { figure } from './lib/figures';
import { MB, settledRss } from './lib/rss';
import { generate, generateMany, waitViaStatus } from './lib/sessions';
import { withStage } from './lib/stage';
import { ms, percentile, round, sleep } from './lib/stats';

const PLANNER_MS = 300;
const IMAGE_MS = 1000;
const SCENES = 10;
const IDEAL_MS = PLANNER_MS + IMAGE_MS;
/** Streams held open on completed sessions while the fan-out sessions run (issue 12: 500). */
const STREAMS = 500;
const BACKGROUND_SESSIONS = 50;
/** Streams following each fan-out session live, on top of the 500. */
const LIVE_STREAMS_PER_SESSION = 10;
/** Issue 5's fan-out target, which must still hold with the streams open. */
const P50_TARGET_MS = 100;

/** The API's V8 heap in use, from its own /metrics (prom-client's default metrics). */
async function heapUsed(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = /^nodejs_heap_size_used_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text);
  return match ? Number(match[1]) : NaN;
}

/** The least of a few heap readings: each holds garbage not collected yet, the least holds the least. */
async function settledHeap(url: string): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 10; i++) {
    samples.push(await heapUsed(url));
    await sleep(200);
  }
  return Math.min(...samples);
}

/** Runs sessions one at a time, as the fanout measurement does; returns each one's overhead in ms. */
async function fanoutOverheads(
  url: string,
  count: number,
  follow?: (id: string) => Promise<SseClient[]>,
): Promise<{ overheads: number[]; lagsMs: number[] }> {
  const overheads: number[] = [];
  const lagsMs: number[] = [];
  for (let i = 0; i < count; i++) {
    const id = await generate(url, SCENES);
    const live = follow ? await follow(id) : [];
    const body = await waitViaStatus(url, id, 30_000);
    if (body.status !== 'completed') throw new Error(`session ${id} ${body.status}: ${body.error}`);
    overheads.push(ms(body.completed_at) - ms(body.created_at) - IDEAL_MS);
    for (const stream of live) {
      // Every live stream must see the session complete; the lag is how long after completed_at it did.
      const isCompleted = (e: SseEvent) => e.event === 'status' && e.data.includes('"completed"');
      const events = await stream.waitFor((all) => all.some(isCompleted));
      lagsMs.push(events.find(isCompleted)!.at - ms(body.completed_at));
      stream.close();
    }
  }
  return { overheads, lagsMs };
}

/**
 * 9. Live progress: 500 SSE streams held open on one API process (10 on each of 50 completed sessions).
 * Memory per open stream = (API RSS, and V8 heap from /metrics, with the streams open − before) / 500. Then
 * the fanout measurement's sessions run one at a time with those streams open, each followed live by 10
 * more streams, against the same sessions run just before without any stream (same processes): the
 * fan-out p50 overhead target (≤ 100 ms) must still hold. Also the delivery lag: `completed` status event
 * reaching a client − the session's completed_at.
 */
export async function sseStreams(ctx: MeasureContext): Promise<MeasureResult> {
  const sessions = ctx.quick ? 5 : 20;
  return withStage(
    'sse',
    ctx.redis,
    { plannerLatencyMs: PLANNER_MS, imageLatencyMs: IMAGE_MS },
    async (stage) => {
      const { url, proc } = await stage.startApi();
      await stage.startWorkers(1);
      // Warm-up (not counted), then the background sessions the streams will watch.
      await waitViaStatus(url, await generate(url, SCENES), 30_000);
      const background = await generateMany(url, BACKGROUND_SESSIONS, 2);
      for (const id of background) await waitViaStatus(url, id, 60_000);

      const withoutStreams = await fanoutOverheads(url, sessions);

      await sleep(2000);
      const rssBefore = await settledRss(proc.pid);
      const heapBefore = await settledHeap(url);
      const streams: SseClient[] = [];
      for (let i = 0; i < STREAMS; i++) {
        const stream = await SseClient.connect(`${url}/status/${background[i % BACKGROUND_SESSIONS]}/events`);
        if (stream.status !== 200) throw new Error(`stream ${i} answered ${stream.status}`);
        streams.push(stream);
      }
      await Promise.all(streams.map((stream) => stream.waitFor((events) => events.length > 0, 60_000)));
      await sleep(2000);
      const rssAfter = await settledRss(proc.pid);
      const heapAfter = await settledHeap(url);
      const rssPerStreamKB = (rssAfter - rssBefore) / STREAMS / 1024;
      const heapPerStreamKB = (heapAfter - heapBefore) / STREAMS / 1024;
      ctx.log(
        `sse: API RSS ${round(rssBefore / MB)} → ${round(rssAfter / MB)} MB, heap ${round(heapBefore / MB)} → ` +
          `${round(heapAfter / MB)} MB with ${STREAMS} streams`,
      );

      const follow = async (id: string) => {
        const live = await Promise.all(
          Array.from({ length: LIVE_STREAMS_PER_SESSION }, () =>
            SseClient.connect(`${url}/status/${id}/events`),
          ),
        );
        return live;
      };
      const withStreams = await fanoutOverheads(url, sessions, follow);
      const open = streams.filter((stream) => !stream.ended).length;
      streams.forEach((stream) => stream.close());
      if (open !== STREAMS) throw new Error(`only ${open} of ${STREAMS} streams stayed open`);

      const p50Without = percentile(withoutStreams.overheads, 50);
      const p50With = percentile(withStreams.overheads, 50);
      return {
        figures: [
          figure({
            group: 'sse',
            name: `fanout overhead p50, ${STREAMS} streams open`,
            measured: p50With,
            unit: 'ms',
            baseline: p50Without,
            baselineLabel: 'no streams',
            ratio: (p50With + IDEAL_MS) / (p50Without + IDEAL_MS),
            target: { of: 'measured', op: '<=', value: P50_TARGET_MS },
          }),
          figure({
            group: 'sse',
            name: `fanout overhead p95, ${STREAMS} streams open`,
            measured: percentile(withStreams.overheads, 95),
            unit: 'ms',
            baseline: percentile(withoutStreams.overheads, 95),
            baselineLabel: 'no streams',
          }),
          figure({ group: 'sse', name: 'API RSS per open stream', measured: rssPerStreamKB, unit: 'KB' }),
          figure({ group: 'sse', name: 'API heap per open stream', measured: heapPerStreamKB, unit: 'KB' }),
          figure({
            group: 'sse',
            name: 'completed event lag p50 (after completed_at)',
            measured: percentile(withStreams.lagsMs, 50),
            unit: 'ms',
          }),
        ],
        details: {
          sessions,
          streams: STREAMS,
          liveStreamsPerSession: LIVE_STREAMS_PER_SESSION,
          rssBeforeMB: round(rssBefore / MB),
          rssAfterMB: round(rssAfter / MB),
          heapBeforeMB: round(heapBefore / MB),
          heapAfterMB: round(heapAfter / MB),
          overheadsWithoutStreams: withoutStreams.overheads,
          overheadsWithStreams: withStreams.overheads,
          completedEventLagsMs: withStreams.lagsMs,
        },
      };
    },
  );
}
