import { isRecord, ProviderError, redact, shownDuration } from '../provider-error';

/**
 * How failures surface from @runware/sdk-js 1.3.2 (read from its bundled source):
 * - API errors are plain objects, not Errors: `{error: {code, message, parameter?, taskUUID?}}` (the SDK
 *   wraps the first entry of the server's `{"errors": [...]}` frame), passed to `onPartialImages` as its
 *   second argument and used as the promise's rejection value;
 * - a response timeout rejects with a bare string, "Response could not be received from server for …";
 * - `ensureConnection()` rejects with the auth error object, with an Error after ~60 s without a
 *   connection, or with the string "Could not connect to server. Ensure your API key is correct" once the
 *   key has been rejected.
 * Error codes are documented at https://runware.ai/docs/platform/errors (e.g. invalidApiKey, timeoutProvider);
 * the code for an empty balance is not documented, so credit errors are recognised by their wording.
 */
export interface RunwareApiError {
  code: string;
  message: string;
  parameter?: string;
}

export function isKeyError(error: RunwareApiError): boolean {
  return error.code === 'invalidApiKey' || /api.?key|unauthori[sz]ed|authenticat/i.test(error.code);
}

export function mapRunwareError(err: unknown, timeoutMs: number, secret: string): ProviderError {
  if (err instanceof ProviderError) return err;
  const api = apiErrorOf(err);
  if (api) return classify(api, secret);
  if (typeof err === 'string') {
    if (/could not be received/i.test(err)) return timeoutError(timeoutMs);
    if (/api key/i.test(err)) return new ProviderError('Runware rejected the API key', false);
    return new ProviderError('The request to Runware failed', true);
  }
  if (err instanceof Error && /connect|socket|ECONN|EHOST|ENOTFOUND|EAI_AGAIN/i.test(err.message)) {
    return new ProviderError('Could not reach Runware', true);
  }
  return new ProviderError('The request to Runware failed unexpectedly', true);
}

export function timeoutError(timeoutMs: number): ProviderError {
  return new ProviderError(`Runware did not return the image within ${shownDuration(timeoutMs)}`, true);
}

export function connectTimeoutError(connectTimeoutMs: number): ProviderError {
  return new ProviderError(`Could not connect to Runware within ${shownDuration(connectTimeoutMs)}`, true);
}

/** What an API error is about, which decides whether retrying can help and what users are told. */
export type RunwareErrorKind = 'key' | 'credit' | 'content' | 'parameters' | 'timeout' | 'other';

export function errorKind(error: RunwareApiError): RunwareErrorKind {
  const { code } = error;
  if (isKeyError(error)) return 'key';
  if (
    /credit|balance|funds|payment/i.test(code) ||
    /insufficient (credit|balance|funds)/i.test(error.message)
  ) {
    return 'credit';
  }
  if (/nsfw|moderat|safety|policy/i.test(code)) return 'content';
  if (/^(invalid|missing|unsupported)/i.test(code)) return 'parameters';
  if (/timeout/i.test(code)) return 'timeout';
  return 'other';
}

function classify(error: RunwareApiError, secret: string): ProviderError {
  const { code } = error;
  switch (errorKind(error)) {
    case 'key':
      return new ProviderError('Runware rejected the API key', false);
    case 'credit':
      return new ProviderError('Runware account has insufficient credit', false);
    case 'content':
      return new ProviderError('Runware refused the prompt (content policy)', false);
    case 'parameters': {
      const parameter = error.parameter ? ` (${redact(error.parameter, secret, 60)})` : '';
      const detail = redact(error.message, secret);
      return new ProviderError(
        `Runware rejected the request parameters${parameter}: ${detail || code}`,
        false,
      );
    }
    case 'timeout':
      return new ProviderError(`Runware's model provider timed out (${code})`, true);
    case 'other':
      return new ProviderError(
        `Runware failed to render the image (${redact(code, secret, 60) || 'unknown error'})`,
        true,
      );
  }
}

/** Accepts `{error: {...}}`, `{errors: [{...}]}` and a bare `{code, message}`. */
export function apiErrorOf(value: unknown): RunwareApiError | undefined {
  if (!isRecord(value)) return undefined;
  const candidate = isRecord(value.error)
    ? value.error
    : Array.isArray(value.errors) && isRecord(value.errors[0])
      ? value.errors[0]
      : typeof value.code === 'string'
        ? value
        : undefined;
  if (!candidate) return undefined;
  return {
    code: typeof candidate.code === 'string' ? candidate.code : 'unknown',
    message: typeof candidate.message === 'string' ? candidate.message : '',
    parameter: typeof candidate.parameter === 'string' ? candidate.parameter : undefined,
  };
}
