import { Logger } from '@nestjs/common';
import { ImageRenderer, RenderedImage } from '../image-renderer';
import { ProviderError } from '../provider-error';
import { countProviderRequest, ProviderOperation, providerRequests } from '../provider-metrics';
import { PlanRequest, ScenePlanner, StoryPlan } from '../scene-planner';
import { PortraitRenderRequest, SceneRenderRequest } from '../../domain/jobs';
import { ProviderBreaker, ProviderOutageError } from './provider-breaker';

/**
 * Every call to a provider, counted (provider_requests_total) and, for a live provider, passed through its
 * circuit breaker: refused with a ProviderOutageError while the breaker is open (but for the probe), and
 * its outcome recorded. Only retryable ProviderErrors count as failures: any other answer, even a refusal
 * (bad key, moderation), shows the provider is up.
 */
async function guarded<T>(
  breaker: ProviderBreaker,
  provider: string,
  operation: ProviderOperation,
  call: () => Promise<T>,
): Promise<T> {
  const guards = breaker.guards(provider);
  if (guards) {
    const permit = await breaker.acquire(provider);
    if (permit.kind === 'wait') {
      countProviderRequest(provider, operation, 'short_circuited');
      throw new ProviderOutageError(provider, permit.waitMs);
    }
  }
  let result: T;
  try {
    result = await call();
  } catch (err) {
    const retryable = err instanceof ProviderError && err.retryable;
    const fatal = err instanceof ProviderError && !err.retryable;
    countProviderRequest(provider, operation, fatal ? 'fatal_error' : 'retryable_error');
    if (guards && retryable) await bookkeeping(breaker.failed(provider, err.message));
    else if (guards && fatal) await bookkeeping(breaker.answered(provider));
    throw err;
  }
  countProviderRequest(provider, operation, 'success');
  if (guards) await bookkeeping(breaker.answered(provider));
  return result;
}

const logger = new Logger('ProviderBreaker');

/**
 * The breaker's record of a call never changes the call's outcome: an image already paid for is not thrown
 * away (and paid for again) because Redis missed a beat while the breaker noted the success.
 */
async function bookkeeping(update: Promise<void>): Promise<void> {
  try {
    await update;
  } catch (err) {
    logger.warn(`Could not update the provider breaker: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export class GuardedScenePlanner implements ScenePlanner {
  constructor(
    private readonly inner: ScenePlanner,
    private readonly breaker: ProviderBreaker,
  ) {
    // Registered from start-up, so a scrape shows the counter before the first call.
    providerRequests();
  }

  get name(): string {
    return this.inner.name;
  }

  plan(request: PlanRequest): Promise<StoryPlan> {
    return guarded(this.breaker, this.inner.name, 'plan', () => this.inner.plan(request));
  }
}

export class GuardedImageRenderer implements ImageRenderer {
  constructor(
    private readonly inner: ImageRenderer,
    private readonly breaker: ProviderBreaker,
  ) {
    // Registered from start-up, so a scrape shows the counter before the first call.
    providerRequests();
  }

  get name(): string {
    return this.inner.name;
  }

  render(request: SceneRenderRequest): Promise<RenderedImage> {
    return guarded(this.breaker, this.inner.name, 'render', () => this.inner.render(request));
  }

  renderPortrait(request: PortraitRenderRequest): Promise<RenderedImage> {
    return guarded(this.breaker, this.inner.name, 'render', () => this.inner.renderPortrait(request));
  }

  /** The live renderer holds a WebSocket, closed at shutdown. */
  async close(): Promise<void> {
    const closable = this.inner as ImageRenderer & { close?: () => Promise<void> | void };
    await closable.close?.();
  }
}
