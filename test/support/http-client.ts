import * as http from 'node:http';

/** Small fetch wrappers for driving the service over real HTTP in tests. */
export interface JsonResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

export async function request<T = Record<string, unknown>>(
  url: string,
  init: RequestInit & { json?: unknown } = {},
): Promise<JsonResponse<T>> {
  const { json, ...rest } = init;
  const response = await fetch(url, {
    ...rest,
    headers: {
      ...(json !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(rest.headers ?? {}),
    },
    body: json !== undefined ? JSON.stringify(json) : rest.body,
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: leave the text
  }
  return { status: response.status, headers: response.headers, body: body as T };
}

/**
 * A bodiless request whose path is sent exactly as written. fetch (like any URL parser) resolves `..` and
 * `%2e%2e` segments before sending, so traversal attempts would never reach the server otherwise.
 */
export function requestRawPath(baseUrl: string, method: string, rawPath: string): Promise<JsonResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, method, path: rawPath }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: leave the text
        }
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (typeof value === 'string') headers.set(name, value);
        }
        resolve({ status: res.statusCode ?? 0, headers, body: body as Record<string, unknown> });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * What is wrong with `res` as the error envelope for `status` (and an error matching `error`, when given),
 * or null when nothing is: for checks that collect problems instead of stopping at the first.
 */
export function envelopeProblem(res: JsonResponse, status: number, error?: RegExp): string | null {
  const body = res.body as Record<string, unknown> | string;
  const shown = `${res.status} ${JSON.stringify(body).slice(0, 200)}`;
  if (res.status !== status || typeof body !== 'object' || body === null) return shown;
  const message = body.error;
  const validTimestamp = typeof body.timestamp === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(body.timestamp);
  if (body.status_code !== status || !validTimestamp) return shown;
  if (typeof message !== 'string' && !Array.isArray(message)) return shown;
  if (error && !error.test(JSON.stringify(message))) return `${shown} (error should match ${String(error)})`;
  return null;
}

/** Asserts the error envelope shape, returning the body for further checks. */
export function expectEnvelope(res: JsonResponse, status: number): Record<string, unknown> {
  expect(envelopeProblem(res, status)).toBeNull();
  return res.body;
}
