import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { EnvironmentVariables, Shown, splitKeyEntry } from './env.schema';

export type Role = 'api' | 'worker' | 'all';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type RunwareReferenceMode = 'auto' | 'reference-images' | 'ip-adapters' | 'off';

/**
 * One entry of API_KEYS. `tenant` is what a session records as its owner: the entry's name when it has one
 * (so the key's value can be replaced and the sessions stay reachable), else a hash of the key; never the
 * key itself.
 */
export interface ApiKey {
  key: string;
  tenant: string;
}
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
    /** How scene renders pass the cast portraits: auto picks what the model takes; off sends none. */
    referenceMode: RunwareReferenceMode;
    ipAdapterModel: string;
    ipAdapterWeight: number;
  };
  storage: StorageConfig;
  imageDownloadAllowedHosts: string[];
  imageDownloadMaxBytes: number;
  imageDownloadTimeoutMs: number;
  /** Signed webhooks (src/webhooks/); undefined without WEBHOOK_SECRET, when no callback_url is accepted. */
  webhooks: WebhookConfig | undefined;
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
  /** Versions a scene may have (its first render included); regenerating past it is a 409. */
  maxVersionsPerScene: number;
  /** Portraits the casting step renders per session (the cast members in most scenes); 0: no casting. */
  castPortraitsMax: number;
  /** How often housekeeping runs, once per tick for the whole cluster (expired-file sweep, stalled-session watchdog). */
  housekeepingIntervalMs: number;
  corsOrigins: string[];
  /** Express "trust proxy": which peers may set X-Forwarded-For/-Proto (all, none, a hop count or a list). */
  trustProxy: TrustProxy;
  debugMode: boolean;
  publicBaseUrl: string | undefined;
  apiKeys: ApiKey[];
  /** Serve without API keys although live provider keys are set (ALLOW_ANONYMOUS): the operator chose it. */
  allowAnonymous: boolean;
  /** HMAC key of signed image URLs; undefined without API_KEYS (URLs stay unsigned). */
  urlSigningKey: Buffer | undefined;
  imageUrlTtlSeconds: number;
  /** Sessions one tenant may have processing at once; 0 = unlimited. */
  maxActiveSessionsPerKey: number;
  providerOutage: ProviderOutageConfig;
  logFormat: 'text' | 'json';
  logLevel: LogLevel;
  metricsEnabled: boolean;
  queueDashboard: boolean;
  /** The tenants (operators) the queue dashboard opens to. */
  queueDashboardTenants: string[];
  /** How often an idle live-progress stream gets a heartbeat comment. */
  sseHeartbeatMs: number;
  /** Serve the studio page at GET / (API processes). */
  studioEnabled: boolean;
  /** Put storyboard.pdf and storyboard.html in every export. */
  exportStoryboard: boolean;
  rateLimitPerMinute: number;
  idempotencyTtlSeconds: number;
  shutdownTimeoutMs: number;
}

export interface WebhookConfig {
  /** The `whsec_…` secret deliveries are signed with (Standard Webhooks); never shown. */
  secret: string;
  /** Hosts a callback_url may name, in the syntax of IMAGE_DOWNLOAD_ALLOWED_HOSTS. */
  allowedHosts: string[];
  attempts: number;
  timeoutMs: number;
}

export interface ProviderOutageConfig {
  /** How long sessions wait for an unreachable or failing provider before they fail. */
  toleranceMs: number;
  /** Consecutive retryable failures of a provider that open its circuit breaker. */
  breakerThreshold: number;
  /** While the breaker is open, at most one probe request per this interval, cluster-wide. */
  probeIntervalMs: number;
  /** How often the API re-checks the live providers behind the live-mode 503 and /health. */
  checkIntervalMs: number;
}

