import { errorMismatch, HostileContext, hostileInputs, send } from '../support/hostile-inputs';
import { envelopeProblem } from '../support/http-client';
import { pollUntil } from '../support/test-env';
import { Cluster, summarize } from './support/cluster';
import { record } from './support/tally';

describe('hostile input against the compiled API process', () => {
  it('answers every case with its 4xx and the envelope saying why, never a 5xx, and stays healthy', async () => {
    // A long planner timeout, so the session whose planner hangs stays processing for the whole run.
    const cluster = await Cluster.start({ apis: 1, workers: 1, vars: { OPENROUTER_TIMEOUT_MS: '600000' } });
    try {
      const client = cluster.client;
      const ctx = {} as HostileContext;
      ctx.completedId = await cluster.generate(3);
      ctx.approvedId = await cluster.generate(3);
      await cluster.settle([ctx.completedId, ctx.approvedId], 30_000);
      await client.call('/approve', {
        method: 'POST',
        json: { session_id: ctx.approvedId, approved_scenes: [0] },
      });
      cluster.openrouter.set({ status: 401 });
      ctx.failedId = await cluster.generate(2);
      await cluster.settle([ctx.failedId], 30_000);
      // A session that stays processing for the whole run: its planner never answers.
      cluster.openrouter.set({ status: undefined, mode: 'hang' });
      ctx.processingId = await cluster.generate(2);

      const cases = hostileInputs(ctx);
      const wrong: string[] = [];
      for (const c of cases) {
        const res = client.score(c.path, await send(client.baseUrl, c));
        const problem = envelopeProblem(res, c.status) ?? errorMismatch(c, res.body.error);
        if (problem) wrong.push(`${c.name}: ${problem}`);
      }
      expect(wrong).toEqual([]);
      expect((await client.call(`/status/${ctx.processingId}`)).body.status).toBe('processing');

      expect((await client.call('/health')).body.status).toBe('healthy');
      const completed = await client.call<{ status: string; download_status: string; scenes: unknown[] }>(
        `/status/${ctx.completedId}`,
      );
      expect(completed.body).toMatchObject({ status: 'completed', download_status: 'not_started' });
      const approved = await pollUntil(
        () => client.call(`/status/${ctx.approvedId}`),
        (r) => r.body.download_status !== 'started',
        20_000,
      );
      expect(approved.body.download_status).toBe('completed');
      expect(cluster.crashed()).toEqual([]);
      const outcomes = await cluster.settle([ctx.completedId, ctx.approvedId, ctx.failedId], 5_000);
      record('hostile input table', {
        ...summarize(outcomes),
        hostile_inputs: cases.length,
        requests: client.requests,
        unexpected_5xx: client.unexpected5xx.length,
      });
    } finally {
      await cluster.stop();
    }
  });
});
