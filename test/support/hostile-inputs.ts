import { randomUUID } from 'node:crypto';
import { request, requestRawPath } from './http-client';

/** Sessions in each state, so the same cases can be aimed at every state. */
export interface HostileContext {
  completedId: string;
  processingId: string;
  approvedId: string;
  failedId: string;
}

export interface HostileCase {
  name: string;
  method?: string;
  path: string;
  json?: unknown;
  raw?: string | Buffer;
  headers?: Record<string, string>;
  status: number;
  error?: RegExp;
}

const story = 'Once upon a time. Then something happened. And it ended.';
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

/**
 * Malformed, hostile and wrong-state requests with the 4xx each must get. Shared by the e2e suite
 * (in-process app) and the reliability suite (compiled API process).
 */
export function hostileInputs(ctx: HostileContext): HostileCase[] {
  const unknown = randomUUID();
  const post =
    (path: string) =>
    (json: unknown, status: number, name: string, error?: RegExp): HostileCase => ({
      name,
      path,
      json,
      status,
      error,
    });
  const gen = post('/generate');
  const approve = post('/approve');
  const download = post('/download');
  /** A hand-written body with its Content-Type (and any other headers). */
  const typed = (
    path: string,
    contentType: string,
    raw: string,
    status: number,
    name: string,
    options: { headers?: Record<string, string>; error?: RegExp } = {},
  ): HostileCase => ({
    name,
    path,
    raw,
    headers: { 'content-type': contentType, ...options.headers },
    status,
    error: options.error,
  });
  const genRaw = (
    raw: string,
    status: number,
    name: string,
    options: { headers?: Record<string, string>; error?: RegExp } = {},
  ) => typed('/generate', 'application/json', raw, status, name, options);
  const get = (path: string, status: number, name: string): HostileCase => ({
    name,
    method: 'GET',
    path,
    status,
  });
  const id = ctx.completedId;

  return [
    // POST /generate: shapes, types and ranges
    gen({}, 400, 'generate: empty object', /story_text/),
    gen({ story_text: '   \n\t ' }, 400, 'generate: blank story', /blank/),
    gen({ story_text: '' }, 400, 'generate: empty story'),
    gen({ story_text: null }, 400, 'generate: null story'),
    gen({ story_text: '\u200b\u200b\u202e' }, 400, 'generate: story of invisible characters only', /text/),
    gen({ story_text: 'a'.repeat(50_001) }, 400, 'generate: story over 50,000 characters', /at most 50000/),
    gen({ story_text: 42 }, 400, 'generate: story as number'),
    gen({ story_text: { text: 'x' } }, 400, 'generate: story as object'),
    gen({ story_text: ['x'] }, 400, 'generate: story as array'),
    gen({ story_text: true }, 400, 'generate: story as boolean'),
    gen({ story_text: story, media_type: 'anime' }, 400, 'generate: unknown media type', /media_type/),
    gen({ story_text: story, media_type: 'CINEMATIC' }, 400, 'generate: media type in capitals'),
    gen({ story_text: story, media_type: 'ｃｉｎｅｍａｔｉｃ' }, 400, 'generate: fullwidth media type'),
    gen(
      { story_text: story, media_type: 'cine\u0301matic' },
      400,
      'generate: media type with a combining mark',
    ),
    gen({ story_text: story, media_type: null }, 400, 'generate: null media type'),
    gen({ story_text: story, media_type: ['cartoon'] }, 400, 'generate: media type as array'),
    gen({ story_text: story, num_scenes: 0 }, 400, 'generate: num_scenes 0', /at least 1/),
    gen({ story_text: story, num_scenes: 21 }, 400, 'generate: num_scenes 21', /at most 20/),
    gen({ story_text: story, num_scenes: -3 }, 400, 'generate: num_scenes negative'),
    gen({ story_text: story, num_scenes: 2.5 }, 400, 'generate: num_scenes fractional'),
    gen({ story_text: story, num_scenes: '3' }, 400, 'generate: num_scenes as string'),
    gen({ story_text: story, num_scenes: true }, 400, 'generate: num_scenes as boolean'),
    gen({ story_text: story, num_scenes: [3] }, 400, 'generate: num_scenes as array'),
    gen({ story_text: story, num_scenes: { n: 3 } }, 400, 'generate: num_scenes as object'),
    gen({ story_text: story, num_scenes: null }, 400, 'generate: num_scenes null'),
    genRaw('{"story_text":"x","num_scenes":1e308}', 400, 'generate: num_scenes 1e308'),
    genRaw(
      '{"story_text":"x","num_scenes":99999999999999999999999}',
      400,
      'generate: num_scenes beyond 2^64',
    ),
    genRaw('{"story_text":"x","num_scenes":-0}', 400, 'generate: num_scenes -0'),
    gen(
      { story_text: story, style: 'noir' },
      400,
      'generate: unknown field',
      /style is not an allowed field/,
    ),
    genRaw('{"story_text":"x","__proto__":{"admin":true}}', 400, 'generate: __proto__ key', {
      error: /__proto__/,
    }),
    genRaw('{"story_text":"x","constructor":{"prototype":{"admin":true}}}', 400, 'generate: constructor key'),
    genRaw(`{"story_text":"x","extra":${nested(500)}}`, 400, 'generate: deeply nested unknown field'),
    gen([{ story_text: story }], 400, 'generate: array body'),
    genRaw('"just a string"', 400, 'generate: JSON string body'),
    genRaw('null', 400, 'generate: JSON null body'),
    genRaw('{"story_text": "x",}', 400, 'generate: malformed JSON', { error: /not valid JSON/ }),
    genRaw('{"story_text": "x', 400, 'generate: truncated JSON'),
    genRaw('', 400, 'generate: empty body with JSON content type'),
    genRaw('{"story_text":"a\\ud800b"}', 400, 'generate: lone surrogate', { error: /Unicode/ }),
    genRaw('{"story_text":"a\\udc00"}', 400, 'generate: lone low surrogate', { error: /Unicode/ }),
    gen({ story_text: 'a\u0000b\u0007' }, 400, 'generate: control characters', /control/),
    gen({ story_text: 'x'.repeat(1_100_000) }, 413, 'generate: body over 1 MB', /too large/),
    genRaw('{"story_text":"x"}', 400, 'generate: body not in its declared charset', {
      headers: { 'content-type': 'application/json; charset=utf-16' },
    }),
    genRaw('{"story_text":"x"}', 400, 'generate: bogus gzip body', {
      headers: { 'content-encoding': 'gzip' },
    }),
    typed('/generate', 'text/plain', 'story', 415, 'generate: text/plain body'),
    typed('/generate', 'application/x-www-form-urlencoded', 'story_text=x', 415, 'generate: form body'),
    typed('/generate', '', '{"story_text":"x"}', 415, 'generate: no content type'),
    {
      name: 'generate: bad Idempotency-Key',
      path: '/generate',
      json: { story_text: story },
      headers: { 'idempotency-key': 'spaces are not allowed' },
      status: 400,
    },

    // GET /status and ids
    get('/status/not-a-uuid', 400, 'status: malformed id'),
    get('/status/..%2F..%2Fetc%2Fpasswd', 400, 'status: encoded traversal in id'),
    get('/status/%E2%80%AE' + id.slice(1), 400, 'status: RTL override in id'),
    get('/status/%F0%9F%90%89', 400, 'status: emoji id'),
    get('/status/%E0%A4%A', 400, 'status: invalid percent-encoding'),
    get(`/status/${id}%00`, 400, 'status: NUL after a valid id'),
    get(`/status/${unknown}`, 404, 'status: unknown session'),

    // POST /approve: indices and states
    approve({ session_id: unknown, approved_scenes: [0] }, 404, 'approve: unknown session'),
    approve({ session_id: id }, 400, 'approve: missing indices'),
    approve({ session_id: id, approved_scenes: [] }, 400, 'approve: empty indices', /empty/),
    approve({ session_id: id, approved_scenes: null }, 400, 'approve: null indices'),
    approve({ session_id: id, approved_scenes: '0,1' }, 400, 'approve: indices as string'),
    approve({ session_id: id, approved_scenes: [0, 0] }, 400, 'approve: duplicate indices', /duplicates/),
    {
      // JSON.stringify writes -0 as 0, so the body is written by hand.
      name: 'approve: 0 and -0',
      path: '/approve',
      raw: `{"session_id":"${id}","approved_scenes":[0,-0]}`,
      headers: { 'content-type': 'application/json' },
      status: 400,
    },
    approve({ session_id: id, approved_scenes: [-1] }, 400, 'approve: negative index', /negative/),
    approve({ session_id: id, approved_scenes: ['0'] }, 400, 'approve: string index', /integers/),
    approve({ session_id: id, approved_scenes: [0.5] }, 400, 'approve: fractional index'),
    approve({ session_id: id, approved_scenes: [[0]] }, 400, 'approve: nested array'),
    approve({ session_id: id, approved_scenes: [true] }, 400, 'approve: boolean index'),
    approve({ session_id: id, approved_scenes: [1e308] }, 400, 'approve: huge index'),
    approve({ session_id: id, approved_scenes: [0, 99] }, 400, 'approve: index out of range', /out of range/),
    approve(
      { session_id: id, approved_scenes: Array.from({ length: 101 }, (_, i) => i) },
      400,
      'approve: too many indices',
    ),
    approve({ session_id: id, approved_scenes: { 0: true } }, 400, 'approve: indices as object'),
    approve({ session_id: '../x', approved_scenes: [0] }, 400, 'approve: malformed id'),
    approve({ session_id: [id], approved_scenes: [0] }, 400, 'approve: id as array'),
    approve({ session_id: id, approved_scenes: [0], extra: 1 }, 400, 'approve: unknown field'),
    typed('/approve', 'application/x-www-form-urlencoded', `session_id=${id}`, 415, 'approve: form body'),
    approve({ session_id: ctx.processingId, approved_scenes: [0] }, 409, 'approve: session still processing'),
    approve({ session_id: ctx.failedId, approved_scenes: [0] }, 409, 'approve: failed session'),
    approve({ session_id: ctx.approvedId, approved_scenes: [0] }, 409, 'approve: repeated approval'),

    // POST /download
    download({}, 400, 'download: no session_id'),
    typed(
      '/download',
      'application/x-www-form-urlencoded',
      'session_id=abc',
      400,
      'download: malformed form id',
    ),
    typed(
      '/download',
      'application/x-www-form-urlencoded',
      'session_id=..%2F..%2Fetc',
      400,
      'download: traversal form id',
    ),
    download({ session_id: [id] }, 400, 'download: id as array'),
    download({ session_id: unknown }, 404, 'download: unknown session'),
    download({ session_id: id }, 409, 'download: before approval', /approve/),
    download({ session_id: ctx.processingId }, 409, 'download: session still processing'),
    download({ session_id: ctx.failedId }, 409, 'download: failed session'),

    typed(
      '/download',
      'multipart/mixed; boundary=b',
      `--b\r\nContent-Disposition: form-data; name="session_id"\r\n\r\n${id}\r\n--b--\r\n`,
      415,
      'download: multipart/mixed body',
    ),
    typed('/download', 'multipart/form-data', 'session_id=x', 400, 'download: multipart without boundary'),

    // Static files and routing
    get('/static/../package.json', 404, 'static: traversal'),
    get('/static/%2e%2e/%2e%2e/etc/passwd', 404, 'static: encoded traversal'),
    get(`/static/${id}/..%2f..%2fpackage.json`, 404, 'static: encoded slash traversal'),
    get('/static/....//....//etc/passwd', 404, 'static: dotted traversal'),
    get(`/static/${id}/scene_01.png`, 404, 'static: not downloaded yet'),
    {
      name: 'static: POST instead of GET',
      method: 'POST',
      path: `/static/${id}/scene_01.png`,
      json: {},
      status: 404,
    },
    get('/admin', 404, 'unknown route'),
    get('/generate', 404, 'wrong method on /generate'),
    { name: 'PUT on /approve', method: 'PUT', path: '/approve', json: {}, status: 404 },
    { name: 'DELETE a session', method: 'DELETE', path: `/status/${id}`, status: 404 },
    { name: 'unknown HTTP method', method: 'FOO', path: '/generate', status: 400 },
    get(`/status/${'a'.repeat(20_000)}`, 431, 'URL of 20,000 characters'),
  ];
}

/** Sends one case as it is written: JSON, raw bytes with its headers, or a bare request. */
export function send(baseUrl: string, c: HostileCase) {
  // Paths a URL parser would rewrite (dot segments) go out verbatim, so they reach the server as written.
  if (new URL(`${baseUrl}${c.path}`).pathname !== c.path.split('?')[0]) {
    return requestRawPath(baseUrl, c.method ?? 'GET', c.path);
  }
  return request(`${baseUrl}${c.path}`, {
    method: c.method ?? 'POST',
    ...(c.json !== undefined ? { json: c.json } : {}),
    ...(c.raw !== undefined ? { body: c.raw } : {}),
    ...(c.headers ? { headers: c.headers } : {}),
  });
}
