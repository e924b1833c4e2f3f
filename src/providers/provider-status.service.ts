import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import WebSocket from 'ws';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { selectProviders } from './provider-selection';

export type ProviderHealth = 'available' | 'offline' | 'not_configured' | 'unavailable';

const CHECK_TTL_MS = 60_000;
const CHECK_TIMEOUT_MS = 3_000;

interface Cached {
  value: ProviderHealth;
  checkedAt: number;
}

/**
 * Reports whether each live provider answers, from a cheap check cached for a minute: OpenRouter's key
 * endpoint, and a Runware WebSocket authentication. Offline providers are reported as `offline`.
 */
@Injectable()
export class ProviderStatusService implements OnModuleInit {
  private readonly selection;
  private readonly cache = new Map<'openrouter' | 'runware', Cached>();
  private readonly inFlight = new Map<'openrouter' | 'runware', Promise<void>>();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.selection = selectProviders(config);
  }

  async onModuleInit(): Promise<void> {
    if (this.config.role === 'worker') return;
    // Under AI_PROVIDERS=live, POST /generate refuses while a provider is unavailable, which it can only know
    // once the first check is over: so the API waits for it (at most CHECK_TIMEOUT_MS) before it listens.
    if (this.config.providers === 'live') await this.statuses();
    else void this.statuses();
  }

  get planner(): string {
    return this.selection.planner;
  }

  get renderer(): string {
    return this.selection.renderer;
  }

  async statuses(): Promise<{ openrouter: ProviderHealth; runware: ProviderHealth }> {
    const [openrouter, runware] = await Promise.all([
      this.selection.planner === 'offline'
        ? ('offline' as const)
        : this.cached('openrouter', () => this.checkOpenRouter()),
      this.selection.renderer === 'offline'
        ? ('offline' as const)
        : this.cached('runware', () => this.checkRunware()),
    ]);
    return { openrouter, runware };
  }

  /** Live providers that AI_PROVIDERS=live requires but whose last check failed. */
  requiredButUnavailable(): string[] {
    if (this.config.providers !== 'live') return [];
    // Refreshes stale checks in the background: without it, only GET /health would, so a provider that was
    // down once would keep POST /generate refusing after it recovered.
    void this.statuses();
    return [...this.cache.entries()].filter(([, c]) => c.value === 'unavailable').map(([name]) => name);
  }

  private async cached(
    name: 'openrouter' | 'runware',
    check: () => Promise<ProviderHealth>,
  ): Promise<ProviderHealth> {
    const entry = this.cache.get(name);
    const stale = !entry || Date.now() - entry.checkedAt > CHECK_TTL_MS;
    if (stale && !this.inFlight.has(name)) {
      const refresh = check()
        .catch((): ProviderHealth => 'unavailable')
        .then((value) => {
          this.cache.set(name, { value, checkedAt: Date.now() });
        })
        .finally(() => this.inFlight.delete(name));
      this.inFlight.set(name, refresh);
    }
    // The first answer waits for the check; later ones use the last result while a refresh runs.
    if (!entry) await this.inFlight.get(name);
    return this.cache.get(name)?.value ?? 'unavailable';
  }

  private async checkOpenRouter(): Promise<ProviderHealth> {
    const { apiKey, baseUrl } = this.config.openrouter;
    if (!apiKey) return 'not_configured';
    const response = await fetch(`${baseUrl}/key`, {
      headers: { Authorization: `Bearer ${apiKey}` },
      signal: AbortSignal.timeout(CHECK_TIMEOUT_MS),
    });
    await response.body?.cancel();
    // A gateway without the key endpoint still proves reachability; only auth failures and 5xx count against it.
    return response.status === 401 || response.status === 403 || response.status >= 500
      ? 'unavailable'
      : 'available';
  }

  private checkRunware(): Promise<ProviderHealth> {
    const { apiKey, url } = this.config.runware;
    if (!apiKey) return Promise.resolve('not_configured');
    return new Promise<ProviderHealth>((resolve) => {
      const socket = new WebSocket(url, { handshakeTimeout: CHECK_TIMEOUT_MS });
      const finish = (value: ProviderHealth) => {
        clearTimeout(timer);
        socket.removeAllListeners();
        socket.on('error', () => undefined);
        socket.terminate();
        resolve(value);
      };
      const timer = setTimeout(() => finish('unavailable'), CHECK_TIMEOUT_MS);
      socket.on('open', () => socket.send(JSON.stringify([{ taskType: 'authentication', apiKey }])));
      socket.on('message', (raw) => {
        try {
          const message = JSON.parse(raw.toString()) as {
            data?: { taskType?: string; connectionSessionUUID?: string }[];
            errors?: unknown[];
          };
          if (message.errors?.length) finish('unavailable');
          else if (message.data?.some((d) => d.taskType === 'authentication' && d.connectionSessionUUID))
            finish('available');
        } catch {
          finish('unavailable');
        }
      });
      socket.on('error', () => finish('unavailable'));
      socket.on('close', () => finish('unavailable'));
    });
  }
}
