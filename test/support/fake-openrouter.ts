import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { fakePlan, sceneCountFrom, storyFrom } from './fake-plan';
import { behaviourControl } from './fake-behaviour';
import { seededRandom } from '../../src/providers/offline/seeded-random';

/**
 * A local stand-in for OpenRouter's OpenAI-compatible chat completions endpoint
 * (`POST /api/v1/chat/completions`). It answers in the OpenAI response shape, with OpenRouter's error shape
 * `{"error": {"code": <status>, "message", "metadata"}}` (HTTP status = code), and its 200-with-error
 * variants. By default it returns a valid plan built from the story in the request.
 *
 * It also answers `GET /api/v1/key` (the key's details, which the service's health check reads), checking
 * the key as chat completions do (a wrong key gets a 401), and `GET /api/v1/models`, which needs no key.
 */

export type FakeOpenRouterMode =
  | 'ok'
  | 'fenced' // JSON inside a ```json fence
  | 'prose' // JSON surrounded by sentences
  | 'malformed' // broken JSON
  | 'wrong-count' // one scene too many
  | 'length' // finish_reason "length" with the JSON cut in half
  | 'finish-error' // 200, finish_reason "error" and an error on the choice
  | 'error-body' // 200 with only a top-level error object
  | 'empty-choices' // 200 with "choices": []
  | 'hang'; // never answers

export interface FakeOpenRouterBehaviour {
  mode: FakeOpenRouterMode;
  latencyMs: number;
  /** Answer with this HTTP status in OpenRouter's error shape (401, 402, 403, 408, 429, 500, 502, 503…). */
  status?: number;
  /** Value of the Retry-After header sent with `status`. */
  retryAfter?: string;
  errorMessage?: string;
  /** Exact assistant content to return (with mode "ok"). */
  content?: string;
  /** Random faults per request, for reliability tests. */
  faults?: { errorRate?: number; hangRate?: number; errorStatus?: number };
  /**
   * An outage of the whole gateway: until this time (epoch ms) every request but GET /models, the key
   * check included, answers `outageStatus` (default 503). Chat completions so answered are counted in
   * `injected.outage`.
   */
  outageUntil?: number;
  outageStatus?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  /** Request headers without `authorization`. */
  headers: http.IncomingHttpHeaders;
  authorized: boolean;
  body: unknown;
  at: number;
}

export interface FakeOpenRouterOptions {
  port?: number;
  /** When set, requests must carry `Authorization: Bearer <apiKey>`, otherwise they get a 401. */
  apiKey?: string;
  behaviour?: Partial<FakeOpenRouterBehaviour>;
  /** Seed for fault injection, so a reliability run can be repeated. */
  seed?: number;
}

export interface FakeOpenRouter {
  /** Base URL ending in /api/v1, as OPENROUTER_BASE_URL. */
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Random faults injected so far, by kind ("hang", "status 500", …), and completions refused by an outage. */
  injected: Record<string, number>;
  /** Changes the standing behaviour (merged into the current one). */
  set(behaviour: Partial<FakeOpenRouterBehaviour>): void;
  /** One-shot behaviours, used by the next chat completion requests in order, before the standing one. */
  enqueue(...behaviours: Partial<FakeOpenRouterBehaviour>[]): void;
  /** Back to the initial behaviour, with an empty queue and no recorded requests. */
  reset(): void;
  close(): Promise<void>;
}

const DEFAULT_BEHAVIOUR: FakeOpenRouterBehaviour = { mode: 'ok', latencyMs: 0 };
const MAX_BODY_BYTES = 5 * 1024 * 1024;

const STATUS_MESSAGES: Record<number, string> = {
  400: 'Invalid request',
  401: 'User not found.',
  402: 'Insufficient credits. Add more using https://openrouter.ai/credits',
  403: 'Your input was flagged by moderation',
  408: 'Request timed out',
  429: 'Rate limit exceeded',
  500: 'Internal Server Error',
  502: 'Provider returned error',
  503: 'No available model provider that meets your routing requirements',
};

