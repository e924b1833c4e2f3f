import { createReadStream } from 'node:fs';
import { crc32 } from 'node:zlib';

/** CRC-32 (as ZIP stores it) of a file, streamed in 256 KB reads through zlib's native implementation. */
export async function crc32OfFile(path: string): Promise<number> {
  let crc = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) {
    crc = crc32(chunk as Buffer, crc);
  }
  return crc >>> 0;
}
