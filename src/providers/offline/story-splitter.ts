/**
 * Splits a story into passages along paragraph and sentence boundaries, with balanced lengths.
 * Works on any Unicode text: sentence boundaries come from Intl.Segmenter, lengths are counted in
 * code points.
 */

interface Unit {
  text: string;
  /** True when this unit opens a paragraph: cutting before it costs nothing. */
  opensParagraph: boolean;
}

const sentenceSegmenter = new Intl.Segmenter(undefined, { granularity: 'sentence' });

export function codePointLength(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

function sentenceUnits(story: string): Unit[] {
  const units: Unit[] = [];
  for (const paragraph of story.split(/\n[ \t\r\f\v]*\n/)) {
    let first = true;
    for (const { segment } of sentenceSegmenter.segment(paragraph)) {
      const text = segment.replace(/\s+/g, ' ').trim();
      if (!text) continue;
      units.push({ text, opensParagraph: first });
      first = false;
    }
  }
  return units;
}

/** When there are fewer sentences than scenes, long sentences are split further at clause punctuation. */
function splitAtClauses(units: Unit[], wanted: number): Unit[] {
  const result = [...units];
  while (result.length < wanted) {
    let longest = -1;
    let best: [string, string] | null = null;
    result.forEach((unit, i) => {
      const halves = splitClause(unit.text);
      if (halves && (longest < 0 || unit.text.length > result[longest].text.length)) {
        longest = i;
        best = halves;
      }
    });
    if (longest < 0 || !best) break;
    const [head, tail] = best as [string, string];
    result.splice(
      longest,
      1,
      { text: head, opensParagraph: result[longest].opensParagraph },
      { text: tail, opensParagraph: false },
    );
  }
  return result;
}

/** Splits at the clause mark (comma, semicolon, colon, dash) nearest the middle, if any. */
function splitClause(text: string): [string, string] | null {
  const marks = [...text.matchAll(/[,;:，、；：—–]\s*/gu)];
  let best: RegExpMatchArray | null = null;
  for (const mark of marks) {
    const at = (mark.index ?? 0) + mark[0].length;
    if (at <= 1 || at >= text.length - 1) continue;
    if (
      !best ||
      Math.abs(at - text.length / 2) < Math.abs((best.index ?? 0) + best[0].length - text.length / 2)
    ) {
      best = mark;
    }
  }
  if (!best) return null;
  const at = (best.index ?? 0) + best[0].length;
  const head = text.slice(0, at).trim();
  const tail = text.slice(at).trim();
  return head && tail ? [head, tail] : null;
}

/**
 * Groups consecutive units into exactly `count` passages (or fewer, when there are fewer units), choosing
 * the cut points that keep passage lengths closest to equal and prefer paragraph breaks (dynamic programming).
 */
function partition(units: Unit[], count: number): string[] {
  const n = units.length;
  const k = Math.min(count, n);
  const lengths = units.map((u) => codePointLength(u.text) + 1);
  const prefix = [0];
  for (const length of lengths) prefix.push(prefix[prefix.length - 1] + length);
  const target = prefix[n] / k;
  const cutCost = (i: number) => (units[i].opensParagraph ? 0 : target * 0.15);
  const groupCost = (from: number, to: number) => {
    const length = prefix[to] - prefix[from];
    return ((length - target) * (length - target)) / target;
  };

  // best[g][j]: least cost of putting units [0, j) into g groups; from[g][j]: where the last group starts.
  const best: number[][] = Array.from({ length: k + 1 }, () => new Array<number>(n + 1).fill(Infinity));
  const from: number[][] = Array.from({ length: k + 1 }, () => new Array<number>(n + 1).fill(-1));
  best[0][0] = 0;
  for (let g = 1; g <= k; g++) {
    for (let j = g; j <= n - (k - g); j++) {
      for (let i = j - 1; i >= g - 1; i--) {
        // Groups far longer than the target are never optimal; stop scanning once past them.
        if (prefix[j] - prefix[i] > target * 4 && i < j - 1) break;
        if (best[g - 1][i] === Infinity) continue;
        const cost = best[g - 1][i] + groupCost(i, j) + (i > 0 ? cutCost(i) : 0);
        if (cost < best[g][j]) {
          best[g][j] = cost;
          from[g][j] = i;
        }
      }
    }
  }
  if (best[k][n] === Infinity) return greedyPartition(units, k);
  const passages: string[] = [];
  let end = n;
  for (let g = k; g >= 1; g--) {
    const start = from[g][end];
    passages.unshift(
      units
        .slice(start, end)
        .map((u) => u.text)
        .join(' '),
    );
    end = start;
  }
  return passages;
}

/** Fallback for pathological inputs: equal numbers of units per passage. */
function greedyPartition(units: Unit[], k: number): string[] {
  const passages: string[] = [];
  for (let g = 0; g < k; g++) {
    const start = Math.floor((g * units.length) / k);
    const end = Math.floor(((g + 1) * units.length) / k);
    passages.push(
      units
        .slice(start, end)
        .map((u) => u.text)
        .join(' '),
    );
  }
  return passages;
}

/** Returns at most `count` passages; fewer only when the text cannot be split that far. */
export function splitStory(story: string, count: number): string[] {
  const units = splitAtClauses(sentenceUnits(story), count);
  if (units.length === 0) return [];
  return partition(units, count);
}