export async function startFakeOpenRouter(options: FakeOpenRouterOptions = {}): Promise<FakeOpenRouter> {
  const behaviours = behaviourControl<FakeOpenRouterBehaviour>({
    ...DEFAULT_BEHAVIOUR,
    ...options.behaviour,
  });
  const requests: RecordedRequest[] = [];
  const injected: Record<string, number> = {};
  const timers = new Set<NodeJS.Timeout>();
  const random = seededRandom(options.seed ?? Date.now());

  const server = http.createServer((req, res) => {
    readBody(req)
      .then((raw) => handle(req, res, raw))
      .catch(() => sendError(res, 400, 'Could not read the request body'));
  });

  function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: string): void {
    const path = (req.url ?? '/').split('?')[0];
    const authorized = !options.apiKey || req.headers.authorization === `Bearer ${options.apiKey}`;
    const { authorization: _omit, ...headers } = req.headers;
    let body: unknown = raw;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      // recorded as the raw string
    }
    requests.push({ method: req.method ?? 'GET', path, headers, authorized, body, at: Date.now() });

    const { outageUntil, outageStatus = 503 } = behaviours.standing();
    if (outageUntil !== undefined && Date.now() < outageUntil && path !== '/api/v1/models') {
      if (path === '/api/v1/chat/completions') injected.outage = (injected.outage ?? 0) + 1;
      return sendError(res, outageStatus, STATUS_MESSAGES[outageStatus] ?? 'Service unavailable');
    }

    if (req.method === 'GET' && path === '/api/v1/models') {
      return sendJson(res, 200, { data: [{ id: 'fake/planner', name: 'Fake planner' }] });
    }
    if (req.method === 'GET' && path === '/api/v1/key') {
      if (!authorized) return sendError(res, 401, STATUS_MESSAGES[401]);
      return sendJson(res, 200, keyDetails(req.headers.authorization));
    }
    if (req.method !== 'POST' || path !== '/api/v1/chat/completions') return sendError(res, 404, 'Not Found');
    if (!authorized) return sendError(res, 401, STATUS_MESSAGES[401]);
    if (typeof body !== 'object' || body === null) return sendError(res, 400, 'Body must be a JSON object');

    const behaviour = behaviours.next();
    const faulted = withFaults(behaviour, random);
    if (faulted !== behaviour) {
      const kind = faulted.mode === 'hang' ? 'hang' : `status ${faulted.status}`;
      injected[kind] = (injected[kind] ?? 0) + 1;
    }
    if (faulted.mode === 'hang') return; // the socket stays open until the client gives up or close()
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!res.destroyed) answer(res, body as Record<string, unknown>, faulted);
    }, faulted.latencyMs);
    timers.add(timer);
  }

  server.listen(options.port ?? 0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/api/v1`,
    port,
    requests,
    injected,
    set: behaviours.set,
    enqueue: behaviours.enqueue,
    reset: () => {
      behaviours.reset();
      requests.length = 0;
      for (const kind of Object.keys(injected)) delete injected[kind];
    },
    close: async () => {
      timers.forEach((timer) => clearTimeout(timer));
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function withFaults(behaviour: FakeOpenRouterBehaviour, random: () => number): FakeOpenRouterBehaviour {
  const { faults } = behaviour;
  if (!faults) return behaviour;
  const roll = random();
  if (roll < (faults.hangRate ?? 0)) return { ...behaviour, mode: 'hang' };
  if (roll < (faults.hangRate ?? 0) + (faults.errorRate ?? 0)) {
    const statuses = [500, 502, 503, 429];
    return { ...behaviour, status: faults.errorStatus ?? statuses[Math.floor(random() * statuses.length)] };
  }
  return behaviour;
}

function answer(
  res: http.ServerResponse,
  body: Record<string, unknown>,
  behaviour: FakeOpenRouterBehaviour,
): void {
  if (behaviour.status !== undefined) {
    const extra = behaviour.retryAfter !== undefined ? { 'Retry-After': behaviour.retryAfter } : undefined;
    return sendError(
      res,
      behaviour.status,
      behaviour.errorMessage ?? STATUS_MESSAGES[behaviour.status] ?? 'Error',
      extra,
    );
  }
  const messages = Array.isArray(body.messages)
    ? (body.messages as { role?: unknown; content?: unknown }[])
    : [];
  const numScenes = sceneCountFrom(body, messages);
  const plan = fakePlan(storyFrom(messages), behaviour.mode === 'wrong-count' ? numScenes + 1 : numScenes);
  const json = JSON.stringify(plan);
  const model = typeof body.model === 'string' ? body.model : 'fake/planner';

  switch (behaviour.mode) {
    case 'fenced':
      return sendJson(res, 200, completion(model, `\`\`\`json\n${JSON.stringify(plan, null, 2)}\n\`\`\``));
    case 'prose':
      return sendJson(
        res,
        200,
        completion(model, `Here is the plan you asked for:\n${json}\nI hope it helps!`),
      );
    case 'malformed':
      return sendJson(res, 200, completion(model, '{"style": "noir", "cast": [}, "scenes": [oops'));
    case 'length':
      return sendJson(res, 200, completion(model, json.slice(0, Math.floor(json.length / 2)), 'length'));
    case 'finish-error': {
      const response = completion(model, '', 'error');
      const error = { code: 502, message: behaviour.errorMessage ?? 'Upstream provider error', metadata: {} };
      response.choices[0] = { ...response.choices[0], error };
      return sendJson(res, 200, response);
    }
    case 'error-body':
      return sendJson(res, 200, {
        error: {
          code: behaviour.status ?? 502,
          message: behaviour.errorMessage ?? 'Provider returned error',
        },
      });
    case 'empty-choices':
      return sendJson(res, 200, { ...completion(model, ''), choices: [] });
    default:
      return sendJson(res, 200, completion(model, behaviour.content ?? json));
  }
}

