import { isIP } from 'node:net';
import * as path from 'node:path';

export type Role = 'api' | 'worker' | 'all';
export type ProviderMode = 'auto' | 'offline' | 'live';
export type TrustProxy = boolean | number | string[];

/** Typed, validated configuration. Built once from the environment; never holds derived secrets in logs. */
export interface AppConfig {
  port: number;
  /** ROLE=worker only: serve /health, /health/live and /health/ready on this port for probes. */
  workerHealthPort: number | undefined;
  host: string;
  role: Role;
  redisUrl: string;
  /** True when REDIS_URL was not set, so a local development Redis may be started. */
  redisUrlDefaulted: boolean;
  redisPrefix: string;
  providers: ProviderMode;
  openrouter: {
    apiKey: string | undefined;
    baseUrl: string;
    model: string;
    timeoutMs: number;
    appUrl: string;
    appTitle: string;
    maxStoryChars: number;
  };
  runware: {
    apiKey: string | undefined;
    url: string;
    timeoutMs: number;
    connectTimeoutMs: number;
    /** Per-media-type overrides, e.g. RUNWARE_MODEL_CINEMATIC. */
    modelOverrides: Partial<Record<'cinematic' | 'cartoon' | 'realistic', string>>;
    widthOverride: number | undefined;
    heightOverride: number | undefined;
    stepsOverride: number | undefined;
    cfgScaleOverride: number | undefined;
    outputFormat: 'PNG' | 'JPG' | 'WEBP';
  };
  imageDir: string;
  imageDownloadAllowedHosts: string[];
  imageDownloadMaxBytes: number;
  imageDownloadTimeoutMs: number;
  workerConcurrency: number;
  downloadConcurrency: number;
  jobAttempts: number;
  jobBackoffMs: number;
  /** How long a worker's lock on a job lasts; a killed worker's jobs are retried after it lapses. */
  jobLockMs: number;
  stalledCheckMs: number;
  sessionTtlHours: number;
  /** A session (or its download) unchanged this long is failed by the watchdog. */
  sessionStallMinutes: number;
  /** How often each worker runs housekeeping (expired-session sweep, stalled-session watchdog). */
  housekeepingIntervalMs: number;
  corsOrigins: string[];
  /** Express "trust proxy": which peers may set X-Forwarded-For/-Proto (all, none, a hop count or a list). */
  trustProxy: TrustProxy;
  debugMode: boolean;
  publicBaseUrl: string | undefined;
  apiKeys: string[];
  rateLimitPerMinute: number;
  idempotencyTtlSeconds: number;
  shutdownTimeoutMs: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`Invalid configuration: ${variable} ${message}`);
  }
}

type Env = Record<string, string | undefined>;

const DEFAULT_RUNWARE_IMAGE_HOST = 'im.runware.ai';

function str(env: Env, name: string, fallback: string): string {
  const value = env[name]?.trim();
  return value ? value : fallback;
}

function optional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `must be an integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max)
    throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function optionalInt(env: Env, name: string, min: number, max: number): number | undefined {
  return env[name]?.trim() ? int(env, name, 0, min, max) : undefined;
}

function num(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new ConfigError(name, `must be a number, got "${raw}"`);
  if (value < min || value > max)
    throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return fallback;
  if (['true', '1', 'yes', 'on'].includes(raw)) return true;
  if (['false', '0', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

function list(env: Env, name: string, fallback: string[]): string[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/** A URL as it may be printed: credentials and query string (which may hold keys) removed. */
export function redactUrl(value: string): string {
  return value.replace(/\/\/[^@/?#]*@/, '//***@').replace(/\?.*$/, '?***');
}

function url(env: Env, name: string, fallback: string, protocols: string[]): string {
  const value = str(env, name, fallback);
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(name, `must be a URL, got "${redactUrl(value)}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')}, got "${parsed.protocol}"`);
  }
  return value.replace(/\/+$/, '');
}

