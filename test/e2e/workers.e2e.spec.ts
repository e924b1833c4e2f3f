import { getQueueToken, WorkerHost } from '@nestjs/bullmq';
import { DiscoveryService } from '@nestjs/core';
import { Job, Queue } from 'bullmq';
import { HousekeepingProcessor } from '../../src/housekeeping/housekeeping.processor';
import { JobName, QueueName } from '../../src/domain/jobs';
import { startTestApp, TestApp } from '../support/test-app';
import { pollUntil, TestEnv } from '../support/test-env';

const processorsOf = (t: TestApp) =>
  t.app
    .get(DiscoveryService)
    .getProviders()
    .filter((wrapper) => wrapper.instance instanceof WorkerHost);

describe('queue processors', () => {
  it('are not loaded by ROLE=api', async () => {
    const t = await startTestApp({ ROLE: 'api' });
    try {
      expect(processorsOf(t)).toEqual([]);
      const housekeeping = t.app.get<Queue>(getQueueToken(QueueName.Housekeeping));
      expect(await housekeeping.getJobSchedulers()).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('run each housekeeping tick once for the whole cluster, however many workers there are', async () => {
    const INTERVAL_MS = 200;
    const env = new TestEnv();
    const vars = { HOUSEKEEPING_INTERVAL_MS: String(INTERVAL_MS) };
    // Two worker processes of one cluster: same Redis prefix, each with its own processors.
    const first = await startTestApp(vars, env);
    const second = await startTestApp(vars, env);
    try {
      const sweeps: { worker: string; tick: number }[] = [];
      const started = Date.now();
      for (const [name, t] of [
        ['first', first],
        ['second', second],
      ] as const) {
        t.app.get<WorkerHost>(HousekeepingProcessor).worker.on('completed', (job: Job) => {
          if (job.name === JobName.SweepExpiredSessions) sweeps.push({ worker: name, tick: job.timestamp });
        });
      }
      const housekeeping = first.app.get<Queue>(getQueueToken(QueueName.Housekeeping));
      const schedulers = await housekeeping.getJobSchedulers();
      expect(schedulers.map((s) => s.key).sort()).toEqual([
        JobName.CheckStalledSessions,
        JobName.SweepExpiredSessions,
      ]);

      await pollUntil(
        () => Promise.resolve(sweeps.length),
        (count) => count >= 8,
        10_000,
      );
      const elapsed = Date.now() - started;
      // One sweep per tick: with a scheduler per worker (or a timer per process) there would be two.
      // (+2: the tick under way when counting began, and the one due as it ends.)
      expect(sweeps.length).toBeLessThanOrEqual(Math.floor(elapsed / INTERVAL_MS) + 2);
      expect(new Set(sweeps.map((s) => s.tick)).size).toBe(sweeps.length);
    } finally {
      await second.app.close();
      await first.close();
    }
  });
});
