import { rmSync } from 'node:fs';
import { Figures, readAll, TALLY_FILE } from './tally';

/** Prints the suite's figures as one table: what was tried, what broke, and what must be zero. */
export default function teardown(): void {
  const rows = readAll();
  const sum = (key: keyof Omit<Figures, 'faults'>) => rows.reduce((total, row) => total + (row[key] ?? 0), 0);
  const faults: Record<string, number> = {};
  for (const row of rows)
    for (const [kind, n] of Object.entries(row.faults ?? {})) faults[kind] = (faults[kind] ?? 0) + n;

  const lines: [string, string][] = [
    ['scenarios run', String(rows.length)],
    ['sessions started', String(sum('sessions_started'))],
    ...Object.entries(faults)
      .sort()
      .map(([kind, n]): [string, string] => [`faults injected: ${kind}`, String(n)]),
    ['sessions completed', String(sum('sessions_completed'))],
    ['sessions failed with a clear error', String(sum('sessions_failed_clear'))],
    ['sessions lost (must be 0)', String(sum('sessions_lost'))],
    ['HTTP requests made', String(sum('requests'))],
    ['5xx answers (must be 0)', String(sum('unexpected_5xx'))],
    ['503 answers while Redis was down (expected)', String(sum('outage_503'))],
    ['hostile inputs tried', String(sum('hostile_inputs'))],
  ];
  const width = Math.max(...lines.map(([label]) => label.length));
  const table = [
    '',
    'Reliability suite',
    `| ${'figure'.padEnd(width)} | value |`,
    `| ${'-'.repeat(width)} | ----- |`,
    ...lines.map(([label, value]) => `| ${label.padEnd(width)} | ${value.padStart(5)} |`),
    '',
    'Per scenario:',
    ...rows.map((row) => `  ${row.scenario}: ${JSON.stringify({ ...row, scenario: undefined })}`),
    '',
  ].join('\n');
  process.stdout.write(table);
  rmSync(TALLY_FILE, { force: true });
}
