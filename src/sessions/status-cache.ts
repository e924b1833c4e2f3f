import { Injectable } from '@nestjs/common';

interface Entry {
  version: string;
  variant: string;
  body: Buffer;
}

const MAX_ENTRIES = 10_000;

/**
 * The last status JSON served per session and variant (base URL and signing step), as encoded bytes, keyed by the session's write counter. Polling clients mostly
 * ask for a session that has not changed: then one small HGET replaces reading, parsing, rebuilding and
 * re-serialising the whole session. Least recently used entries go first (Map keeps insertion order).
 */
@Injectable()
export class StatusCache {
  private readonly entries = new Map<string, Entry>();

  get(id: string, version: string, variant: string): Buffer | undefined {
    const entry = this.entries.get(id);
    if (!entry || entry.version !== version || entry.variant !== variant) return undefined;
    this.entries.delete(id);
    this.entries.set(id, entry);
    return entry.body;
  }

  set(id: string, version: string, variant: string, body: Buffer): void {
    this.entries.delete(id);
    this.entries.set(id, { version, variant, body });
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
  }
}
