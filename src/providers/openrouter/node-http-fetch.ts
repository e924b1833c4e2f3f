import * as http from 'node:http';
import * as https from 'node:https';

const AGENTS: Record<string, http.Agent> = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 64 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 64 }),
};

/** Statuses whose Response must not carry a body. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

function abortError(): DOMException {
  return new DOMException('This operation was aborted', 'AbortError');
}

function requestBody(body: RequestInit['body']): string | Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return body;
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof URLSearchParams) return body.toString();
  throw new TypeError('Unsupported request body for the planner transport');
}

/**
 * The OpenAI client's `fetch`, on Node's own HTTP stack with keep-alive agents. Under load, Node's built-in
 * fetch (undici: a WASM HTTP parser and web streams) was the largest single CPU cost of a worker per
 * planning call; planner replies are small JSON documents read whole, which needs none of that. Measured
 * against the built-in fetch (Node 20, 2 shared cores): 1.5 vs 2.35 ms CPU per planning call, and worker
 * CPU per scene 0.92 vs 1.03 ms (medians of 5 interleaved `BENCH_ONLY=per-scene npm run bench` runs). Errors
 * look like fetch's (an AbortError when the signal fires, a TypeError with the cause otherwise), so the
 * SDK classifies timeouts and connection failures as it does with the built-in fetch.
 */
export function nodeHttpFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  const client = url.protocol === 'https:' ? https : http;
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((value, name) => {
    headers[name] = value;
  });
  const body = requestBody(init.body);
  const signal = init.signal ?? undefined;

  return new Promise<Response>((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    let settled = false;
    const finish = (outcome: Response | Error) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const request = client.request(
      url,
      { method: init.method ?? 'GET', headers, agent: AGENTS[url.protocol] },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', (err) => finish(new TypeError('fetch failed', { cause: err })));
        response.on('end', () => {
          const status = response.statusCode ?? 502;
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(response.headers)) {
            if (Array.isArray(value)) for (const item of value) responseHeaders.append(name, item);
            else if (value !== undefined) responseHeaders.set(name, value);
          }
          finish(
            new Response(NULL_BODY.has(status) ? null : Buffer.concat(chunks), {
              status,
              statusText: response.statusMessage ?? '',
              headers: responseHeaders,
            }),
          );
        });
      },
    );
    const onAbort = () => {
      request.destroy();
      finish(abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    request.on('error', (err) => finish(settled ? err : new TypeError('fetch failed', { cause: err })));
    request.end(body);
  });
}
