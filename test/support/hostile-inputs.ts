import { randomUUID } from 'node:crypto';
import { request, requestRawPath } from './http-client';

/** Sessions in each state, so the same cases can be aimed at every state. */
export interface HostileContext {
  completedId: string;
  processingId: string;
  approvedId: string;
  failedId: string;
}

/** What the envelope's `error` must say: one message, or the whole list of messages in order. */
export type ExpectedError = string | string[];

export interface HostileCase {
  name: string;
  method?: string;
  path: string;
  json?: unknown;
  raw?: string | Buffer;
  headers?: Record<string, string>;
  status: number;
  error: ExpectedError;
}

const story = 'Once upon a time. Then something happened. And it ended.';
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

// Messages several cases expect, written out here (not imported) so a changed message fails the tests.
const STORY_NOT_STRING = 'story_text must be a string';
const BAD_MEDIA_TYPE = 'media_type must be one of: cinematic, cartoon, realistic';
const SCENES_NOT_INTEGER = 'num_scenes must be an integer';
const SCENES_BELOW_1 = 'num_scenes must be at least 1';
const SCENES_ABOVE_20 = 'num_scenes must be at most 20';
const NOT_JSON = 'Request body is not valid JSON';
const JSON_ONLY = 'Content-Type must be application/json';
const LONE_SURROGATE = 'story_text must be valid Unicode text (it contains a lone surrogate)';
const BAD_ID = 'session_id must be a UUID';
const NO_SESSION = 'Session not found or expired';
const INDICES_NOT_ARRAY = 'approved_scenes must be an array of scene indices';
const INDICES_NOT_INTEGERS = 'approved_scenes must contain integers only';
const INDICES_NEGATIVE = 'approved_scenes must not contain negative indices';
const INDICES_DUPLICATED = 'approved_scenes must not contain duplicates';
const NOTHING_APPROVED = 'Nothing approved yet: approve scenes with POST /approve first';
const NO_FILE = 'File not found';
/** The completed session (the one the cases are aimed at) has 3 scenes. */
const outOfRange = (indices: string) => `approved_scenes has indices out of range 0..2: ${indices}`;

/**
 * Malformed, hostile and wrong-state requests with the 4xx each must get and the error that says why.
 * Shared by the e2e suite (in-process app) and the reliability suite (compiled API process).
 */
