import { JsonResponse, request } from '../../support/http-client';

/**
 * An HTTP client that keeps score: every status seen, every body (to search for secrets), and whether a
 * 5xx was expected (a 503 while Redis is deliberately down) or not.
 */
export class ScoringClient {
  requests = 0;
  unexpected5xx: { path: string; status: number; body: string }[] = [];
  outage503 = 0;
  readonly bodies: string[] = [];
  /** While true, 503 answers are the expected outcome of a deliberate outage. */
  outage = false;

  constructor(public baseUrl: string) {}

  async call<T = Record<string, unknown>>(
    path: string,
    init: RequestInit & { json?: unknown } = {},
  ): Promise<JsonResponse<T>> {
    return this.score(path, await request<T>(`${this.baseUrl}${path}`, init));
  }

  /** Counts an answer obtained some other way (e.g. a raw hostile request) like one of call()'s. */
  score<T>(path: string, res: JsonResponse<T>): JsonResponse<T> {
    this.requests++;
    const body = typeof res.body === 'string' ? res.body : JSON.stringify(res.body);
    this.bodies.push(body);
    if (res.status >= 500) {
      if (this.outage && res.status === 503) this.outage503++;
      else this.unexpected5xx.push({ path, status: res.status, body: body.slice(0, 500) });
    }
    return res;
  }

  /** Raw fetch for binary answers (the ZIP), scored the same way. */
  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    this.requests++;
    const res = await fetch(`${this.baseUrl}${path}`, init);
    if (res.status >= 500) this.unexpected5xx.push({ path, status: res.status, body: '' });
    return res;
  }
}
