import { MeasureContext, MeasureResult } from './lib/context';
import { figure } from './lib/figures';
import { generate, waitViaStatus } from './lib/sessions';
import { withStage } from './lib/stage';
import { median, ms, percentile, round } from './lib/stats';

const PLANNER_MS = 300;
const IMAGE_MS = 1000;
const SCENES = 10;
const IDEAL_MS = PLANNER_MS + IMAGE_MS;
/** Issue 5's targets for the overhead over the ideal time. */
const TARGETS = [
  { percentile: 50, maxMs: 100 },
  { percentile: 95, maxMs: 250 },
];

/**
 * 1. Fan-out overhead: sessions run one at a time, so each has the whole service to itself; whatever a
 * session takes beyond planner latency + one image latency (all scenes in parallel) is the service's own
 * overhead. Timestamps are the session's own (GET /status); the per-phase breakdown adds when requests
 * reached the fakes and each scene's rendered_at (from the session hash).
 */
export async function fanout(ctx: MeasureContext): Promise<MeasureResult> {
  const sessions = ctx.quick ? 5 : 20;
  return withStage(
    'fanout',
    ctx.redis,
    { plannerLatencyMs: PLANNER_MS, imageLatencyMs: IMAGE_MS },
    async (stage) => {
      const { url } = await stage.startApi();
      await stage.startWorkers(1);
      // One warm-up session (not counted): opens the Runware WebSocket and warms the JIT in every process.
      await waitViaStatus(url, await generate(url, SCENES), 30_000);

      const rows: Record<string, number>[] = [];
      for (let i = 0; i < sessions; i++) {
        const plannerBefore = stage.openrouter.requests.length;
        const imagesBefore = stage.imageTaskArrivals.length;
        const id = await generate(url, SCENES);
        const body = await waitViaStatus(url, id, 30_000);
        if (body.status !== 'completed') throw new Error(`session ${id} ${body.status}: ${body.error}`);
        const created = ms(body.created_at);
        const planned = ms(body.planned_at);
        const completed = ms(body.completed_at);
        const hash = await ctx.redis.hgetall(`${stage.prefix}:session:${id}`);
        const rendered = Object.entries(hash)
          .filter(([field]) => field.startsWith('render:')) // a scene's render outcome (SessionStore.saveRender)
          .map(([, json]) => ms((JSON.parse(json) as { rendered_at: string }).rendered_at));
        const plannerAt = stage.openrouter.requests[plannerBefore]?.at ?? NaN;
        const arrivals = stage.imageTaskArrivals.slice(imagesBefore, imagesBefore + SCENES);
        const lastRendered = Math.max(...rendered);
        rows.push({
          total: completed - created,
          overhead: completed - created - IDEAL_MS,
          // created → the worker's planner request reaches the fake: enqueue, pickup, session read/write
          planPickup: plannerAt - created,
          // planner answer → planned_at: parse, validate, write scenes
          planWrite: planned - (plannerAt + PLANNER_MS),
          // planned_at → first / last render task reaching the fake: flow add, job pickup, scene reads/writes
          firstRenderDispatch: Math.min(...arrivals) - planned,
          lastRenderDispatch: Math.max(...arrivals) - planned,
          // last task sent + provider latency → last scene recorded as rendered: result delivery
          resultDelivery: lastRendered - (Math.max(...arrivals) + IMAGE_MS),
          // first to last scene rendered_at: how far apart the "parallel" scenes finish
          renderSpread: lastRendered - Math.min(...rendered),
          // last scene rendered → completed_at: the last render finalising the session
          finalize: completed - lastRendered,
        });
      }
      const overheads = rows.map((r) => r.overhead);
      const totals = rows.map((r) => r.total);
      const breakdown = Object.fromEntries(
        Object.keys(rows[0]).map((key) => [key, round(median(rows.map((r) => r[key])))]),
      );
      ctx.log(`fanout: median breakdown (ms) ${JSON.stringify(breakdown)}`);
      return {
        figures: TARGETS.map(({ percentile: p, maxMs }) =>
          figure({
            group: 'fanout',
            name: `overhead p${p}`,
            measured: percentile(overheads, p),
            unit: 'ms',
            baseline: IDEAL_MS,
            baselineLabel: 'ideal',
            ratio: percentile(totals, p) / IDEAL_MS,
            target: { of: 'measured', op: '<=', value: maxMs },
          }),
        ),
        details: {
          sessions,
          scenesPerSession: SCENES,
          plannerLatencyMs: PLANNER_MS,
          imageLatencyMs: IMAGE_MS,
          warmupSessions: 1,
          medianBreakdownMs: breakdown,
          perSession: rows,
        },
      };
    },
  );
}
