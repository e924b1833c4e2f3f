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
