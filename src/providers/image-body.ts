import { ImageKind, SNIFF_BYTES, sniffImageType } from '../common/image-sniff';

/**
 * Reads just enough of `body` to recognise the image format, then hands back a body that replays those
 * bytes ahead of the rest: nothing is buffered beyond the first chunks.
 */
export async function sniffed(
  body: AsyncIterable<Buffer>,
): Promise<{ kind: ImageKind | null; chunks: AsyncGenerator<Buffer> }> {
  const iterator = body[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  let ended = false;
  while (head.length < SNIFF_BYTES) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    head = Buffer.concat([head, next.value]);
  }
  async function* chunks(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    if (ended) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return { kind: sniffImageType(head), chunks: chunks() };
}
