import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import type Redis from 'ioredis';
import { redisVersion } from './redis';

/** Output of a read-only git command, or null outside a git checkout. */
function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: 'pipe' }).trim();
  } catch {
    return null;
  }
}

/** Facts that make two result files comparable (or explain why they are not). */
export async function machineFacts(redis: Redis): Promise<Record<string, unknown>> {
  const cpus = os.cpus();
  // dist/ is built from the working tree, so uncommitted changes under src/ are part of what was measured.
  const srcStatus = git(['status', '--porcelain', '--', 'src']);
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    totalMemoryMB: Math.round(os.totalmem() / 1024 / 1024),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
    redis: await redisVersion(redis),
    gitCommit: git(['rev-parse', '--short', 'HEAD']),
    srcUncommittedChanges: srcStatus === null ? null : srcStatus !== '',
    loadAverageAtStart: os.loadavg().map((v) => Math.round(v * 100) / 100),
    timestamp: new Date().toISOString(),
  };
}
