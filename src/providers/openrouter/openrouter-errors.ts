import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { ProviderError, redact as redactSecret, shownDuration } from '../provider-error';

/**
 * OpenRouter's error body is `{"error": {"code": <http status>, "message", "metadata"?}}`; the HTTP status
 * equals `error.code` for request errors (bad request, key, credits, moderation, rate limit, upstream down).
 * Errors that happen after the model started arrive with status 200, either as a top-level `error` or as a
 * choice with `finish_reason: "error"`. See https://openrouter.ai/docs/api/reference/errors-and-debugging
 */
export interface OpenRouterErrorBody {
  code?: unknown;
  message?: unknown;
  metadata?: unknown;
}

/** Removes the key (and anything shaped like an OpenRouter key) from text that could reach a user or a log. */
export function redact(text: string, secret: string | undefined, maxChars = 200): string {
  return redactSecret(text.replace(/sk-or-[A-Za-z0-9-_]{8,}/g, '[redacted]'), secret, maxChars);
}

/** Maps an HTTP status (from the response or from `error.code` in a 200 body) to a classified error. */
export function errorForStatus(
  status: number,
  body: OpenRouterErrorBody | undefined,
  retryAfterMs: number | undefined,
  secret: string | undefined,
): ProviderError {
  const detail = typeof body?.message === 'string' ? redact(body.message, secret) : '';
  const suffix = detail ? `: ${detail}` : '';
  switch (status) {
    case 400:
      return new ProviderError(`OpenRouter rejected the planning request${suffix}`, false);
    case 401:
      return new ProviderError('OpenRouter rejected the API key', false);
    case 402:
      // A 402 with Retry-After is the in-flight spending budget (a wait), not an empty account.
      return retryAfterMs !== undefined
        ? new ProviderError('OpenRouter spending limit reached for now; retry later', true, retryAfterMs)
        : new ProviderError('OpenRouter account has insufficient credits', false);
    case 403:
      return new ProviderError(
        `OpenRouter refused the story (moderation)${moderationReasons(body, secret)}`,
        false,
      );
    case 404:
      return new ProviderError(`OpenRouter does not know the configured model${suffix}`, false);
    case 408:
      return new ProviderError('OpenRouter timed out while planning the story', true, retryAfterMs);
    case 429:
      return new ProviderError('OpenRouter rate limit reached', true, retryAfterMs);
    default:
      if (status >= 500) {
        return new ProviderError(
          `OpenRouter or its model provider is unavailable (HTTP ${status})`,
          true,
          retryAfterMs,
        );
      }
      return new ProviderError(`OpenRouter refused the planning request (HTTP ${status})${suffix}`, false);
  }
}

function moderationReasons(body: OpenRouterErrorBody | undefined, secret: string | undefined): string {
  const metadata = body?.metadata;
  if (typeof metadata !== 'object' || metadata === null) return '';
  const reasons = (metadata as { reasons?: unknown }).reasons;
  if (!Array.isArray(reasons)) return '';
  const text = reasons.filter((r): r is string => typeof r === 'string').join(', ');
  return text ? `: ${redact(text, secret, 120)}` : '';
}

/** `Retry-After` is seconds or an HTTP date; `retry-after-ms` (used by OpenAI-style APIs) wins when present. */
export function retryAfterMs(headers: Headers | undefined): number | undefined {
  if (!headers) return undefined;
  const ms = Number(headers.get('retry-after-ms'));
  if (headers.get('retry-after-ms') && Number.isFinite(ms) && ms >= 0) return Math.round(ms);
  const raw = headers.get('retry-after');
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * Classifies anything the OpenAI SDK (maxRetries 0) can throw for one request. `deadlineHit` is true when
 * our own per-attempt deadline aborted the request, which covers a body that stalls after the headers.
 */
export function mapSdkError(
  err: unknown,
  deadlineHit: boolean,
  timeoutMs: number,
  secret?: string,
): ProviderError {
  if (err instanceof ProviderError) return err;
  const timeout = new ProviderError(`OpenRouter did not answer within ${shownDuration(timeoutMs)}`, true);
  if (deadlineHit || err instanceof APIConnectionTimeoutError || err instanceof APIUserAbortError)
    return timeout;
  if (err instanceof APIConnectionError) {
    return new ProviderError(`Could not reach OpenRouter${networkCode(err)}`, true);
  }
  if (err instanceof APIError && typeof err.status === 'number') {
    return errorForStatus(err.status, asErrorBody(err.error), retryAfterMs(err.headers), secret);
  }
  if (err instanceof SyntaxError)
    return new ProviderError('OpenRouter returned an unreadable response', true);
  return new ProviderError('The request to OpenRouter failed unexpectedly', true);
}

function networkCode(err: APIConnectionError): string {
  let cause: unknown = (err as { cause?: unknown }).cause;
  for (let depth = 0; depth < 3 && cause; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z_]+$/.test(code)) return ` (${code})`;
    cause = (cause as { cause?: unknown }).cause;
  }
  return '';
}

export function asErrorBody(value: unknown): OpenRouterErrorBody | undefined {
  return typeof value === 'object' && value !== null ? (value as OpenRouterErrorBody) : undefined;
}

/** `error.code` may be a number (the HTTP status) or a numeric string; anything else means "unknown". */
export function statusOf(body: OpenRouterErrorBody | undefined): number | undefined {
  const code = typeof body?.code === 'string' ? Number(body.code) : body?.code;
  return typeof code === 'number' && Number.isInteger(code) && code >= 400 && code < 600 ? code : undefined;
}
