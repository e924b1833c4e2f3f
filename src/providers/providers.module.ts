import { Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { IMAGE_FETCHER } from './image-fetcher';
import { RemoteImageFetcher, SourceImageFetcher } from './image-fetcher.service';
import { IMAGE_RENDERER, ImageRenderer } from './image-renderer';
import { OfflineScenePlanner } from './offline/offline-scene-planner';
import { GuardedImageRenderer, GuardedScenePlanner } from './outage/guarded-providers';
import { ProviderBreaker } from './outage/provider-breaker';
import { selectProviders } from './provider-selection';
import { ProviderStatusService } from './provider-status.service';
import { SCENE_PLANNER, ScenePlanner } from './scene-planner';
import { StoredImageReader } from './stored/stored-image-reader';
import { IMAGE_STORAGE, ImageStorage } from '../storage/image-storage';
import { StorageModule } from '../storage/storage.module';

// Implementations are loaded only when selected: an offline process never loads the live SDKs, and a
// live one never loads sharp (the offline renderer).
async function scenePlanner(config: AppConfig): Promise<ScenePlanner> {
  if (selectProviders(config).planner !== 'openrouter') return new OfflineScenePlanner();
  const { OpenRouterScenePlanner } = await import('./openrouter/openrouter-scene-planner');
  return new OpenRouterScenePlanner(config.openrouter);
}

async function imageRenderer(config: AppConfig, storage: ImageStorage): Promise<ImageRenderer> {
  if (selectProviders(config).renderer === 'runware') {
    const { RunwareImageRenderer } = await import('./runware/runware-image-renderer');
    return new RunwareImageRenderer(config.runware);
  }
  const { OfflineImageRenderer } = await import('./offline/offline-image-renderer');
  return new OfflineImageRenderer(storage);
}

// Every call is counted and, for a live provider, goes through its circuit breaker (outage/).
const guardedPlanner = async (config: AppConfig, breaker: ProviderBreaker) =>
  new GuardedScenePlanner(await scenePlanner(config), breaker);
const guardedRenderer = async (config: AppConfig, storage: ImageStorage, breaker: ProviderBreaker) =>
  new GuardedImageRenderer(await imageRenderer(config, storage), breaker);

/** The HTTP fetcher is needed only by download jobs of live renders, so it is loaded on first use. */
function httpFetcher(config: AppConfig): RemoteImageFetcher {
  let fetcher: Promise<RemoteImageFetcher> | undefined;
  return {
    open: async (url) => {
      fetcher ??= import('./http/http-image-fetcher').then(
        ({ HttpImageFetcher }) => new HttpImageFetcher(config),
      );
      return (await fetcher).open(url);
    },
  };
}

/**
 * Chooses each provider once per process from configuration; callers only see the interfaces. Live clients
 * are created here, once, and reused by every job.
 */
@Module({
  imports: [StorageModule],
  providers: [
    ProviderStatusService,
    ProviderBreaker,
    { provide: SCENE_PLANNER, inject: [APP_CONFIG, ProviderBreaker], useFactory: guardedPlanner },
    {
      provide: IMAGE_RENDERER,
      inject: [APP_CONFIG, IMAGE_STORAGE, ProviderBreaker],
      useFactory: guardedRenderer,
    },
    {
      provide: IMAGE_FETCHER,
      inject: [APP_CONFIG, IMAGE_STORAGE],
      useFactory: (config: AppConfig, storage: ImageStorage) =>
        new SourceImageFetcher(new StoredImageReader(storage), httpFetcher(config)),
    },
  ],
  exports: [SCENE_PLANNER, IMAGE_RENDERER, IMAGE_FETCHER, ProviderStatusService, ProviderBreaker],
})
export class ProvidersModule implements OnApplicationShutdown {
  constructor(@Inject(IMAGE_RENDERER) private readonly renderer: ImageRenderer) {}

  async onApplicationShutdown(): Promise<void> {
    const closable = this.renderer as ImageRenderer & { close?: () => Promise<void> | void };
    await closable.close?.();
  }
}
