import { MeasureContext, MeasureResult } from './lib/context';
import { figure } from './lib/figures';
import { ServiceProcess } from '../test/support/service-process';
import { generate, waitViaStatus } from './lib/sessions';
import { withStage } from './lib/stage';
import { median, round } from './lib/stats';
import { Load, load } from './status-reads';

/** Many short rounds: the machine's drift over a minute is larger than the effect measured. */
const ROUNDS = 9;

/** The settings compared; `quiet` is the baseline: no metrics, and no access log below warn. */
const SETTINGS = {
  quiet: { METRICS_ENABLED: 'false', LOG_FORMAT: 'text', LOG_LEVEL: 'warn' },
  metrics: { METRICS_ENABLED: 'true', LOG_FORMAT: 'text', LOG_LEVEL: 'warn' },
  text: { METRICS_ENABLED: 'true', LOG_FORMAT: 'text', LOG_LEVEL: 'info' },
  full: { METRICS_ENABLED: 'true', LOG_FORMAT: 'json', LOG_LEVEL: 'info' },
} as const;
type Setting = keyof typeof SETTINGS;
type Field = 'requestsPerSecond' | 'serverCpuMsPerRequest';
const LABELS: Record<Setting, string> = {
  quiet: 'no metrics, text at warn',
  metrics: 'metrics, text at warn',
  text: 'metrics, text at info (the default)',
  full: 'metrics, JSON at info (Docker)',
};
const SETTING_NAMES = Object.keys(SETTINGS) as Setting[];

/**
 * The cost of metrics and logs on status reads: the status measurement's load (GET /status of a completed
 * 10-scene session, 50 connections) against four API processes of one stage that differ only in
 * METRICS_ENABLED, LOG_FORMAT and LOG_LEVEL. Each round runs all four back to back (rotating which goes
 * first); ratios to the quiet one are taken within a round, then their median over the rounds, since the
 * machine's drift over a minute is larger than the effect. Log lines go to a pipe this process reads, as a
 * log collector would.
 */
export async function observability(ctx: MeasureContext): Promise<MeasureResult> {
  const seconds = ctx.quick ? 2 : 3;
  const rounds = ctx.quick ? 3 : ROUNDS;
  return withStage('observability', ctx.redis, { plannerLatencyMs: 0, imageLatencyMs: 0 }, async (stage) => {
    const apis = {} as Record<Setting, { proc: ServiceProcess; url: string }>;
    for (const setting of SETTING_NAMES) apis[setting] = await stage.startApi(SETTINGS[setting]);
    const [worker] = await stage.startWorkers(1);
    const id = await generate(apis.quiet.url, 10);
    const done = await waitViaStatus(apis.quiet.url, id, 30_000);
    if (done.status !== 'completed') throw new Error(`session ${id} ${done.status}`);
    await stage.stop(worker);

    const run = (setting: Setting, s: number) =>
      load(`${apis[setting].url}/status/${id}`, s, apis[setting].proc.pid);
    for (const setting of SETTING_NAMES) await run(setting, 1); // warm-up, not counted
    const perRound: Record<Setting, Load>[] = [];
    for (let r = 0; r < rounds; r++) {
      const measured = {} as Record<Setting, Load>;
      for (let i = 0; i < SETTING_NAMES.length; i++) {
        const setting = SETTING_NAMES[(i + r) % SETTING_NAMES.length];
        measured[setting] = await run(setting, seconds);
      }
      perRound.push(measured);
    }
    for (const measured of perRound)
      for (const [setting, m] of Object.entries(measured))
        if (m.non2xx > 0 || m.errors > 0)
          throw new Error(`${setting}: ${m.non2xx} non-2xx, ${m.errors} errors`);
    ctx.log(
      `observability: req/s per round ${JSON.stringify(perRound.map((r) => SETTING_NAMES.map((s) => r[s].requestsPerSecond)))} ` +
        `(${SETTING_NAMES.join(', ')})`,
    );

    const medianOf = (setting: Setting, field: Field) => median(perRound.map((r) => r[setting][field]));
    const figures = (['metrics', 'text', 'full'] as const).flatMap((setting) =>
      (['requestsPerSecond', 'serverCpuMsPerRequest'] as const).map((field) =>
        figure({
          group: 'observability',
          name: `${field === 'requestsPerSecond' ? 'GET /status req/s' : 'server CPU per request'}, ${LABELS[setting]}`,
          measured: medianOf(setting, field),
          unit: field === 'requestsPerSecond' ? 'req/s' : 'ms',
          baseline: medianOf('quiet', field),
          baselineLabel: LABELS.quiet,
          // Paired within each round, then the median: not the ratio of the two medians shown.
          ratio: round(median(perRound.map((r) => r[setting][field] / r.quiet[field])), 3),
        }),
      ),
    );
    return {
      figures,
      details: { seconds, rounds, connections: 50, settings: SETTINGS, perRound },
    };
  });
}
