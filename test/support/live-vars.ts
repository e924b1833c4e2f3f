import { FakeOpenRouter } from './fake-openrouter';
import { FakeRunware } from './fake-runware';

/**
 * The service environment for live mode against the fake providers, with the keys they expect. Tests that
 * do not set API_KEYS serve anonymously on purpose (the fakes' credit is free).
 */
export function liveProviderVars(
  openrouter: FakeOpenRouter,
  runware: FakeRunware,
  keys: { openrouter: string; runware: string },
): Record<string, string> {
  return {
    AI_PROVIDERS: 'live',
    OPENROUTER_BASE_URL: openrouter.url,
    OPENROUTER_API_KEY: keys.openrouter,
    RUNWARE_URL: runware.wsUrl,
    RUNWARE_API_KEY: keys.runware,
    IMAGE_DOWNLOAD_ALLOWED_HOSTS: runware.imageHost,
    ALLOW_ANONYMOUS: 'true',
  };
}
