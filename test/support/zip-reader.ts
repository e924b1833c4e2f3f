import * as yauzl from 'yauzl';
import { crc32 } from 'node:zlib';

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflated */
  compressionMethod: number;
  data: Buffer;
  /** CRC-32 of `data`, equal to the central directory's and the local header's (readZip checks both). */
  crc32: number;
  /** Unix permission bits from the external attributes. */
  mode: number;
}

const LOCAL_HEADER_SIGNATURE = 0x04034b50;
const FLAG_DATA_DESCRIPTOR = 0x0008;

/**
 * Reads every entry of a ZIP held in memory (tests only; the service itself never buffers a ZIP), and
 * rejects it unless each entry's bytes match the CRC-32 recorded in the central directory and in the local
 * header. yauzl checks sizes but no CRC, so a stored image with wrong bytes would otherwise pass.
 */
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
              const data = Buffer.concat(chunks);
              const mismatch = crcMismatch(buffer, entry, data);
              if (mismatch) return reject(new Error(mismatch));
              entries.push({
                name: entry.fileName,
                compressionMethod: entry.compressionMethod,
                data,
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

/** What is wrong with the entry's recorded CRC-32s, or null when both match its bytes. */
function crcMismatch(zip: Buffer, entry: yauzl.Entry, data: Buffer): string | null {
  const actual = crc32(data) >>> 0;
  const central = entry.crc32 >>> 0;
  const local = localCrc32(zip, entry);
  if (actual === central && actual === local) return null;
  return (
    `CRC-32 mismatch in ${entry.fileName}: its bytes give ${hex(actual)}, ` +
    `the central directory records ${hex(central)}, the local header ${local === null ? 'none' : hex(local)}`
  );
}

/**
 * The CRC-32 in the entry's local header; null when there is no local header at the recorded offset, or
 * when it defers to a data descriptor (which ZipWriter never writes: its local headers are complete).
 */
function localCrc32(zip: Buffer, entry: yauzl.Entry): number | null {
  const at = entry.relativeOffsetOfLocalHeader;
  if (zip.readUInt32LE(at) !== LOCAL_HEADER_SIGNATURE) return null;
  return zip.readUInt16LE(at + 6) & FLAG_DATA_DESCRIPTOR ? null : zip.readUInt32LE(at + 14);
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}
