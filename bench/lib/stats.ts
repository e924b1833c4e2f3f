/** Small statistics helpers; inputs are never mutated. */

/** Linear-interpolated percentile (p in 0..100) of `values`; NaN for an empty list. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
}

export const median = (values: number[]): number => percentile(values, 50);

export const round = (value: number, digits = 1): number => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Parses an ISO timestamp written by the service into epoch ms (NaN when absent). */
export const ms = (iso: string | null | undefined): number => (iso ? Date.parse(iso) : NaN);
