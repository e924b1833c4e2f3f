import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import * as path from 'node:path';

const ENTRY = path.join(__dirname, '..', '..', 'dist', 'main.js');

/**
 * One compiled service process (`node dist/main.js`) with its output kept for failure messages. It runs on
 * the same Node.js as the tests, or on the binary SERVICE_NODE names (to compare runtimes in the bench).
 */
export class ServiceProcess {
  readonly child: ChildProcess;
  output = '';
  private exited: Promise<number | null>;

  constructor(
    readonly name: string,
    env: Record<string, string>,
  ) {
    this.child = spawn(process.env.SERVICE_NODE ?? process.execPath, [ENTRY], {
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      this.output += chunk.toString();
      // Trimmed now and then, not per chunk: a process logging a line per request sends a chunk per line,
      // and a copy of the 20 kB tail for each would take CPU from the reader (the bench's load generator).
      if (this.output.length > 40_000) this.output = this.output.slice(-20_000);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** Waits until the process has printed `text` (e.g. "Worker started"); fails fast if it exits first. */
  async waitForOutput(text: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.output.includes(text)) {
      if (Date.now() > deadline || this.child.exitCode !== null) {
        throw new Error(`${this.name} did not print "${text}":\n${this.output.slice(-3000)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Sends a signal and waits for the exit; returns the exit code and how long it took. */
  async stop(
    signal: NodeJS.Signals = 'SIGTERM',
    timeoutMs = 30_000,
  ): Promise<{ code: number | null; ms: number }> {
    const started = Date.now();
    if (this.child.exitCode !== null || this.child.signalCode !== null)
      return { code: this.child.exitCode, ms: 0 };
    this.child.kill(signal);
    const code = await Promise.race([
      this.exited,
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref()),
    ]);
    if (code === 'timeout') {
      this.child.kill('SIGKILL');
      throw new Error(`${this.name} did not exit within ${timeoutMs} ms after ${signal}:\n${this.output}`);
    }
    return { code, ms: Date.now() - started };
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Waits until GET url answers 200. */
export async function waitForHttp(url: string, timeoutMs = 20_000, proc?: ServiceProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms${proc ? `:\n${proc.output}` : ''}`);
}
