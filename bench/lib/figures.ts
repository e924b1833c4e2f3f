/**
 * A figure is one row of the result table: what was measured, the same-run baseline it is compared with
 * (if any), their ratio and the target from issue 5. Targets apply to a ratio or to a count/difference,
 * never to a bare timer, because the machines are shared and noisy.
 */
export interface Target {
  /** Which number the target applies to. */
  of: 'measured' | 'ratio';
  op: '<=' | '>=' | '<';
  value: number;
}

export interface Figure {
  /** Measurement group (fanout, capacity…) and row name. */
  group: string;
  name: string;
  measured: number;
  unit: string;
  baseline?: number;
  baselineLabel?: string;
  ratio?: number;
  target?: Target;
  pass?: boolean;
  note?: string;
}

export function figure(f: Omit<Figure, 'pass'>): Figure {
  return { ...f, pass: f.target ? check(f, f.target) : undefined };
}

function check(f: Omit<Figure, 'pass'>, target: Target): boolean {
  const value = target.of === 'ratio' ? f.ratio : f.measured;
  if (value === undefined || !Number.isFinite(value)) return false;
  switch (target.op) {
    case '<=':
      return value <= target.value;
    case '>=':
      return value >= target.value;
    case '<':
      return value < target.value;
  }
}

function num(value: number | undefined, unit = ''): string {
  if (value === undefined || Number.isNaN(value)) return '-';
  const abs = Math.abs(value);
  const text = abs >= 1000 ? value.toFixed(0) : abs >= 100 ? value.toFixed(1) : value.toFixed(2);
  return unit ? `${text} ${unit}` : text;
}

function targetText(target: Target | undefined, unit: string): string {
  if (!target) return '-';
  return target.of === 'ratio'
    ? `ratio ${target.op} ${target.value}`
    : `${target.op} ${target.value} ${unit}`;
}

/** A fixed-width text table, one row per figure. */
export function formatTable(figures: Figure[]): string {
  const header = ['figure', 'measured', 'baseline', 'ratio', 'target', 'ok'];
  const rows = figures.map((f) => [
    `${f.group}: ${f.name}`,
    num(f.measured, f.unit),
    f.baseline === undefined
      ? '-'
      : `${num(f.baseline, f.unit)}${f.baselineLabel ? ` (${f.baselineLabel})` : ''}`,
    num(f.ratio),
    targetText(f.target, f.unit),
    f.pass === undefined ? '-' : f.pass ? 'PASS' : 'FAIL',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join(' | ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}