export function loadConfig(env: Env = process.env): AppConfig {
  const runwareUrl = url(env, 'RUNWARE_URL', 'wss://ws-api.runware.ai/v1', ['ws:', 'wss:']);
  const openrouterKey = optional(env, 'OPENROUTER_API_KEY');
  const runwareKey = optional(env, 'RUNWARE_API_KEY');
  const providers = oneOf<ProviderMode>(env, 'AI_PROVIDERS', 'auto', ['auto', 'offline', 'live']);
  if (providers === 'live' && !openrouterKey) {
    throw new ConfigError('OPENROUTER_API_KEY', 'is required when AI_PROVIDERS=live');
  }
  if (providers === 'live' && !runwareKey) {
    throw new ConfigError('RUNWARE_API_KEY', 'is required when AI_PROVIDERS=live');
  }
  const corsOrigins = list(env, 'CORS_ORIGINS', []);
  for (const origin of corsOrigins) {
    if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new ConfigError(
        'CORS_ORIGINS',
        `entries must be "*" or origins like https://app.example.com, got "${origin}"`,
      );
    }
  }
  const publicBaseUrl = optional(env, 'PUBLIC_BASE_URL');
  if (publicBaseUrl) url(env, 'PUBLIC_BASE_URL', publicBaseUrl, ['http:', 'https:']);

  return {
    port: int(env, 'PORT', 8000, 0, 65535),
    workerHealthPort: optionalInt(env, 'WORKER_HEALTH_PORT', 1, 65535),
    host: bindHost(env, 'HOST'),
    role: oneOf<Role>(env, 'ROLE', 'all', ['api', 'worker', 'all']),
    redisUrl: url(env, 'REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']),
    redisUrlDefaulted: !optional(env, 'REDIS_URL'),
    redisPrefix: str(env, 'REDIS_PREFIX', 'sig'),
    providers,
    openrouter: {
      apiKey: openrouterKey,
      baseUrl: url(env, 'OPENROUTER_BASE_URL', 'https://openrouter.ai/api/v1', ['http:', 'https:']),
      model: str(env, 'OPENROUTER_MODEL', 'openai/gpt-4o-mini'),
      timeoutMs: int(env, 'OPENROUTER_TIMEOUT_MS', 60_000, 100, 600_000),
      appUrl: str(env, 'OPENROUTER_APP_URL', 'https://github.com/story-to-image-generator'),
      appTitle: str(env, 'OPENROUTER_APP_TITLE', 'Story to Image Generator'),
      maxStoryChars: int(env, 'OPENROUTER_MAX_STORY_CHARS', 50_000, 1_000, 200_000),
    },
    runware: {
      apiKey: runwareKey,
      url: runwareUrl,
      timeoutMs: int(env, 'RUNWARE_TIMEOUT_MS', 90_000, 100, 600_000),
      connectTimeoutMs: int(env, 'RUNWARE_CONNECT_TIMEOUT_MS', 10_000, 100, 120_000),
      modelOverrides: {
        cinematic: optional(env, 'RUNWARE_MODEL_CINEMATIC'),
        cartoon: optional(env, 'RUNWARE_MODEL_CARTOON'),
        realistic: optional(env, 'RUNWARE_MODEL_REALISTIC'),
      },
      widthOverride: optionalMultipleOf64(env, 'RUNWARE_WIDTH'),
      heightOverride: optionalMultipleOf64(env, 'RUNWARE_HEIGHT'),
      stepsOverride: optionalInt(env, 'RUNWARE_STEPS', 1, 100),
      cfgScaleOverride: env.RUNWARE_CFG_SCALE?.trim() ? num(env, 'RUNWARE_CFG_SCALE', 7, 0, 50) : undefined,
      outputFormat: oneOf(env, 'RUNWARE_OUTPUT_FORMAT', 'png', ['png', 'jpg', 'webp']).toUpperCase() as
        'PNG' | 'JPG' | 'WEBP',
    },
    imageDir: path.resolve(str(env, 'IMAGE_DIR', './image_generation')),
    imageDownloadAllowedHosts: allowedHosts(env, 'IMAGE_DOWNLOAD_ALLOWED_HOSTS', [
      DEFAULT_RUNWARE_IMAGE_HOST,
    ]),
    // At most 150 MiB: an export of 20 such images stays under 4 GiB, the ZIP limit without ZIP64.
    imageDownloadMaxBytes: int(env, 'IMAGE_DOWNLOAD_MAX_BYTES', 25 * 1024 * 1024, 1024, 150 * 1024 * 1024),
    imageDownloadTimeoutMs: int(env, 'IMAGE_DOWNLOAD_TIMEOUT_MS', 30_000, 100, 600_000),
    workerConcurrency: int(env, 'WORKER_CONCURRENCY', 50, 1, 1000),
    downloadConcurrency: int(env, 'DOWNLOAD_CONCURRENCY', 6, 1, 64),
    jobAttempts: int(env, 'JOB_ATTEMPTS', 3, 1, 20),
    jobBackoffMs: int(env, 'JOB_BACKOFF_MS', 1000, 0, 600_000),
    jobLockMs: int(env, 'JOB_LOCK_MS', 30_000, 1000, 600_000),
    stalledCheckMs: int(env, 'JOB_STALLED_CHECK_MS', 15_000, 500, 600_000),
    sessionTtlHours: num(env, 'SESSION_TTL_HOURS', 24, 0.001, 24 * 365),
    sessionStallMinutes: num(env, 'SESSION_STALL_MINUTES', 30, 1, 24 * 60),
    housekeepingIntervalMs: int(env, 'HOUSEKEEPING_INTERVAL_MS', 60_000, 100, 3_600_000),
    corsOrigins,
    trustProxy: trustProxy(env, 'TRUST_PROXY'),
    debugMode: bool(env, 'DEBUG_MODE', false),
    publicBaseUrl: publicBaseUrl?.replace(/\/+$/, ''),
    apiKeys: apiKeys(env, 'API_KEYS'),
    rateLimitPerMinute: int(env, 'RATE_LIMIT_PER_MINUTE', 600, 0, 1_000_000),
    idempotencyTtlSeconds: int(env, 'IDEMPOTENCY_TTL_SECONDS', 24 * 3600, 1, 30 * 24 * 3600),
    shutdownTimeoutMs: int(env, 'SHUTDOWN_TIMEOUT_MS', 25_000, 100, 600_000),
  };
}

