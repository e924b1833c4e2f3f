import autocannon from 'autocannon';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { cpuMsOf } from './lib/cpu';
import { MeasureContext, MeasureResult } from './lib/context';
import { figure } from './lib/figures';
import { HelperProcess, kill } from './lib/processes';
import { generate, waitViaStatus } from './lib/sessions';
import { withStage } from './lib/stage';
import { round } from './lib/stats';

const CONNECTIONS = 50;
const ROUNDS = 3;

export interface Load {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  errors: number;
  /** CPU ms the server process used per request (from /proc). */
  serverCpuMsPerRequest: number;
}

/** autocannon, run programmatically, against one URL; CPU of `pid` is read around it. */
export async function load(url: string, seconds: number, pid: number): Promise<Load> {
  const cpuBefore = cpuMsOf(pid);
  const result = await autocannon({ url, connections: CONNECTIONS, duration: seconds });
  const cpu = cpuMsOf(pid) - cpuBefore;
  return {
    requestsPerSecond: round(result.requests.average, 1),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    serverCpuMsPerRequest: round(cpu / Math.max(1, result.requests.total), 4),
  };
}

/** The round with the median throughput (its latency and CPU figures come with it). */
function medianLoad(loads: Load[]): Load {
  const sorted = [...loads].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * 4. Status reads: GET /status/{id} of a completed 10-scene session, 50 connections, against a bare server
 * in its own process returning the very same bytes (Express as in the issue; plain node:http for reference).
 * autocannon runs in the bench process for both, so both pay the same client cost on the same cores.
 */
export async function statusReads(ctx: MeasureContext): Promise<MeasureResult> {
  const seconds = ctx.quick ? 2 : 5;
  return withStage('status', ctx.redis, { plannerLatencyMs: 0, imageLatencyMs: 0 }, async (stage) => {
    const api = await stage.startApi();
    const [worker] = await stage.startWorkers(1);
    const id = await generate(api.url, 10);
    const done = await waitViaStatus(api.url, id, 30_000);
    if (done.status !== 'completed') throw new Error(`session ${id} ${done.status}`);
    await stage.stop(worker); // an idle worker only adds noise from here on

    const bytes = Buffer.from(await (await fetch(`${api.url}/status/${id}`)).arrayBuffer());
    const bodyFile = path.join(stage.imageDir, 'status-body.json');
    writeFileSync(bodyFile, bytes);
    const bare = {
      express: new HelperProcess('bare-server.ts', { BODY_FILE: bodyFile, KIND: 'express' }),
      http: new HelperProcess('bare-server.ts', { BODY_FILE: bodyFile, KIND: 'http' }),
    };
    try {
      const ports = {
        express: (await bare.express.message<{ port: number }>('listening', 20_000)).port,
        http: (await bare.http.message<{ port: number }>('listening', 20_000)).port,
      };
      const urls = {
        api: `${api.url}/status/${id}`,
        express: `http://127.0.0.1:${ports.express}/status/${id}`,
        http: `http://127.0.0.1:${ports.http}/status/${id}`,
      };
      // Warm-up (not counted): JIT and connection setup in every server.
      await load(urls.api, 1, api.proc.pid);
      await load(urls.express, 1, bare.express.pid);
      await load(urls.http, 1, bare.http.pid);
      // The service and bare Express alternate, swapping which goes first each round, and each side's
      // median round is reported: one 5 s run swings by ±15 % on 2 shared cores, and alternating exposes
      // both sides to the same drift in machine conditions.
      const rounds: { api: Load; express: Load }[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const loadApi = () => load(urls.api, seconds, api.proc.pid);
        const loadExpress = () => load(urls.express, seconds, bare.express.pid);
        if (round % 2 === 0) rounds.push({ api: await loadApi(), express: await loadExpress() });
        else {
          const express = await loadExpress();
          rounds.push({ api: await loadApi(), express });
        }
      }
      const measured = {
        api: medianLoad(rounds.map((r) => r.api)),
        express: medianLoad(rounds.map((r) => r.express)),
        http: await load(urls.http, Math.min(seconds, 3), bare.http.pid),
      };
      ctx.log(
        `status: rounds ${JSON.stringify(rounds.map((r) => [r.api.requestsPerSecond, r.express.requestsPerSecond]))}; ` +
          `medians ${JSON.stringify(measured)}`,
      );
      for (const [name, m] of [
        ...rounds.flatMap((r) => Object.entries(r)),
        ['http', measured.http] as const,
      ]) {
        if (m.non2xx > 0 || m.errors > 0) throw new Error(`${name}: ${m.non2xx} non-2xx, ${m.errors} errors`);
      }
      const { api: a, express: e, http: h } = measured;
      return {
        figures: [
          figure({
            group: 'status',
            name: `GET /status req/s (${CONNECTIONS} conns, ${bytes.length} B)`,
            measured: a.requestsPerSecond,
            unit: 'req/s',
            baseline: e.requestsPerSecond,
            baselineLabel: 'bare Express',
            ratio: a.requestsPerSecond / e.requestsPerSecond,
            target: { of: 'ratio', op: '>=', value: 0.6 },
          }),
          figure({
            group: 'status',
            name: 'GET /status p99 latency',
            measured: a.p99Ms,
            unit: 'ms',
            baseline: e.p99Ms,
            baselineLabel: 'bare Express',
            ratio: a.p99Ms / e.p99Ms,
          }),
          figure({
            group: 'status',
            name: 'GET /status req/s vs node:http',
            measured: a.requestsPerSecond,
            unit: 'req/s',
            baseline: h.requestsPerSecond,
            baselineLabel: 'bare node:http',
            ratio: a.requestsPerSecond / h.requestsPerSecond,
          }),
          figure({
            group: 'status',
            name: 'server CPU per request',
            measured: a.serverCpuMsPerRequest,
            unit: 'ms',
            baseline: e.serverCpuMsPerRequest,
            baselineLabel: 'bare Express',
            ratio: a.serverCpuMsPerRequest / e.serverCpuMsPerRequest,
          }),
        ],
        details: { seconds, rounds, connections: CONNECTIONS, bodyBytes: bytes.length, ...measured },
      };
    } finally {
      await Promise.all([kill(bare.express.child), kill(bare.http.child)]);
    }
  });
}