export interface S3Config {
  bucket: string;
  /** For MinIO, Ceph, R2 and other S3-compatible servers; unset = AWS. */
  endpoint: string | undefined;
  region: string;
  /** Unset = the SDK's default credential chain (environment, profile, IAM role). */
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  forcePathStyle: boolean;
  /** Prepended to every key: objects are `<prefix><session_id>/…`. */
  prefix: string;
}

/** Where image bytes live: one folder of this machine, or an S3-compatible bucket shared by every process. */
export type StorageConfig = { driver: 'local'; imageDir: string } | { driver: 's3'; s3: S3Config };

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`Invalid configuration: ${variable} ${message}`);
  }
}

type Env = Record<string, string | undefined>;

/** A URL as it may be printed: credentials and query string (which may hold keys) removed. */
export function redactUrl(value: string): string {
  let url: URL;
  try {
    // Without "//" a host:port (a common slip) would parse as scheme "host:" and print as "host://port".
    if (!value.includes('//')) throw new Error('not a URL with an authority');
    url = new URL(value);
  } catch {
    // Unparsable text with an @ may hold a password with / # ? in it: then nothing of it is shown.
    return value.includes('@') ? '(not shown: it may hold credentials)' : value.replace(/\?.*$/, '?***');
  }
  const credentials = url.username || url.password ? '***@' : '';
  // URL adds a "/" path to a bare origin; show the path as it was given.
  const path = url.pathname === '/' && !value.includes(`${url.host}/`) ? '' : url.pathname;
  return `${url.protocol}//${credentials}${url.host}${path}${url.search ? '?***' : ''}`;
}

/** The first refused variable, in one line: what is allowed and, unless it is a secret, the value given. */
function refusal(
  { property, constraints = {}, contexts = {} }: ValidationError,
  raw: string | undefined,
): ConfigError {
  const [rule, allowed] = Object.entries(constraints)[0];
  const shown: Shown = (contexts[rule] as { shown?: Shown } | undefined)?.shown ?? 'value';
  const value = raw?.trim();
  if (!value) return new ConfigError(property, allowed);
  if (shown === 'never')
    return new ConfigError(property, `${allowed} (the value given is secret, so not shown)`);
  return new ConfigError(
    property,
    `${allowed}, got ${JSON.stringify(shown === 'url' ? redactUrl(value) : value)}`,
  );
}

