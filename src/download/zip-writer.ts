import type { Readable, Writable } from 'node:stream';
import { crc32, deflateRawSync } from 'node:zlib';

/** A file streamed into the ZIP as it is (stored): the images, already compressed. */
export interface StoredFile {
  name: string;
  /** Opens the file's bytes (from disk or a bucket). */
  open: () => Promise<Readable>;
  /** Size known up front; the bytes read must match it, since Content-Length was computed from it. */
  size: number;
  /** CRC-32 of the file, written in its header before the data and checked against the bytes sent. */
  crc: number;
}

/** A small in-memory entry (scenes.json, story.txt), deflated. */
export interface TextEntry {
  name: string;
  text: string;
}

const LOCAL_HEADER = 30;
const CENTRAL_HEADER = 46;
const END_OF_CENTRAL_DIRECTORY = 22;
/** Without ZIP64 every size and offset must fit in 32 bits; the export caps keep far below this. */
const MAX_ZIP_BYTES = 0xffffffff;

const FLAG_UTF8_NAMES = 0x0800;
const STORED = 0;
const DEFLATED = 8;

interface Written {
  name: Buffer;
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  offset: number;
}

interface PreparedText {
  name: Buffer;
  data: Buffer;
  crc: number;
  size: number;
}

/**
 * Streams a ZIP from stored files and a few text entries, with no archiving library in between: each file
 * goes from its read stream straight to the response, and the next file is opened while one is sent, so a
 * bucket's time to first byte overlaps the transfer. Every local header is complete (sizes and
 * CRC-32 known up front, no trailing data descriptors), so streaming readers such as Java's ZipInputStream
 * can read stored entries too; the CRC of the bytes actually sent is checked against the header's (zlib,
 * native). The total size is known before the first byte, so the response can carry a Content-Length and
 * a client can tell a cut-off download from a complete one.
 */
export class ZipWriter {
  private readonly texts: PreparedText[];
  private readonly dosTime: number;
  private readonly dosDate: number;

  constructor(
    private readonly files: StoredFile[],
    texts: TextEntry[],
    modifiedAt: Date,
    /** Files opened ahead of the one being sent: 1 for a disk, more for a bucket's round trips. */
    private readonly readAhead = 1,
  ) {
    this.texts = texts.map(({ name, text }) => {
      const raw = Buffer.from(text, 'utf8');
      return {
        name: Buffer.from(name, 'utf8'),
        data: deflateRawSync(raw),
        crc: crc32(raw),
        size: raw.length,
      };
    });
    ({ time: this.dosTime, date: this.dosDate } = dosDateTime(modifiedAt));
    if (this.totalBytes() > MAX_ZIP_BYTES) throw new Error('The export exceeds 4 GiB, which needs ZIP64');
  }

  /** Exact size of the archive write() produces. */
  totalBytes(): number {
    let total = END_OF_CENTRAL_DIRECTORY;
    for (const file of this.files) {
      const name = Buffer.byteLength(file.name, 'utf8');
      total += LOCAL_HEADER + name + file.size + CENTRAL_HEADER + name;
    }
    for (const text of this.texts) {
      total += LOCAL_HEADER + text.name.length + text.data.length + CENTRAL_HEADER + text.name.length;
    }
    return total;
  }

  /** Writes the whole archive to `out`, honouring backpressure; rejects if `out` closes before the end. */
  async write(out: Writable): Promise<void> {
    const sink = new Sink(out);
    const entries: Written[] = [];
    const opened = new Opener(this.files, this.readAhead);
    try {
      for (const [position, file] of this.files.entries()) {
        const name = Buffer.from(file.name, 'utf8');
        const offset = sink.offset;
        const flags = FLAG_UTF8_NAMES;
        await sink.write(this.localHeader(name, flags, STORED, file.crc, file.size, file.size));
        let crc = 0;
        let size = 0;
        for await (const chunk of await opened.take(position)) {
          const bytes = chunk as Buffer;
          // Checked before sending: a file that grew must not push the response past its Content-Length.
          if (size + bytes.length > file.size)
            throw new Error(`${file.name} changed size while being exported`);
          crc = crc32(bytes, crc);
          size += bytes.length;
          await sink.write(bytes);
        }
        if (size !== file.size) throw new Error(`${file.name} changed size while being exported`);
        if (crc >>> 0 !== file.crc >>> 0) throw new Error(`${file.name} changed while being exported`);
        entries.push({ name, flags, method: STORED, crc, compressedSize: size, size, offset });
      }
      for (const text of this.texts) {
        const offset = sink.offset;
        const flags = FLAG_UTF8_NAMES;
        await sink.write(this.localHeader(text.name, flags, DEFLATED, text.crc, text.data.length, text.size));
        await sink.write(text.data);
        entries.push({ ...text, flags, method: DEFLATED, compressedSize: text.data.length, offset });
      }
      const directoryOffset = sink.offset;
      for (const entry of entries) await sink.write(this.centralHeader(entry));
      await sink.write(endOfCentralDirectory(entries.length, sink.offset - directoryOffset, directoryOffset));
      await sink.end();
    } finally {
      opened.discard();
      sink.release();
    }
  }