/**
 * `GET /api/v1/key` for a valid key, in the documented shape (a key without a credit limit, not used yet):
 * https://openrouter.ai/docs/api/api-reference/api-keys/get-current-key. The label masks the key, as
 * OpenRouter's does.
 */
function keyDetails(authorization: string | undefined) {
  const key = authorization?.replace(/^Bearer /, '') ?? '';
  return {
    data: {
      label: `${key.slice(0, 11)}...${key.slice(-3)}`,
      limit: null,
      limit_remaining: null,
      limit_reset: null,
      include_byok_in_limit: false,
      usage: 0,
      usage_daily: 0,
      usage_weekly: 0,
      usage_monthly: 0,
      byok_usage: 0,
      byok_usage_daily: 0,
      byok_usage_weekly: 0,
      byok_usage_monthly: 0,
      is_free_tier: false,
      is_provisioning_key: false,
      rate_limit: { requests: -1, interval: '10s', note: 'This field is deprecated and safe to ignore.' },
    },
  };
}

function completion(model: string, content: string, finishReason = 'stop') {
  const completionTokens = Math.ceil(content.length / 4);
  return {
    id: `gen-${randomUUID()}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    provider: 'FakeProvider',
    choices: [
      {
        index: 0,
        logprobs: null,
        finish_reason: finishReason,
        native_finish_reason: finishReason,
        message: { role: 'assistant', content, refusal: null },
      } as Record<string, unknown>,
    ],
    usage: { prompt_tokens: 100, completion_tokens: completionTokens, total_tokens: 100 + completionTokens },
  };
}

function sendError(
  res: http.ServerResponse,
  status: number,
  message: string,
  headers?: Record<string, string>,
) {
  sendJson(res, status, { error: { code: status, message, metadata: {} } }, headers);
}

function sendJson(
  res: http.ServerResponse,
  status: number,
  payload: unknown,
  headers?: Record<string, string>,
) {
  const text = JSON.stringify(payload);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
