// The service's HTTP API, as the studio uses it: every call carries the API key when there is one, and
// every failure becomes an ApiError holding the error envelope's message.

const KEY_STORAGE = 'story-studio.api-key';

export class ApiError extends Error {
  /**
   * @param {string} message what the envelope said, ready to show
   * @param {number} status HTTP status (0: the request never got an answer)
   * @param {number | null} retryAfter seconds, from Retry-After
   */
  constructor(message, status, retryAfter = null) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

export function storedKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    return '';
  }
}

export function storeKey(key) {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage refused (private mode): the key still works for this page.
  }
}

/** @returns {Record<string, string>} */
export function authHeaders() {
  const key = storedKey();
  return key ? { 'X-API-Key': key } : {};
}

/** A request to the API; resolves with the Response when it is 2xx, rejects with an ApiError otherwise. */
export async function request(method, path, body, extraHeaders = {}) {
  const headers = { Accept: 'application/json', ...authHeaders(), ...extraHeaders };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError('The server could not be reached. Check your connection and try again.', 0);
  }
  if (response.ok) return response;
  throw await errorOf(response);
}

export async function requestJson(method, path, body) {
  const response = await request(method, path, body);
  return response.json();
}

/** The envelope's message (one string, or one line per invalid field), with the wait of a 429 or 409. */
export async function errorOf(response) {
  let message = `The server answered ${response.status} ${response.statusText}`.trim();
  try {
    const envelope = await response.json();
    if (Array.isArray(envelope.error)) message = envelope.error.join('; ');
    else if (typeof envelope.error === 'string') message = envelope.error;
  } catch {
    // Not the envelope (a proxy's page): keep the status line.
  }
  const retryAfter = Number.parseInt(response.headers.get('Retry-After') ?? '', 10);
  const wait = Number.isFinite(retryAfter) ? retryAfter : null;
  if (response.status === 401) message = `${message}. Enter a valid API key above.`;
  if (wait !== null) message = `${message} (try again in ${wait} s)`;
  return new ApiError(message, response.status, wait);
}

export const api = {
  info: () => requestJson('GET', 'info'),
  generate: (storyText, mediaType, numScenes) =>
    requestJson('POST', 'generate', { story_text: storyText, media_type: mediaType, num_scenes: numScenes }),
  status: (sessionId) => requestJson('GET', `status/${sessionId}`),
  regenerate: (sessionId, index, imagePrompt) =>
    requestJson(
      'POST',
      `sessions/${sessionId}/scenes/${index}/regenerate`,
      imagePrompt === undefined ? {} : { image_prompt: imagePrompt },
    ),
  select: (sessionId, index, version) =>
    requestJson('POST', `sessions/${sessionId}/scenes/${index}/select`, { version }),
  approve: (sessionId, indices) =>
    requestJson('POST', 'approve', { session_id: sessionId, approved_scenes: indices }),
  download: (sessionId) => request('POST', 'download', { session_id: sessionId }),
};
