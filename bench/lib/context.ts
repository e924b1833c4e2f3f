import type Redis from 'ioredis';
import { Figure } from './figures';

/** What every measurement gets from the driver. */
export interface MeasureContext {
  redis: Redis;
  /** BENCH_QUICK=1: fewer sessions, shorter runs; figures are indicative only. */
  quick: boolean;
  log: (message: string) => void;
}

export interface MeasureResult {
  figures: Figure[];
  /** Everything else worth keeping in latest.json (breakdowns, raw samples, parameters). */
  details: Record<string, unknown>;
}

export type Measurement = (ctx: MeasureContext) => Promise<MeasureResult>;
