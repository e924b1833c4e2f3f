import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/** Where every scenario appends its figures; the global teardown reads them back into one table. */
export const TALLY_FILE = path.join(
  tmpdir(),
  `sig-reliability-${process.env.RELIABILITY_RUN_ID ?? 'local'}.jsonl`,
);

export interface Figures {
  sessions_started?: number;
  sessions_completed?: number;
  sessions_failed_clear?: number;
  sessions_lost?: number;
  unexpected_5xx?: number;
  outage_503?: number;
  hostile_inputs?: number;
  requests?: number;
  faults?: Record<string, number>;
}

/** Appends a scenario's figures, and fails the scenario if it lost a session or answered an unexpected 5xx. */
export function record(scenario: string, figures: Figures): void {
  appendFileSync(TALLY_FILE, JSON.stringify({ scenario, ...figures }) + '\n');
  if ((figures.sessions_lost ?? 0) > 0 || (figures.unexpected_5xx ?? 0) > 0) {
    throw new Error(
      `${scenario}: ${figures.sessions_lost ?? 0} session(s) lost, ${figures.unexpected_5xx ?? 0} unexpected 5xx`,
    );
  }
}

export function readAll(): (Figures & { scenario: string })[] {
  if (!existsSync(TALLY_FILE)) return [];
  return readFileSync(TALLY_FILE, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Figures & { scenario: string });
}