export function hostileInputs(ctx: HostileContext): HostileCase[] {
  const unknown = randomUUID();
  const post =
    (path: string) =>
    (json: unknown, status: number, name: string, error: ExpectedError): HostileCase => ({
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
    error: ExpectedError,
    headers: Record<string, string> = {},
  ): HostileCase => ({
    name,
    path,
    raw,
    headers: { 'content-type': contentType, ...headers },
    status,
    error,
  });
  const genRaw = (
    raw: string,
    status: number,
    name: string,
    error: ExpectedError,
    headers: Record<string, string> = {},
  ) => typed('/generate', 'application/json', raw, status, name, error, headers);
  const approveRaw = (raw: string, status: number, name: string, error: ExpectedError) =>
    typed('/approve', 'application/json', raw, status, name, error);
  const get = (path: string, status: number, name: string, error: ExpectedError): HostileCase => ({
    name,
    method: 'GET',
    path,
    status,
    error,
  });
  const id = ctx.completedId;

  return [
    // POST /generate: shapes, types and ranges
    gen({}, 400, 'generate: empty object', STORY_NOT_STRING),
    gen({ story_text: '   \n\t ' }, 400, 'generate: blank story', 'story_text must not be blank'),
    gen({ story_text: '' }, 400, 'generate: empty story', 'story_text must not be blank'),
    gen({ story_text: null }, 400, 'generate: null story', STORY_NOT_STRING),
    gen(
      { story_text: '\u200b\u200b\u202e' },
      400,
      'generate: story of invisible characters only',
      'story_text must contain text (letters, digits or symbols)',
    ),
    gen(
      { story_text: 'a'.repeat(50_001) },
      400,
      'generate: story over 50,000 characters',
      'story_text must be at most 50000 characters',
    ),
    gen({ story_text: 42 }, 400, 'generate: story as number', STORY_NOT_STRING),
    gen({ story_text: { text: 'x' } }, 400, 'generate: story as object', STORY_NOT_STRING),
    gen({ story_text: ['x'] }, 400, 'generate: story as array', STORY_NOT_STRING),
    gen({ story_text: true }, 400, 'generate: story as boolean', STORY_NOT_STRING),
    gen({ story_text: story, media_type: 'anime' }, 400, 'generate: unknown media type', BAD_MEDIA_TYPE),
    gen(
      { story_text: story, media_type: 'CINEMATIC' },
      400,
      'generate: media type in capitals',
      BAD_MEDIA_TYPE,
    ),
    gen(
      { story_text: story, media_type: 'ｃｉｎｅｍａｔｉｃ' },
      400,
      'generate: fullwidth media type',
      BAD_MEDIA_TYPE,
    ),
    gen(
      { story_text: story, media_type: 'cine\u0301matic' },
      400,
      'generate: media type with a combining mark',
      BAD_MEDIA_TYPE,
    ),
    gen({ story_text: story, media_type: null }, 400, 'generate: null media type', BAD_MEDIA_TYPE),
    gen({ story_text: story, media_type: ['cartoon'] }, 400, 'generate: media type as array', BAD_MEDIA_TYPE),
    gen({ story_text: story, num_scenes: 0 }, 400, 'generate: num_scenes 0', SCENES_BELOW_1),
    gen({ story_text: story, num_scenes: 21 }, 400, 'generate: num_scenes 21', SCENES_ABOVE_20),
    gen({ story_text: story, num_scenes: -3 }, 400, 'generate: num_scenes negative', SCENES_BELOW_1),
    gen({ story_text: story, num_scenes: 2.5 }, 400, 'generate: num_scenes fractional', SCENES_NOT_INTEGER),
    gen({ story_text: story, num_scenes: '3' }, 400, 'generate: num_scenes as string', SCENES_NOT_INTEGER),
    gen({ story_text: story, num_scenes: true }, 400, 'generate: num_scenes as boolean', SCENES_NOT_INTEGER),
    gen({ story_text: story, num_scenes: [3] }, 400, 'generate: num_scenes as array', SCENES_NOT_INTEGER),
    gen(
      { story_text: story, num_scenes: { n: 3 } },
      400,
      'generate: num_scenes as object',
      SCENES_NOT_INTEGER,
    ),
    gen({ story_text: story, num_scenes: null }, 400, 'generate: num_scenes null', SCENES_NOT_INTEGER),
    genRaw('{"story_text":"x","num_scenes":1e308}', 400, 'generate: num_scenes 1e308', SCENES_ABOVE_20),
    genRaw(
      '{"story_text":"x","num_scenes":99999999999999999999999}',
      400,
      'generate: num_scenes beyond 2^64',
      SCENES_ABOVE_20,
    ),
    // JSON.parse turns 1e400 into Infinity, which is not an integer.
    genRaw(
      '{"story_text":"x","num_scenes":1e400}',
      400,
      'generate: num_scenes overflowing to Infinity',
      SCENES_NOT_INTEGER,
    ),
    genRaw('{"story_text":"x","num_scenes":-0}', 400, 'generate: num_scenes -0', SCENES_BELOW_1),
    gen(
      { story_text: story, style: 'noir' },
      400,
      'generate: unknown field',
      'style is not an allowed field',
    ),
    genRaw(
      '{"story_text":"x","__proto__":{"admin":true}}',
      400,
      'generate: __proto__ key',
      'Field name "__proto__" is not allowed',
    ),
    genRaw(
      '{"story_text":"x","constructor":{"prototype":{"admin":true}}}',
      400,
      'generate: constructor key',
      'Field name "constructor" is not allowed',
    ),
    genRaw(
      `{"story_text":"x","extra":${nested(500)}}`,
      400,
      'generate: deeply nested unknown field',
      'extra is not an allowed field',
    ),
    // The array is validated as an object whose only field is "0".
    gen([{ story_text: story }], 400, 'generate: array body', [
      '0 is not an allowed field',
      STORY_NOT_STRING,
    ]),
    // The JSON parser is strict: a top-level string or null is refused like malformed JSON.
    genRaw('"just a string"', 400, 'generate: JSON string body', NOT_JSON),
    genRaw('null', 400, 'generate: JSON null body', NOT_JSON),
    genRaw('{"story_text": "x",}', 400, 'generate: malformed JSON', NOT_JSON),
    genRaw('{"story_text": "x', 400, 'generate: truncated JSON', NOT_JSON),
    // No body at all is an empty object: the story is missing.
    genRaw('', 400, 'generate: empty body with JSON content type', STORY_NOT_STRING),
    genRaw('{"story_text":"a\\ud800b"}', 400, 'generate: lone surrogate', LONE_SURROGATE),
    genRaw('{"story_text":"a\\udc00"}', 400, 'generate: lone low surrogate', LONE_SURROGATE),
    gen(
      { story_text: 'a\u0000b\u0007' },
      400,
      'generate: control characters',
      'story_text must not contain control characters',
    ),
    gen(
      { story_text: 'x'.repeat(1_100_000) },
      413,
      'generate: body over 1 MB',
      'Request body is too large (limit 1 MB)',
    ),
    // The same bodies with honest headers would be accepted: only the charset and the encoding are wrong.
    genRaw('{"story_text":"x"}', 400, 'generate: body not in its declared charset', NOT_JSON, {
      'content-type': 'application/json; charset=utf-16',
    }),
    genRaw('{"story_text":"x"}', 400, 'generate: bogus gzip body', 'Invalid request body', {
      'content-encoding': 'gzip',
    }),
    typed('/generate', 'text/plain', 'story', 415, 'generate: text/plain body', JSON_ONLY),
    typed(
      '/generate',
      'application/x-www-form-urlencoded',
      'story_text=x',
      415,
      'generate: form body',
      JSON_ONLY,
    ),
    typed('/generate', '', '{"story_text":"x"}', 415, 'generate: no content type', JSON_ONLY),
    {
      name: 'generate: bad Idempotency-Key',
      path: '/generate',
      json: { story_text: story },
      headers: { 'idempotency-key': 'spaces are not allowed' },
      status: 400,
      error: 'Idempotency-Key must be 1 to 200 visible ASCII characters',
    },

    // GET /status and ids
    get('/status/not-a-uuid', 400, 'status: malformed id', BAD_ID),
    get('/status/..%2F..%2Fetc%2Fpasswd', 400, 'status: encoded traversal in id', BAD_ID),
    get('/status/%E2%80%AE' + id.slice(1), 400, 'status: RTL override in id', BAD_ID),
    get('/status/%F0%9F%90%89', 400, 'status: emoji id', BAD_ID),
    get('/status/%E0%A4%A', 400, 'status: invalid percent-encoding', "Failed to decode param '%E0%A4%A'"),
    get(`/status/${id}%00`, 400, 'status: NUL after a valid id', BAD_ID),
    get(`/status/${unknown}`, 404, 'status: unknown session', NO_SESSION),

    // POST /approve: indices and states. Each bad list gets one message, the first thing wrong with it.
    approve({ session_id: unknown, approved_scenes: [0] }, 404, 'approve: unknown session', NO_SESSION),
    approve({ session_id: id }, 400, 'approve: missing indices', INDICES_NOT_ARRAY),
    approve(
      { session_id: id, approved_scenes: [] },
      400,
      'approve: empty indices',
      'approved_scenes must not be empty',
    ),
    approve({ session_id: id, approved_scenes: null }, 400, 'approve: null indices', INDICES_NOT_ARRAY),
    approve({ session_id: id, approved_scenes: '0,1' }, 400, 'approve: indices as string', INDICES_NOT_ARRAY),
    approve(
      { session_id: id, approved_scenes: 0 },
      400,
      'approve: single index not in a list',
      INDICES_NOT_ARRAY,
    ),
    approve(
      { session_id: id, approved_scenes: { 0: true } },
      400,
      'approve: indices as object',
      INDICES_NOT_ARRAY,
    ),
    approve(
      { session_id: id, approved_scenes: [0, 0] },
      400,
      'approve: duplicate indices',
      INDICES_DUPLICATED,
    ),
    // JSON.stringify writes -0 as 0, so the body is written by hand.
    approveRaw(
      `{"session_id":"${id}","approved_scenes":[0,-0]}`,
      400,
      'approve: 0 and -0',
      INDICES_DUPLICATED,
    ),
    approve({ session_id: id, approved_scenes: [-1] }, 400, 'approve: negative index', INDICES_NEGATIVE),
    approve(
      { session_id: id, approved_scenes: [-1, -1] },
      400,
      'approve: duplicate negative indices',
      INDICES_NEGATIVE,
    ),
    approve({ session_id: id, approved_scenes: ['0'] }, 400, 'approve: string index', INDICES_NOT_INTEGERS),
    approve(
      { session_id: id, approved_scenes: ['-1'] },
      400,
      'approve: negative string index',
      INDICES_NOT_INTEGERS,
    ),
    approve(
      { session_id: id, approved_scenes: [0, '1'] },
      400,
      'approve: string among integers',
      INDICES_NOT_INTEGERS,
    ),
    approve(
      { session_id: id, approved_scenes: [0.5] },
      400,
      'approve: fractional index',
      INDICES_NOT_INTEGERS,
    ),
    approve(
      { session_id: id, approved_scenes: [-0.5] },
      400,
      'approve: negative fractional index',
      INDICES_NOT_INTEGERS,
    ),
    approve({ session_id: id, approved_scenes: [[0]] }, 400, 'approve: nested array', INDICES_NOT_INTEGERS),
    approve({ session_id: id, approved_scenes: [true] }, 400, 'approve: boolean index', INDICES_NOT_INTEGERS),
    approve({ session_id: id, approved_scenes: [null] }, 400, 'approve: null index', INDICES_NOT_INTEGERS),
    approve({ session_id: id, approved_scenes: [1e308] }, 400, 'approve: huge index', outOfRange('1e+308')),
    approveRaw(
      `{"session_id":"${id}","approved_scenes":[1e400]}`,
      400,
      'approve: index overflowing to Infinity',
      INDICES_NOT_INTEGERS,
    ),
    approve(
      { session_id: id, approved_scenes: [0, 99] },
      400,
      'approve: index out of range',
      outOfRange('99'),
    ),
    approve(
      { session_id: id, approved_scenes: Array.from({ length: 101 }, (_, i) => i) },
      400,
      'approve: too many indices',
      'approved_scenes must contain at most 100 indices',
    ),
    approve({ session_id: '../x', approved_scenes: [0] }, 400, 'approve: malformed id', BAD_ID),
    approve({ session_id: [id], approved_scenes: [0] }, 400, 'approve: id as array', BAD_ID),
    approve(
      { session_id: id, approved_scenes: [0], extra: 1 },
      400,
      'approve: unknown field',
      'extra is not an allowed field',
    ),
    typed(
      '/approve',
      'application/x-www-form-urlencoded',
      `session_id=${id}`,
      415,
      'approve: form body',
      JSON_ONLY,
    ),
    approve(
      { session_id: ctx.processingId, approved_scenes: [0] },
      409,
      'approve: session still processing',
      'Session is still being generated; approve once its status is "completed"',
    ),
    approve(
      { session_id: ctx.failedId, approved_scenes: [0] },
      409,
      'approve: failed session',
      'Session failed; there is nothing to approve',
    ),
    approve(
      { session_id: ctx.approvedId, approved_scenes: [0] },
      409,
      'approve: repeated approval',
      'Scenes of this session were already approved',
    ),

    // POST /download
    download({}, 400, 'download: no session_id', BAD_ID),
    typed(
      '/download',
      'application/x-www-form-urlencoded',
      'session_id=abc',
      400,
      'download: malformed form id',
      BAD_ID,
    ),
    typed(
      '/download',
      'application/x-www-form-urlencoded',
      'session_id=..%2F..%2Fetc',
      400,
      'download: traversal form id',
      BAD_ID,
    ),
    download({ session_id: [id] }, 400, 'download: id as array', BAD_ID),
    download({ session_id: unknown }, 404, 'download: unknown session', NO_SESSION),
    download({ session_id: id }, 409, 'download: before approval', NOTHING_APPROVED),
    // Neither a processing nor a failed session has anything approved; the answer does not tell them apart.
    download({ session_id: ctx.processingId }, 409, 'download: session still processing', NOTHING_APPROVED),
    download({ session_id: ctx.failedId }, 409, 'download: failed session', NOTHING_APPROVED),
    typed(
      '/download',
      'multipart/mixed; boundary=b',
      `--b\r\nContent-Disposition: form-data; name="session_id"\r\n\r\n${id}\r\n--b--\r\n`,
      415,
      'download: multipart/mixed body',
      'Multipart bodies must be multipart/form-data',
    ),
    typed(
      '/download',
      'multipart/form-data',
      'session_id=x',
      400,
      'download: multipart without boundary',
      'Multipart: Boundary not found',
    ),

    // Static files and routing
    get('/static/../package.json', 404, 'static: traversal', NO_FILE),
    get('/static/%2e%2e/%2e%2e/etc/passwd', 404, 'static: encoded traversal', NO_FILE),
    get(`/static/${id}/..%2f..%2fpackage.json`, 404, 'static: encoded slash traversal', NO_FILE),
    get('/static/....//....//etc/passwd', 404, 'static: dotted traversal', NO_FILE),
    get(`/static/${id}/scene_01.png`, 404, 'static: not downloaded yet', NO_FILE),
    {
      name: 'static: POST instead of GET',
      method: 'POST',
      path: `/static/${id}/scene_01.png`,
      json: {},
      status: 404,
      error: `Cannot POST /static/${id}/scene_01.png`,
    },
    get('/admin', 404, 'unknown route', 'Cannot GET /admin'),
    get('/generate', 404, 'wrong method on /generate', 'Cannot GET /generate'),
    {
      name: 'PUT on /approve',
      method: 'PUT',
      path: '/approve',
      json: {},
      status: 404,
      error: 'Cannot PUT /approve',
    },
    {
      name: 'DELETE a session',
      method: 'DELETE',
      path: `/status/${id}`,
      status: 404,
      error: `Cannot DELETE /status/${id}`,
    },
    {
      name: 'unknown HTTP method',
      method: 'FOO',
      path: '/generate',
      status: 400,
      error: 'Malformed HTTP request',
    },
    get(
      `/status/${'a'.repeat(20_000)}`,
      431,
      'URL of 20,000 characters',
      'Request line or headers too large',
    ),
  ];
}

/**
 * How the envelope's `error` (one message or a list) differs from what the case expects, or null when it
 * says exactly that: the expected message alone, or the expected list in order.
 */
export function errorMismatch(c: HostileCase, error: unknown): string | null {
  const actual = Array.isArray(error) ? error : [error];
  const expected = typeof c.error === 'string' ? [c.error] : c.error;
  const same = actual.length === expected.length && actual.every((message, i) => message === expected[i]);
  return same ? null : `error ${JSON.stringify(error)} should be ${JSON.stringify(expected)}`;
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
