/**
 * A failure of an outside provider, already classified: `retryable` says whether trying the same job again
 * may succeed (timeouts, 5xx, 429, dropped connections) or cannot (bad key, no credit, moderation, invalid
 * output after repair). `message` is shown to users, so it never contains a secret.
 */
export class ProviderError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

/** Only ProviderError messages are written for users; anything else may carry internals. */
export function userMessage(err: unknown): string {
  if (err instanceof ProviderError) return err.message;
  return 'Internal error';
}

/** Provider text as it may be shown: the secret removed, whitespace collapsed, at most `maxChars` long. */
export function redact(text: string, secret: string | undefined, maxChars = 200): string {
  const clean = (secret ? text.split(secret).join('[redacted]') : text).replace(/\s+/g, ' ').trim();
  return clean.length > maxChars ? `${clean.slice(0, maxChars - 1)}…` : clean;
}

/** "800 ms" below a second, "90 s" above: timeouts are shown to users. */
export function shownDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
}

/** A plain JSON object (not null, not an array), as provider replies are checked before use. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
