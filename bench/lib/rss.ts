import { readFileSync } from 'node:fs';
import { median, sleep } from './stats';

/** Resident set size of a process in bytes, from /proc (Linux); NaN when the process is gone. */
export function rssOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * Samples a process's RSS every `intervalMs` until stopped (or for at most `maxMs`), so peaks between
 * awaits are caught without the sampler itself allocating much.
 */
export class RssSampler {
  readonly samples: number[] = [];
  private timer: NodeJS.Timeout;
  private readonly stopAt: number;

  constructor(
    private readonly pid: number,
    intervalMs = 20,
    maxMs = 120_000,
  ) {
    this.stopAt = Date.now() + maxMs;
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    if (Date.now() > this.stopAt) {
      this.stop();
      return;
    }
    const rss = rssOf(this.pid);
    if (Number.isFinite(rss)) this.samples.push(rss);
  }

  stop(): number[] {
    clearInterval(this.timer);
    return this.samples;
  }

  get peak(): number {
    return this.samples.length ? Math.max(...this.samples) : NaN;
  }
}

export const MB = 1024 * 1024;

/** Median of a few RSS samples over ~1 s: a single read can land on a GC spike. */
export async function settledRss(pid: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 10; i++) {
    samples.push(rssOf(pid));
    await sleep(100);
  }
  return median(samples);
}
