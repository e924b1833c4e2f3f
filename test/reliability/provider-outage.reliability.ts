import { pollUntil } from '../support/test-env';
import { Cluster, summarize } from './support/cluster';
import { record } from './support/tally';

const OUTAGE_MS = 20_000;
const THRESHOLD = 5; // PROVIDER_BREAKER_THRESHOLD's default
const PROBE_MS = 5_000; // PROVIDER_PROBE_INTERVAL_MS's default
const SESSIONS = 4;
const SCENES = 4;

type Status = { status: string; warnings?: string[]; created_at: string; completed_at: string | null };
type Health = { services?: Record<string, string> };

describe('a provider outage', () => {
  it('rides out 20 s of Runware errors: sessions from before and during it complete, with few requests sent', async () => {
    // Two workers: the breaker they share is what keeps the probes to one per interval for the cluster.
    const cluster = await Cluster.start({
      apis: 1,
      workers: 2,
      vars: { PROVIDER_OUTAGE_TOLERANCE_SECONDS: '120' },
      // Plans take a second, so the renders of the sessions sent before the outage meet it.
      openrouter: { behaviour: { latencyMs: 1_000 } },
      runware: { behaviour: { latencyMs: 100 } },
    });
    try {
      const before: string[] = [];
      for (let i = 0; i < SESSIONS; i++) before.push(await cluster.generate(SCENES));
      const outageStart = Date.now();
      const outageEnd = outageStart + OUTAGE_MS;
      cluster.runware.set({ outageUntil: outageEnd });

      const waiting = (id: string) =>
        pollUntil(
          () => cluster.client.call<Status>(`/status/${id}`),
          (r) => (r.body.warnings ?? []).some((w) => w.startsWith('Runware is unavailable')),
          outageEnd - Date.now(),
        );
      for (const id of before) expect((await waiting(id)).body.status).toBe('processing');
      const health = await cluster.client.call<Health>('/health');
      expect(health.body.services?.runware).toBe('degraded');

      const during: string[] = [];
      for (let i = 0; i < SESSIONS; i++) during.push(await cluster.generate(SCENES));
      for (const id of during) expect((await waiting(id)).body.status).toBe('processing');
      // Everything above was seen while Runware was still failing.
      expect(Date.now()).toBeLessThan(outageEnd);

      const outcomes = await cluster.settle([...before, ...during], 90_000);
      const settled = Date.now();
      for (const outcome of outcomes.values()) expect(outcome.status).toBe('completed');
      const finals = await Promise.all(
        [...before, ...during].map((id) => cluster.client.call<Status>(`/status/${id}`)),
      );
      for (const final of finals) expect(final.body.warnings).toEqual([]);

      // Requests Runware received while it was failing: the renders of the sessions sent before, which went
      // out together as their plans ended (the breaker opens on the failures, not before they arrive), then
      // one probe per interval for the whole cluster. The sessions sent during the outage sent none.
      const failed = cluster.runware.stats.injected.outage ?? 0;
      const tasks = cluster.runware.stats.imageTasks;
      const inOutage = tasks.filter((t) => t.at >= outageStart && t.at < outageEnd);
      const afterBurst = inOutage.filter((t) => t.at >= outageStart + PROBE_MS);
      expect(inOutage.length).toBe(failed);
      expect(failed).toBeGreaterThanOrEqual(THRESHOLD);
      expect(failed).toBeLessThanOrEqual(SESSIONS * SCENES + Math.ceil(OUTAGE_MS / PROBE_MS) + 2);
      // From 5 s on only probes remain: one per 5 s across both workers, not one per worker.
      expect(afterBurst.length).toBeLessThanOrEqual(Math.ceil((OUTAGE_MS - PROBE_MS) / PROBE_MS) + 1);
      // Runware answers the next probe, at most one interval after it recovered. The jobs waiting for it,
      // scene renders and portraits alike, are then resumed at once rather than at their own next wake (a
      // whole interval later): every session completes well within one interval of that first answer. Timed
      // by the sessions' own completed_at, not by when this test's polling noticed.
      const firstAnswer = Math.min(...tasks.filter((t) => t.at >= outageEnd).map((t) => t.at));
      const lastCompleted = Math.max(...finals.map((f) => Date.parse(f.body.completed_at ?? '')));
      expect(firstAnswer - outageEnd).toBeLessThanOrEqual(PROBE_MS + 2_000);
      expect(lastCompleted - firstAnswer).toBeLessThan(PROBE_MS - 1_000);
      expect(cluster.crashed()).toEqual([]);

      const took = finals.map((f) => Date.parse(f.body.completed_at ?? '') - Date.parse(f.body.created_at));
      const figures = {
        session_seconds: { min: Math.min(...took) / 1000, max: Math.max(...took) / 1000 },
        runware_requests_in_outage: failed,
        of_which_after_first_5_s: afterBurst.length,
        first_answer_after_outage_end_ms: firstAnswer - outageEnd,
        last_completed_after_first_answer_ms: lastCompleted - firstAnswer,
        test_saw_all_settled_after_outage_end_ms: settled - outageEnd,
        total_image_tasks: tasks.length,
      };
      process.stdout.write(`provider outage figures: ${JSON.stringify(figures)}\n`);
      record('Runware answering errors for 20 s, then recovering', {
        ...summarize(outcomes),
        faults: { 'Runware requests during a 20 s outage': failed },
        requests: cluster.client.requests,
        unexpected_5xx: cluster.client.unexpected5xx.length,
      });
    } finally {
      await cluster.stop();
    }
  });
});
