import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { freePort, ServiceProcess, waitForHttp } from '../../test/support/service-process';
import { sleep } from './stats';

/**
 * Every child the bench starts is registered here, so it is killed even when a measurement throws or the
 * bench is interrupted (SIGKILL on exit: the bench does not need graceful shutdowns).
 */
const children = new Set<ChildProcess>();

function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

export function killAllChildren(): void {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}
process.on('exit', killAllChildren);

/** Kills `proc` and waits (bounded) for it to exit. */
export async function kill(child: ChildProcess, timeoutMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await Promise.race([exited, sleep(timeoutMs)]);
}

/** A compiled service process (`node dist/main.js`) in the given role. */
export function spawnService(name: string, env: Record<string, string>): ServiceProcess {
  const proc = new ServiceProcess(name, env);
  track(proc.child);
  return proc;
}

export async function startApi(env: Record<string, string>): Promise<{ proc: ServiceProcess; url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawnService('api', { ...env, ROLE: 'api', PORT: String(port), HOST: '127.0.0.1' });
  await waitForHttp(`${url}/health/ready`, 30_000, proc);
  return { proc, url };
}

/** Starts a worker and resolves once it logs that it consumes the queues. */
export async function startWorker(name: string, env: Record<string, string>): Promise<ServiceProcess> {
  const proc = spawnService(name, { ...env, ROLE: 'worker' });
  await proc.waitForOutput('Worker started', 30_000);
  return proc;
}

const ROOT = path.join(__dirname, '..', '..');

/**
 * Runs a bench helper script (TypeScript, via ts-node) in its own process, so a baseline does not share an
 * event loop with the bench driver. Its stdout lines are JSON messages.
 */
export class HelperProcess {
  readonly child: ChildProcess;
  private buffer = '';
  private readonly messages: Record<string, unknown>[] = [];
  private stderr = '';

  constructor(script: string, env: Record<string, string>) {
    this.child = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', path.join(__dirname, script)],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    track(this.child);
    this.child.stdout?.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString();
      let newline: number;
      while ((newline = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, newline).trim();
        this.buffer = this.buffer.slice(newline + 1);
        if (line.startsWith('{')) this.messages.push(JSON.parse(line) as Record<string, unknown>);
      }
    });
    this.child.stderr?.on(
      'data',
      (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-5000)),
    );
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Waits for a message with `type`, bounded by `timeoutMs`. */
  async message<T extends Record<string, unknown>>(type: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find((m) => m.type === type);
      if (found) return found as T;
      if (this.child.exitCode !== null) throw new Error(`helper exited early:\n${this.stderr}`);
      if (Date.now() > deadline)
        throw new Error(`helper sent no "${type}" in ${timeoutMs} ms:\n${this.stderr}`);
      await sleep(10);
    }
  }
}
