import { Inject, Logger, Module, OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { selectProviders } from '../providers/provider-selection';
import { KeyRing } from './api-keys';
import { UrlSigner } from './url-signer';

/** The signer of image URLs, or null when the deployment has no API_KEYS (URLs stay unsigned). */
export const URL_SIGNER = Symbol('URL_SIGNER');

/** API keys and their tenants, and the signer of image URLs: what the API role authenticates with. */
@Module({
  providers: [
    {
      provide: KeyRing,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new KeyRing(config.apiKeys),
    },
    {
      provide: URL_SIGNER,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        config.urlSigningKey ? new UrlSigner(config.urlSigningKey, config.imageUrlTtlSeconds) : null,
    },
  ],
  exports: [KeyRing, URL_SIGNER],
})
export class AuthModule implements OnApplicationBootstrap {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /** An open API is a choice the operator should see once, not discover later. */
  onApplicationBootstrap(): void {
    const keys = this.config.apiKeys;
    if (keys.length > 0) {
      // Names only, never keys: an entry read as `name:key` that was meant as one key shows up here.
      const names = [
        ...new Set(keys.filter((k) => k.tenant.startsWith('name:')).map((k) => k.tenant.slice(5))),
      ];
      new Logger('Auth').log(
        `${keys.length} API key(s); named: ${names.length > 0 ? names.join(', ') : 'none'}`,
      );
      return;
    }
    const { planner, renderer } = selectProviders(this.config);
    const live = planner !== 'offline' || renderer !== 'offline';
    new Logger('Auth').warn(
      live
        ? "No API_KEYS and ALLOW_ANONYMOUS=true: anyone who reaches this port spends the live providers' credit"
        : 'No API_KEYS: the API is open to anyone who reaches this port (offline providers, so no credit is spent)',
    );
  }
}
