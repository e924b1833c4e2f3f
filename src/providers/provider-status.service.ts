import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import WebSocket from 'ws';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ProviderBreaker } from './outage/provider-breaker';
import { selectProviders } from './provider-selection';

/** `degraded`: it passes its check, but its circuit breaker is open (its requests keep failing). */
export type ProviderHealth = 'available' | 'degraded' | 'offline' | 'not_configured' | 'unavailable';

const CHECK_TTL_MS = 60_000;
const CHECK_TIMEOUT_MS = 3_000;

interface Cached {
  value: ProviderHealth;
  checkedAt: number;
}

/**
 * Reports whether each live provider answers, from a cheap check cached for a minute: OpenRouter's key
 * endpoint, and a Runware WebSocket authentication. Offline providers are reported as `offline`, and a
 * provider whose circuit breaker is open as `degraded`. Processes that serve the API also re-check every
 * PROVIDER_CHECK_INTERVAL_MS, so the live-mode gate of POST /generate follows a provider going down and
 * coming back without anyone calling /health.
 */
@Injectable()
export class ProviderStatusService implements OnModuleInit, OnApplicationShutdown {
  private readonly selection;
  private readonly cache = new Map<'openrouter' | 'runware', Cached>();
  private readonly inFlight = new Map<'openrouter' | 'runware', Promise<void>>();
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly breaker: ProviderBreaker,
  ) {
    this.selection = selectProviders(config);
  }

  async onModuleInit(): Promise<void> {
    if (this.config.role === 'worker') return;
    // Unref'd: the timer never keeps a process alive that is otherwise done.
    this.timer = setInterval(() => this.refresh(), this.config.providerOutage.checkIntervalMs).unref();
    // Under AI_PROVIDERS=live, POST /generate refuses while a provider is unavailable, which it can only know
    // once the first check is over: so the API waits for it (at most CHECK_TIMEOUT_MS) before it listens.
    if (this.config.providers === 'live') await this.statuses();
    else void this.statuses();
  }

  /** A check under way (at most CHECK_TIMEOUT_MS) ends first, so no socket outlives the application. */
  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await Promise.allSettled(this.inFlight.values());
  }

  /** Runs every live provider's check now, whatever the age of its last result (the timer's tick). */
  refresh(): void {
    if (this.selection.planner !== 'offline') this.check('openrouter', () => this.checkOpenRouter());
    if (this.selection.renderer !== 'offline') this.check('runware', () => this.checkRunware());
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
        : this.withBreaker(
            'openrouter',
            this.cached('openrouter', () => this.checkOpenRouter()),
          ),
      this.selection.renderer === 'offline'
        ? ('offline' as const)
        : this.withBreaker(
            'runware',
            this.cached('runware', () => this.checkRunware()),
          ),
    ]);
    return { openrouter, runware };
  }

  /** A provider that passes its check while its breaker is open answers, but not the requests that matter. */
  private async withBreaker(
    name: 'openrouter' | 'runware',
    checked: Promise<ProviderHealth>,
  ): Promise<ProviderHealth> {
    const [health, open] = await Promise.all([checked, this.breaker.isOpen(name)]);
    return health === 'available' && open ? 'degraded' : health;
  }

  /** Live providers that AI_PROVIDERS=live requires but whose last check failed. */
  requiredButUnavailable(): string[] {
    if (this.config.providers !== 'live') return [];
    // The checks are refreshed every PROVIDER_CHECK_INTERVAL_MS (onModuleInit), not on this hot path.
    return [...this.cache.entries()].filter(([, c]) => c.value === 'unavailable').map(([name]) => name);
  }

  private async cached(
    name: 'openrouter' | 'runware',
    check: () => Promise<ProviderHealth>,
  ): Promise<ProviderHealth> {
    const entry = this.cache.get(name);
    const stale = !entry || Date.now() - entry.checkedAt > CHECK_TTL_MS;
    if (stale) this.check(name, check);
    // The first answer waits for the check; later ones use the last result while a refresh runs.
    if (!entry) await this.inFlight.get(name);
    return this.cache.get(name)?.value ?? 'unavailable';
  }

  /** Starts a check unless one is running; its result replaces the cached one. */
  private check(name: 'openrouter' | 'runware', check: () => Promise<ProviderHealth>): void {
    if (this.inFlight.has(name)) return;
    const refresh = check()
      .catch((): ProviderHealth => 'unavailable')
      .then((value) => {
        this.cache.set(name, { value, checkedAt: Date.now() });
      })
      .finally(() => this.inFlight.delete(name));
    this.inFlight.set(name, refresh);
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
