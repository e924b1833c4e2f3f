import * as zlib from 'node:zlib';

/** The oldest Node.js release line this service runs on, and the one it is built and shipped on. */
const OLDEST_NODE = '20.15.0';
const RECOMMENDED_NODE = '24';

/**
 * What the service needs from the runtime that not every Node.js release has, checked before anything
 * else so an old runtime fails in one line instead of deep inside an export: `zlib.crc32` (ZIP export,
 * image CRCs; Node 20.15 and 22.2, so on 22.0-22.1 too).
 */
export function unsupportedRuntime(version = process.versions.node): string | null {
  const missing = typeof (zlib as { crc32?: unknown }).crc32 === 'function' ? [] : ['zlib.crc32'];
  if (missing.length === 0 && !olderThan(version, OLDEST_NODE)) return null;
  return (
    `Node.js ${version} is not supported: use Node.js ${RECOMMENDED_NODE} (recommended), 22, or 20 from ${OLDEST_NODE}` +
    (missing.length > 0 ? ` (missing: ${missing.join(', ')})` : '')
  );
}

function olderThan(version: string, oldest: string): boolean {
  const have = version.split('.').map(Number);
  const need = oldest.split('.').map(Number);
  for (let i = 0; i < need.length; i++) {
    if ((have[i] ?? 0) !== need[i]) return (have[i] ?? 0) < need[i];
  }
  return false;
}