  private localHeader(
    name: Buffer,
    flags: number,
    method: number,
    crc: number,
    compressedSize: number,
    size: number,
  ): Buffer {
    const header = Buffer.alloc(LOCAL_HEADER);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
    header.writeUInt16LE(flags, 6);
    header.writeUInt16LE(method, 8);
    header.writeUInt16LE(this.dosTime, 10);
    header.writeUInt16LE(this.dosDate, 12);
    header.writeUInt32LE(crc >>> 0, 14);
    header.writeUInt32LE(compressedSize, 18);
    header.writeUInt32LE(size, 22);
    header.writeUInt16LE(name.length, 26);
    header.writeUInt16LE(0, 28); // no extra field
    return Buffer.concat([header, name]);
  }

  private centralHeader(entry: Written): Buffer {
    const header = Buffer.alloc(CENTRAL_HEADER);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, spec 2.0 (so the mode below applies)
    header.writeUInt16LE(20, 6);
    header.writeUInt16LE(entry.flags, 8);
    header.writeUInt16LE(entry.method, 10);
    header.writeUInt16LE(this.dosTime, 12);
    header.writeUInt16LE(this.dosDate, 14);
    header.writeUInt32LE(entry.crc >>> 0, 16);
    header.writeUInt32LE(entry.compressedSize, 20);
    header.writeUInt32LE(entry.size, 24);
    header.writeUInt16LE(entry.name.length, 28);
    // extra field, comment, disk number, internal attributes: all zero
    header.writeUInt32LE((0o100644 << 16) >>> 0, 38); // regular file, rw-r--r--
    header.writeUInt32LE(entry.offset, 42);
    return Buffer.concat([header, entry.name]);
  }
}

function endOfCentralDirectory(entries: number, directorySize: number, directoryOffset: number): Buffer {
  const record = Buffer.alloc(END_OF_CENTRAL_DIRECTORY);
  record.writeUInt32LE(0x06054b50, 0);
  record.writeUInt16LE(entries, 8);
  record.writeUInt16LE(entries, 10);
  record.writeUInt32LE(directorySize, 12);
  record.writeUInt32LE(directoryOffset, 16);
  return record;
}

/** MS-DOS date and time (2-second resolution) as ZIP headers store them, from the UTC fields. */
function dosDateTime(at: Date): { time: number; date: number } {
  const year = Math.min(2107, Math.max(1980, at.getUTCFullYear()));
  return {
    time: (at.getUTCHours() << 11) | (at.getUTCMinutes() << 5) | Math.floor(at.getUTCSeconds() / 2),
    date: ((year - 1980) << 9) | ((at.getUTCMonth() + 1) << 5) | at.getUTCDate(),
  };
}

/**
 * Opens each file when it is taken, and up to `ahead` files after it straight away, so their time to first
 * byte overlaps the transfer. Opened files wait paused: what they hold is their stream buffer and the
 * socket's, not the whole file.
 */
class Opener {
  private readonly pending = new Map<number, Promise<Readable>>();

  constructor(
    private readonly files: StoredFile[],
    private readonly ahead: number,
  ) {}

  take(position: number): Promise<Readable> {
    const current = this.pending.get(position) ?? this.open(position);
    this.pending.delete(position);
    const last = Math.min(this.files.length - 1, position + this.ahead);
    for (let next = position + 1; next <= last; next++) {
      if (!this.pending.has(next)) this.pending.set(next, this.open(next));
    }
    return current;
  }

  /** Closes files opened ahead but never taken (the export stopped early). */
  discard(): void {
    for (const stream of this.pending.values()) stream.then((s) => s.destroy()).catch(() => undefined);
    this.pending.clear();
  }

  private open(position: number): Promise<Readable> {
    const opening = this.files[position].open();
    // Not awaited yet: its failure is reported when it is taken, not as an unhandled rejection.
    opening.catch(() => undefined);
    return opening;
  }
}

/** Counts bytes written and waits for 'drain' when the destination is full; fails once it has closed. */
class Sink {
  offset = 0;
  private closed = false;
  private waiting: { resolve: () => void; reject: (err: Error) => void } | null = null;
  private readonly onDrain = () => this.settle();
  private readonly onClose = () => {
    this.closed = true;
    this.settle(new Error('the client closed the connection'));
  };
  private readonly onError = (err: Error) => this.settle(err);

  constructor(private readonly out: Writable) {
    out.on('drain', this.onDrain);
    out.on('close', this.onClose);
    out.on('error', this.onError);
  }

  write(data: Buffer): Promise<void> {
    if (this.closed || this.out.destroyed)
      return Promise.reject(new Error('the client closed the connection'));
    this.offset += data.length;
    if (this.out.write(data)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  end(): Promise<void> {
    if (this.closed || this.out.destroyed)
      return Promise.reject(new Error('the client closed the connection'));
    return new Promise((resolve, reject) => {
      this.waiting = { resolve: () => undefined, reject };
      this.out.end((err?: Error | null) => {
        this.waiting = null;
        if (err) reject(err);
        else resolve();
      });
    });
  }

  release(): void {
    this.out.off('drain', this.onDrain);
    this.out.off('close', this.onClose);
    this.out.off('error', this.onError);
  }

  private settle(err?: Error): void {
    const waiting = this.waiting;
    this.waiting = null;
    if (!waiting) return;
    if (err) waiting.reject(err);
    else waiting.resolve();
  }
}
