import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const PRISM = path.join(__dirname, '..', '..', 'node_modules', '.bin', 'prism');

/** One finding of Prism's, as it reports them in the `sl-violations` header. */
export interface Violation {
  location: string[];
  severity: string;
  code?: string | number;
  message: string;
}

export interface PrismProxy {
  /** Base URL of the proxy: requests sent here reach the service, and its answers come back checked. */
  url: string;
  close(): Promise<void>;
}

/**
 * Stoplight Prism as a validating proxy (`prism proxy <document> <service>`), as a client author would run
 * it: every request and answer is checked against the document at `documentUrl` (a URL or a file). Without `--errors` it
 * passes everything through and lists what does not conform in an `sl-violations` header, so requests
 * that are meant to be invalid still reach the service and their error answers are checked too.
 */
export async function startPrismProxy(documentUrl: string, upstream: string): Promise<PrismProxy> {
  // Prism is handed the served document as a file: on Node 24 its own download fails ("Expected signal to
  // be an instance of AbortSignal": it passes a polyfilled AbortSignal to Node's fetch, which checks).
  const folder = mkdtempSync(path.join(tmpdir(), 'sig-prism-'));
  let documentFile = documentUrl;
  if (/^https?:\/\//.test(documentUrl)) {
    const served = await fetch(documentUrl);
    if (!served.ok) throw new Error(`${documentUrl} answered ${served.status}`);
    documentFile = path.join(folder, 'openapi.json');
    writeFileSync(documentFile, await served.text());
  }
  const args = ['proxy', documentFile, upstream, '--host', '127.0.0.1', '--port', '0', '--cors', 'false'];
  const child = spawn(PRISM, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.once('exit', () => rmSync(folder, { recursive: true, force: true }));
  let output = '';
  const listening = new Promise<string>((resolve, reject) => {
    const onOutput = (chunk: Buffer) => {
      output += chunk.toString();
      const line = /Prism is listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (line) resolve(line[1]);
    };
    child.stdout?.on('data', onOutput);
    child.stderr?.on('data', onOutput);
    child.once('exit', (code) => reject(new Error(`Prism exited (${code}) before listening:\n${output}`)));
    child.once('error', reject);
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Prism did not listen within 30 s:\n${output}`)), 30_000);
  });
  try {
    const url = await Promise.race([listening, timeout]);
    // Its log stays unread from here on; the pipes are drained so Prism never blocks on them.
    child.stdout?.removeAllListeners('data').resume();
    child.stderr?.removeAllListeners('data').resume();
    return { url, close: () => stop(child) };
  } catch (err) {
    await stop(child);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function violations(headers: Headers): Violation[] {
  const header = headers.get('sl-violations');
  return header ? (JSON.parse(header) as Violation[]) : [];
}

/** What Prism found wrong with the service's answer (not with the request, which may be wrong on purpose). */
export function responseViolations(headers: Headers): Violation[] {
  return violations(headers).filter((violation) => violation.location[0] === 'response');
}

/** What Prism found wrong with the request: none for the requests a well-behaved client sends. */
export function requestViolations(headers: Headers): Violation[] {
  return violations(headers).filter((violation) => violation.location[0] !== 'response');
}