/** Set but empty of keys (" , ") would silently turn authentication off, so it is refused. */
function apiKeys(env: Env, name: string): string[] {
  const keys = list(env, name, []);
  if (keys.length === 0 && env[name] !== undefined && env[name] !== '') {
    throw new ConfigError(name, 'is set but holds no key; list keys separated by commas, or leave it unset');
  }
  const unusable = keys.find((key) => !/^[\x21-\x7e]+$/.test(key));
  if (unusable !== undefined) {
    throw new ConfigError(name, 'entries may hold only printable ASCII characters without spaces');
  }
  return keys;
}

const HOST_ENTRY =
  /^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(:\d{1,5})?$/;

/** Host names, `host:port`, `[ipv6]:port` or `*.suffix`: never URLs or paths, which would match nothing. */
function allowedHosts(env: Env, name: string, fallback: string[]): string[] {
  return list(env, name, fallback).map((raw) => {
    const entry = raw.toLowerCase();
    if (entry.includes('://') || entry.includes('/')) {
      throw new ConfigError(
        name,
        `entries are host names like im.runware.ai or host:port, not URLs or paths; got "${raw}"`,
      );
    }
    const port = /:(\d+)$/.exec(entry)?.[1];
    if ((!HOST_ENTRY.test(entry) && isIP(entry) !== 6) || (port !== undefined && Number(port) > 65535)) {
      throw new ConfigError(name, `entries must be host, host:port, [ipv6]:port or *.suffix; got "${raw}"`);
    }
    return entry;
  });
}

const PROXY_PRESETS = ['loopback', 'linklocal', 'uniquelocal'];

/** Express's trust-proxy forms, checked here rather than failing inside Express with a stack trace. */
function trustProxy(env: Env, name: string): TrustProxy {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return ['loopback'];
  if (['true', 'false'].includes(raw)) return raw === 'true';
  if (/^\d+$/.test(raw)) return int(env, name, 0, 0, 100);
  const entries = raw.split(',').map((entry) => entry.trim());
  for (const entry of entries) {
    const [address, prefix, extra] = entry.split('/');
    const validAddress = PROXY_PRESETS.includes(entry) || (isIP(address) !== 0 && extra === undefined);
    const maxPrefix = isIP(address) === 6 ? 128 : 32;
    const validPrefix = prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= maxPrefix);
    if (!validAddress || !validPrefix) {
      throw new ConfigError(
        name,
        `must be true, false, a hop count, or a comma-separated list of ${PROXY_PRESETS.join(', ')}, IP addresses and CIDR ranges; got "${entry}"`,
      );
    }
  }
  return entries;
}

/** An IP address or a host name: a malformed one would pass start-up and then fail in getaddrinfo. */
function bindHost(env: Env, name: string): string {
  const host = str(env, name, '0.0.0.0');
  const looksNumeric = /^[\d.]+$/.test(host);
  const validName = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(host);
  if (isIP(host) === 0 && (looksNumeric || !validName)) {
    throw new ConfigError(name, `must be an IP address or a host name of this machine, got "${host}"`);
  }
  return host;
}

function optionalMultipleOf64(env: Env, name: string): number | undefined {
  const value = optionalInt(env, name, 64, 4096);
  if (value !== undefined && value % 64 !== 0)
    throw new ConfigError(name, `must be a multiple of 64, got ${value}`);
  return value;
}

export const APP_CONFIG = Symbol('APP_CONFIG');
