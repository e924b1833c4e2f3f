import { ProviderError } from '../../src/providers/provider-error';

/** The ProviderError `promise` rejects with; fails the test if it resolves or rejects with anything else. */
export async function providerErrorOf(promise: Promise<unknown>): Promise<ProviderError> {
  const error: unknown = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(error instanceof ProviderError)) throw new Error(`expected a ProviderError, got ${String(error)}`);
  return error;
}
