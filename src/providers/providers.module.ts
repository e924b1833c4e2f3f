import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { IMAGE_FETCHER } from './image-fetcher';
import { RemoteImageFetcher, SourceImageFetcher } from './image-fetcher.service';
import { IMAGE_RENDERER, ImageRenderer } from './image-renderer';
import { LocalImageCopier } from './local/local-image-copier';
import { OfflineScenePlanner } from './offline/offline-scene-planner';
import { selectProviders } from './provider-selection';
import { ProviderStatusService } from './provider-status.service';
import { SCENE_PLANNER, ScenePlanner } from './scene-planner';

// Implementations are loaded only when selected: an offline process never loads the live SDKs, and a
// live one never loads sharp (the offline renderer).
function openRouterPlanner(config: AppConfig): ScenePlanner {
  const { OpenRouterScenePlanner } =
    require('./openrouter/openrouter-scene-planner') as typeof import('./openrouter/openrouter-scene-planner');
  return new OpenRouterScenePlanner(config.openrouter);
}

function runwareRenderer(config: AppConfig): ImageRenderer {
  const { RunwareImageRenderer } =
    require('./runware/runware-image-renderer') as typeof import('./runware/runware-image-renderer');
  return new RunwareImageRenderer(config.runware);
}

function offlineRenderer(config: AppConfig): ImageRenderer {
  const { OfflineImageRenderer } =
    require('./offline/offline-image-renderer') as typeof import('./offline/offline-image-renderer');
  return new OfflineImageRenderer(config.imageDir);
}

function httpFetcher(config: AppConfig): RemoteImageFetcher {
  let fetcher: RemoteImageFetcher | undefined;
  return {
    fetchRemote: (url, targetBase) => {
      const { HttpImageFetcher } =
        require('./http/http-image-fetcher') as typeof import('./http/http-image-fetcher');
      const remote = (fetcher ??= new HttpImageFetcher(config));
      return remote.fetchRemote(url, targetBase);
    },
  };
}

/**
 * Chooses each provider once per process from configuration; callers only see the interfaces. Live clients
 * are created here, once, and reused by every job.
 */
@Global()
@Module({
  providers: [
    ProviderStatusService,
    {
      provide: SCENE_PLANNER,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): ScenePlanner =>
        selectProviders(config).planner === 'openrouter'
          ? openRouterPlanner(config)
          : new OfflineScenePlanner(),
    },
    {
      provide: IMAGE_RENDERER,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): ImageRenderer =>
        selectProviders(config).renderer === 'runware' ? runwareRenderer(config) : offlineRenderer(config),
    },
    {
      provide: IMAGE_FETCHER,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        new SourceImageFetcher(new LocalImageCopier(config.imageDir), httpFetcher(config)),
    },
  ],
  exports: [SCENE_PLANNER, IMAGE_RENDERER, IMAGE_FETCHER, ProviderStatusService],
})
export class ProvidersModule implements OnApplicationShutdown {
  constructor(@Inject(IMAGE_RENDERER) private readonly renderer: ImageRenderer) {}

  async onApplicationShutdown(): Promise<void> {
    const closable = this.renderer as ImageRenderer & { close?: () => Promise<void> | void };
    await closable.close?.();
  }
}