/** The environment read through its one schema (EnvironmentVariables), then arranged as the service uses it. */
export function loadConfig(env: Env = process.env): AppConfig {
  const vars = plainToInstance(EnvironmentVariables, env, {
    excludeExtraneousValues: true,
    exposeUnsetFields: false,
  });
  const [error] = validateSync(vars, { stopAtFirstError: true });
  if (error) throw refusal(error, env[error.property]);
  const apiKeys = vars.API_KEYS.map(apiKeyOf);
  refuseAnonymousSpending(vars, apiKeys);
  refuseOpenDashboard(vars, apiKeys);

  return {
    port: vars.PORT,
    workerHealthPort: vars.WORKER_HEALTH_PORT,
    host: vars.HOST,
    role: vars.ROLE,
    redisUrl: vars.REDIS_URL,
    redisUrlDefaulted: !env.REDIS_URL?.trim(),
    redisPrefix: vars.REDIS_PREFIX,
    providers: vars.AI_PROVIDERS,
    openrouter: {
      apiKey: vars.OPENROUTER_API_KEY,
      baseUrl: vars.OPENROUTER_BASE_URL,
      model: vars.OPENROUTER_MODEL,
      timeoutMs: vars.OPENROUTER_TIMEOUT_MS,
      appUrl: vars.OPENROUTER_APP_URL,
      appTitle: vars.OPENROUTER_APP_TITLE,
      maxStoryChars: vars.OPENROUTER_MAX_STORY_CHARS,
    },
    runware: {
      apiKey: vars.RUNWARE_API_KEY,
      url: vars.RUNWARE_URL,
      timeoutMs: vars.RUNWARE_TIMEOUT_MS,
      connectTimeoutMs: vars.RUNWARE_CONNECT_TIMEOUT_MS,
      modelOverrides: {
        cinematic: vars.RUNWARE_MODEL_CINEMATIC,
        cartoon: vars.RUNWARE_MODEL_CARTOON,
        realistic: vars.RUNWARE_MODEL_REALISTIC,
      },
      widthOverride: vars.RUNWARE_WIDTH,
      heightOverride: vars.RUNWARE_HEIGHT,
      stepsOverride: vars.RUNWARE_STEPS,
      cfgScaleOverride: vars.RUNWARE_CFG_SCALE,
      outputFormat: vars.RUNWARE_OUTPUT_FORMAT.toUpperCase() as 'PNG' | 'JPG' | 'WEBP',
      referenceMode: vars.RUNWARE_REFERENCE_MODE,
      ipAdapterModel: vars.RUNWARE_IP_ADAPTER_MODEL,
      ipAdapterWeight: vars.RUNWARE_IP_ADAPTER_WEIGHT,
    },
    storage: storageConfig(vars),
    imageDownloadAllowedHosts: vars.IMAGE_DOWNLOAD_ALLOWED_HOSTS,
    imageDownloadMaxBytes: vars.IMAGE_DOWNLOAD_MAX_BYTES,
    imageDownloadTimeoutMs: vars.IMAGE_DOWNLOAD_TIMEOUT_MS,
    webhooks: vars.WEBHOOK_SECRET
      ? {
          secret: vars.WEBHOOK_SECRET,
          allowedHosts: vars.WEBHOOK_ALLOWED_HOSTS,
          attempts: vars.WEBHOOK_ATTEMPTS,
          timeoutMs: vars.WEBHOOK_TIMEOUT_MS,
        }
      : undefined,
    workerConcurrency: vars.WORKER_CONCURRENCY,
    downloadConcurrency: vars.DOWNLOAD_CONCURRENCY,
    jobAttempts: vars.JOB_ATTEMPTS,
    jobBackoffMs: vars.JOB_BACKOFF_MS,
    jobLockMs: vars.JOB_LOCK_MS,
    stalledCheckMs: vars.JOB_STALLED_CHECK_MS,
    sessionTtlHours: vars.SESSION_TTL_HOURS,
    sessionStallMinutes: vars.SESSION_STALL_MINUTES,
    maxVersionsPerScene: vars.MAX_VERSIONS_PER_SCENE,
    castPortraitsMax: vars.CAST_PORTRAITS_MAX,
    housekeepingIntervalMs: vars.HOUSEKEEPING_INTERVAL_MS,
    corsOrigins: vars.CORS_ORIGINS,
    trustProxy: vars.TRUST_PROXY,
    debugMode: vars.DEBUG_MODE,
    publicBaseUrl: vars.PUBLIC_BASE_URL,
    apiKeys,
    allowAnonymous: vars.ALLOW_ANONYMOUS,
    urlSigningKey: urlSigningKey(vars.URL_SIGNING_SECRET, apiKeys),
    imageUrlTtlSeconds: vars.IMAGE_URL_TTL_SECONDS,
    maxActiveSessionsPerKey: vars.MAX_ACTIVE_SESSIONS_PER_KEY,
    providerOutage: {
      toleranceMs: vars.PROVIDER_OUTAGE_TOLERANCE_SECONDS * 1000,
      breakerThreshold: vars.PROVIDER_BREAKER_THRESHOLD,
      probeIntervalMs: vars.PROVIDER_PROBE_INTERVAL_MS,
      checkIntervalMs: vars.PROVIDER_CHECK_INTERVAL_MS,
    },
    logFormat: vars.LOG_FORMAT,
    logLevel: vars.LOG_LEVEL,
    metricsEnabled: vars.METRICS_ENABLED,
    queueDashboard: vars.QUEUE_DASHBOARD,
    queueDashboardTenants: vars.QUEUE_DASHBOARD_KEYS.map((name) => `name:${name}`),
    sseHeartbeatMs: vars.SSE_HEARTBEAT_MS,
    studioEnabled: vars.STUDIO_ENABLED,
    exportStoryboard: vars.EXPORT_STORYBOARD,
    rateLimitPerMinute: vars.RATE_LIMIT_PER_MINUTE,
    idempotencyTtlSeconds: vars.IDEMPOTENCY_TTL_SECONDS,
    shutdownTimeoutMs: vars.SHUTDOWN_TIMEOUT_MS,
  };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();

function apiKeyOf(entry: string): ApiKey {
  const { name, key } = splitKeyEntry(entry);
  return {
    key,
    tenant: name !== undefined ? `name:${name}` : `key:${sha256(key).toString('hex').slice(0, 32)}`,
  };
}

/**
 * Anyone who reaches an API without keys spends the provider credit: with live provider keys set, that has
 * to be asked for (ALLOW_ANONYMOUS=true). Workers serve no API, so they need no keys.
 */
function refuseAnonymousSpending(vars: EnvironmentVariables, apiKeys: ApiKey[]): void {
  const liveKeys = vars.AI_PROVIDERS !== 'offline' && (vars.OPENROUTER_API_KEY || vars.RUNWARE_API_KEY);
  if (vars.ROLE === 'worker' || apiKeys.length > 0 || !liveKeys || vars.ALLOW_ANONYMOUS) return;
  throw new ConfigError(
    'API_KEYS',
    'is required while live provider keys are set, or anyone who reaches the port spends their credit; set API_KEYS, or ALLOW_ANONYMOUS=true to serve without keys on purpose',
  );
}

/**
 * The queue dashboard shows every tenant's jobs and can add, retry and remove them: it opens only to
 * operator keys, named in QUEUE_DASHBOARD_KEYS, never to anyone who reaches the port or to every client.
 */
function refuseOpenDashboard(vars: EnvironmentVariables, apiKeys: ApiKey[]): void {
  if (!vars.QUEUE_DASHBOARD || vars.ROLE === 'worker') return;
  const named = new Set(apiKeys.map((key) => key.tenant));
  const operators = vars.QUEUE_DASHBOARD_KEYS;
  if (operators.length === 0 || operators.some((name) => !named.has(`name:${name}`))) {
    throw new ConfigError(
      'QUEUE_DASHBOARD_KEYS',
      'must name the operator keys of API_KEYS (name:key entries) that may open the queue dashboard when QUEUE_DASHBOARD=true',
    );
  }
}

/**
 * URL_SIGNING_SECRET when set; else derived from the API keys, which every API process of a deployment
 * shares (so URLs signed by one verify on another). Without keys, URLs stay unsigned.
 */
function urlSigningKey(secret: string | undefined, apiKeys: ApiKey[]): Buffer | undefined {
  if (apiKeys.length === 0) return undefined;
  if (secret) return sha256(`url-signing\n${secret}`);
  return sha256(
    `url-signing\n${apiKeys
      .map((k) => k.key)
      .sort()
      .join('\n')}`,
  );
}

function storageConfig(vars: EnvironmentVariables): StorageConfig {
  if (vars.STORAGE_DRIVER === 'local') return { driver: 'local', imageDir: path.resolve(vars.IMAGE_DIR) };
  const { S3_ACCESS_KEY_ID: accessKeyId, S3_SECRET_ACCESS_KEY: secretAccessKey } = vars;
  return {
    driver: 's3',
    s3: {
      bucket: vars.S3_BUCKET as string,
      endpoint: vars.S3_ENDPOINT,
      region: vars.S3_REGION,
      credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
      // Most S3-compatible servers have no per-bucket host names; AWS itself prefers virtual hosts.
      forcePathStyle: vars.S3_FORCE_PATH_STYLE ?? vars.S3_ENDPOINT !== undefined,
      prefix: vars.S3_PREFIX,
    },
  };
}

export const APP_CONFIG = Symbol('APP_CONFIG');
