import * as yauzl from 'yauzl';

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflated */
  compressionMethod: number;
  data: Buffer;
  /** CRC-32 from the central directory. */
  crc32: number;
  /** Unix permission bits from the external attributes. */
  mode: number;
}

/** Reads every entry of a ZIP held in memory (tests only; the service itself never buffers a ZIP). */
export function readZip(buffer: Buffer): Promise<ZipEntry[]> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(
      buffer,
      { lazyEntries: true, validateEntrySizes: true, strictFileNames: true },
      (err, zip) => {
        if (err || !zip) return reject(err ?? new Error('no zip'));
        const entries: ZipEntry[] = [];
        zip.on('entry', (entry: yauzl.Entry) => {
          zip.openReadStream(entry, (streamErr, stream) => {
            if (streamErr || !stream) return reject(streamErr ?? new Error('no stream'));
            const chunks: Buffer[] = [];
            stream.on('data', (chunk: Buffer) => chunks.push(chunk));
            stream.on('end', () => {
              entries.push({
                name: entry.fileName,
                compressionMethod: entry.compressionMethod,
                data: Buffer.concat(chunks),
                crc32: entry.crc32,
                mode: (entry.externalFileAttributes >>> 16) & 0o777,
              });
              zip.readEntry();
            });
            stream.on('error', reject);
          });
        });
        zip.on('end', () => resolve(entries));
        zip.on('error', reject);
        zip.readEntry();
      },
    );
  });
}
