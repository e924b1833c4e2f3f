/** Runs `task` over `items` with at most `limit` running at once; resolves when all have settled. */
export async function forEachWithLimit<T>(
  items: T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++];
      await task(item);
    }
  });
  await Promise.all(lanes);
}

/** Maps `items` with at most `limit` calls running at once; the results keep the items' order. */
export async function mapWithLimit<T, R>(
  items: T[],
  limit: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  const positions = items.map((_, position) => position);
  await forEachWithLimit(positions, limit, async (position) => {
    results[position] = await task(items[position]);
  });
  return results;
}
