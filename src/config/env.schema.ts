import { applyDecorators } from '@nestjs/common';
import { Expose, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsDefined,
  IsDivisibleBy,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  Max,
  Min,
  registerDecorator,
  ValidateIf,
  ValidationOptions,
} from 'class-validator';
import { isIP } from 'node:net';
import type { LogLevel, ProviderMode, Role, RunwareReferenceMode, TrustProxy } from './app-config';

/** How a refused value may be printed: as given, as a URL without credentials or query, or never (a secret). */
export type Shown = 'value' | 'url' | 'never';

interface VariableSpec {
  /** What is allowed, as the end of "<NAME> …": the one message of every rule below. */
  allowed: string;
  parse?: (text: string) => unknown;
  rules?: (options: ValidationOptions) => PropertyDecorator[];
  shown?: Shown;
  /** The text of a value, or undefined when unset (the property's default then stays): trimmed, empty = unset. */
  read?: (value: unknown) => string | undefined;
}

const trimmed = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;

/** One environment variable: read, parsed, then checked by rules that share one message saying what is allowed. */
function Variable({ allowed, parse = (text) => text, rules, shown = 'value', read = trimmed }: VariableSpec) {
  const options: ValidationOptions = { message: allowed, context: { shown } };
  return applyDecorators(
    Expose(),
    Transform(({ value }) => {
      const text = read(value);
      return text === undefined ? undefined : parse(text);
    }),
    IsOptional(),
    ...(rules?.(options) ?? []),
  );
}

/** A rule class-validator has no decorator for. */
function Check(
  name: string,
  test: (value: unknown) => boolean,
  options: ValidationOptions,
): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name,
      target: target.constructor,
      propertyName: String(propertyName),
      options,
      validator: { validate: test },
    });
}

const list = (text: string) =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

const isListOf = (test: (entry: string) => boolean) => (value: unknown) =>
  Array.isArray(value) && value.every((entry) => test(entry as string));

/** Free text, such as a model name. */
const Text = () => Variable({ allowed: 'must be text' });

function IntegerBetween(min: number, max: number, multipleOf?: number) {
  return Variable({
    allowed: `must be ${multipleOf ? `a multiple of ${multipleOf}` : 'an integer'} between ${min} and ${max}`,
    // "1.5", "1e3" or "+5" stay text, so IsInt refuses them.
    parse: (text) => (/^-?\d+$/.test(text) ? Number(text) : text),
    rules: (o) => [IsInt(o), Min(min, o), Max(max, o), ...(multipleOf ? [IsDivisibleBy(multipleOf, o)] : [])],
  });
}

function NumberBetween(min: number, max: number) {
  return Variable({
    allowed: `must be a number between ${min} and ${max}`,
    parse: (text) => (Number.isFinite(Number(text)) ? Number(text) : text),
    rules: (o) => [IsNumber({ allowNaN: false, allowInfinity: false }, o), Min(min, o), Max(max, o)],
  });
}

const BOOLEAN_WORDS = [
  ['true', 'false'],
  ['1', '0'],
  ['yes', 'no'],
  ['on', 'off'],
];

function Flag() {
  return Variable({
    allowed: `must be ${BOOLEAN_WORDS.map((pair) => pair.join('/')).join(', ')}`,
    parse: (text) => {
      const word = text.toLowerCase();
      const pair = BOOLEAN_WORDS.find((words) => words.includes(word));
      return pair ? pair[0] === word : text;
    },
    rules: (o) => [IsBoolean(o)],
  });
}

/** One of `values`, in any case. */
function OneOf(values: readonly string[]) {
  return Variable({
    allowed: `must be one of ${values.join(', ')}`,
    parse: (text) => text.toLowerCase(),
    rules: (o) => [IsIn(values, o)],
  });
}

function protocolOf(value: unknown): string | undefined {
  try {
    return new URL(value as string).protocol;
  } catch {
    return undefined;
  }
}

/** A URL of one of `protocols` (e.g. 'https:'), trailing slashes removed; printed redacted. */
function UrlOf(...protocols: string[]) {
  return Variable({
    allowed: `must be a URL starting with ${protocols.map((protocol) => `${protocol}//`).join(' or ')}`,
    parse: (text) => text.replace(/\/+$/, ''),
    rules: (o) => [Check('isUrlOf', (value) => protocols.includes(protocolOf(value) ?? ''), o)],
    shown: 'url',
  });
}

/** A key, never printed; required (with `reason` as the message) when `required` holds. */
function Secret(required: (env: EnvironmentVariables) => boolean, reason: string) {
  return applyDecorators(
    Expose(),
    Transform(({ value }) => trimmed(value)),
    ValidateIf(required),
    IsDefined({ message: `is required ${reason}`, context: { shown: 'never' } }),
  );
}

/** Shorter keys can be guessed or brute-forced through the rate limit; 16 random characters cannot. */
export const MIN_API_KEY_LENGTH = 16;

/** `name:key`, where the name (which sessions record, so a key's value can be replaced) is a plain word. */
const NAMED_KEY = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,63}):(.*)$/;

/** An API_KEYS entry split into its optional name and the key itself. */
export function splitKeyEntry(entry: string): { name: string | undefined; key: string } {
  const named = NAMED_KEY.exec(entry);
  return named ? { name: named[1], key: named[2] } : { name: undefined, key: entry };
}

const isKeyEntry = (entry: string) => {
  const { key } = splitKeyEntry(entry);
  return key.length >= MIN_API_KEY_LENGTH && /^[\x21-\x7e]+$/.test(key);
};

/** Set but holding no key (" , ", or only blanks) would silently turn authentication off: it stays text, refused. */
function KeyList() {
  return Variable({
    allowed: `must list keys of at least ${MIN_API_KEY_LENGTH} printable ASCII characters without spaces, each optionally named (name:key), separated by commas; leave it unset for no authentication`,
    read: (value) => (typeof value === 'string' && value !== '' ? value : undefined),
    parse: (text) => (list(text).length > 0 ? list(text) : text),
    rules: (o) => [Check('isKeyList', isListOf(isKeyEntry), o)],
    shown: 'never',
  });
}

/** Names of API_KEYS entries (the `name` of `name:key`). */
function KeyNames() {
  return Variable({
    allowed: 'must be a comma-separated list of key names (the name part of API_KEYS entries name:key)',
    parse: list,
    rules: (o) => [
      Check(
        'isKeyNames',
        isListOf((name) => /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)),
        o,
      ),
    ],
  });
}

/** A signing secret: never printed, long enough that it cannot be guessed. */
function SigningSecret() {
  return Variable({
    allowed: 'must be at least 32 characters (e.g. `openssl rand -hex 32`)',
    rules: (o) => [Check('isSigningSecret', (value) => String(value).length >= 32, o)],
    shown: 'never',
  });
}

/**
 * A Standard Webhooks secret: `whsec_` and the base64 of at least 24 random bytes (what the
 * `standardwebhooks` package and most receivers generate); never printed.
 */
function WebhookSecret() {
  return Variable({
    allowed:
      'must be whsec_ followed by the base64 of at least 24 random bytes (e.g. `echo whsec_$(openssl rand -base64 32)`)',
    rules: (o) => [Check('isWebhookSecret', (value) => isWebhookSecret(String(value)), o)],
    shown: 'never',
  });
}

function isWebhookSecret(value: string): boolean {
  const encoded = value.startsWith('whsec_') ? value.slice('whsec_'.length) : '';
  return /^[A-Za-z0-9+/]+={0,2}$/.test(encoded) && Buffer.from(encoded, 'base64').length >= 24;
}

const HOST_ENTRY =
  /^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(:\d{1,5})?$/;

function isHostEntry(entry: string): boolean {
  const port = /:(\d+)$/.exec(entry)?.[1];
  return (HOST_ENTRY.test(entry) || isIP(entry) === 6) && (port === undefined || Number(port) <= 65535);
}

/** Host names, `host:port`, `[ipv6]:port` or `*.suffix`: never URLs or paths, which would match nothing. */
function HostList() {
  return Variable({
    allowed:
      'must be a comma-separated list of host, host:port, [ipv6]:port or *.suffix (like im.runware.ai), not URLs or paths',
    parse: (text) => list(text).map((entry) => entry.toLowerCase()),
    rules: (o) => [Check('isHostList', isListOf(isHostEntry), o)],
  });
}

const isOrigin = (entry: string) => entry === '*' || /^https?:\/\/[^/\s]+$/.test(entry);

function OriginList() {
  return Variable({
    allowed: 'must be * or a comma-separated list of origins like https://app.example.com',
    parse: list,
    rules: (o) => [Check('isOriginList', isListOf(isOrigin), o)],
  });
}

const MAX_PROXY_HOPS = 100;
const PROXY_PRESETS = ['loopback', 'linklocal', 'uniquelocal'];

function isProxyEntry(entry: string): boolean {
  const [address, prefix, extra] = entry.split('/');
  const validAddress = PROXY_PRESETS.includes(entry) || (isIP(address) !== 0 && extra === undefined);
  const maxPrefix = isIP(address) === 6 ? 128 : 32;
  return validAddress && (prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= maxPrefix));
}

const isTrustProxy = (value: unknown) =>
  typeof value === 'boolean' ||
  (typeof value === 'number' && value <= MAX_PROXY_HOPS) ||
  isListOf(isProxyEntry)(value);

/** Express's trust-proxy forms, checked here rather than failing inside Express with a stack trace. */
function TrustProxyForm() {
  return Variable({
    allowed: `must be true, false, a hop count from 0 to ${MAX_PROXY_HOPS}, or a comma-separated list of ${PROXY_PRESETS.join(', ')}, IP addresses and CIDR ranges`,
    parse: (text) => {
      const value = text.toLowerCase();
      if (value === 'true' || value === 'false') return value === 'true';
      if (/^\d+$/.test(value)) return Number(value);
      return value.split(',').map((entry) => entry.trim());
    },
    rules: (o) => [Check('isTrustProxy', isTrustProxy, o)],
  });
}

const isBindHost = (host: unknown) =>
  isIP(host as string) !== 0 ||
  (!/^[\d.]+$/.test(host as string) &&
    /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(host as string));

/** An IP address or a host name: a malformed one would pass start-up and then fail in getaddrinfo. */
function BindHost() {
  return Variable({
    allowed: 'must be an IP address or a host name of this machine',
    rules: (o) => [Check('isBindHost', isBindHost, o)],
  });
}

const liveProviders = (env: EnvironmentVariables) => env.AI_PROVIDERS === 'live';
const s3Storage = (env: EnvironmentVariables) => env.STORAGE_DRIVER === 's3';

/** S3's bucket naming rules (3-63 lower-case letters, digits, dots and hyphens), so a typo fails at start. */
const isBucketName = (value: unknown) =>
  typeof value === 'string' &&
  /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(value) &&
  !value.includes('..') &&
  isIP(value) === 0;

/** Required with the s3 driver; checked whenever it is set. Not a Variable(): that one skips unset values. */
function BucketName() {
  const allowed = 'must be an S3 bucket name: 3-63 lower-case letters, digits, dots and hyphens';
  return applyDecorators(
    Expose(),
    Transform(({ value }) => trimmed(value)),
    ValidateIf((env: EnvironmentVariables) => s3Storage(env) || env.S3_BUCKET !== undefined),
    IsDefined({ message: 'is required when STORAGE_DRIVER=s3', context: { shown: 'value' } }),
    Check('isBucketName', isBucketName, { message: allowed, context: { shown: 'value' } }),
  );
}

/** Prepended to every object key as it is: a folder-like prefix ends with "/". */
function KeyPrefix() {
  return Variable({
    allowed: 'must be printable ASCII without spaces and must not start with "/", like images/',
    rules: (o) => [
      Check(
        'isKeyPrefix',
        (value) => /^[\x21-\x7e]*$/.test(String(value)) && !String(value).startsWith('/'),
        o,
      ),
    ],
  });
}

/** Both halves of a static S3 key pair, or neither (the SDK's default credential chain). */
function S3KeyHalf(other: 'S3_ACCESS_KEY_ID' | 'S3_SECRET_ACCESS_KEY') {
  return applyDecorators(
    Expose(),
    Transform(({ value }) => trimmed(value)),
    ValidateIf((env: EnvironmentVariables) => env[other] !== undefined),
    IsDefined({
      message: `must be set together with ${other}, or both left unset for the default AWS credential chain`,
      context: { shown: 'never' },
    }),
  );
}

/**
 * Every variable the service reads, with its default and what it allows: the one place they are declared.
 * Properties without a default are unset unless given. See .env.example for what each one does.
 */
export class EnvironmentVariables {
  // ---- Server ----
  @IntegerBetween(0, 65535) PORT = 8000;
  @IntegerBetween(1, 65535) WORKER_HEALTH_PORT?: number;
  @BindHost() HOST = '0.0.0.0';
  @OneOf(['api', 'worker', 'all']) ROLE: Role = 'all';
  @UrlOf('http:', 'https:') PUBLIC_BASE_URL?: string;

  // ---- Redis ----
  @UrlOf('redis:', 'rediss:') REDIS_URL = 'redis://127.0.0.1:6379';
  @Text() REDIS_PREFIX = 'sig';

  // ---- Providers and OpenRouter ----
  @OneOf(['auto', 'offline', 'live']) AI_PROVIDERS: ProviderMode = 'auto';
  @Secret(liveProviders, 'when AI_PROVIDERS=live') OPENROUTER_API_KEY?: string;
  @UrlOf('http:', 'https:') OPENROUTER_BASE_URL = 'https://openrouter.ai/api/v1';
  @Text() OPENROUTER_MODEL = 'openai/gpt-4o-mini';
  @IntegerBetween(100, 600_000) OPENROUTER_TIMEOUT_MS = 60_000;
  @Text() OPENROUTER_APP_URL = 'https://github.com/story-to-image-generator';
  @Text() OPENROUTER_APP_TITLE = 'Story to Image Generator';
  @IntegerBetween(1_000, 200_000) OPENROUTER_MAX_STORY_CHARS = 50_000;

  // ---- Runware ----
  @Secret(liveProviders, 'when AI_PROVIDERS=live') RUNWARE_API_KEY?: string;
  @UrlOf('ws:', 'wss:') RUNWARE_URL = 'wss://ws-api.runware.ai/v1';
  @IntegerBetween(100, 600_000) RUNWARE_TIMEOUT_MS = 90_000;
  @IntegerBetween(100, 120_000) RUNWARE_CONNECT_TIMEOUT_MS = 10_000;
  @Text() RUNWARE_MODEL_CINEMATIC?: string;
  @Text() RUNWARE_MODEL_CARTOON?: string;
  @Text() RUNWARE_MODEL_REALISTIC?: string;
  @IntegerBetween(64, 4096, 64) RUNWARE_WIDTH?: number;
  @IntegerBetween(64, 4096, 64) RUNWARE_HEIGHT?: number;
  @IntegerBetween(1, 100) RUNWARE_STEPS?: number;
  @NumberBetween(0, 50) RUNWARE_CFG_SCALE?: number;
  @OneOf(['png', 'jpg', 'webp']) RUNWARE_OUTPUT_FORMAT: 'png' | 'jpg' | 'webp' = 'png';
  @OneOf(['auto', 'reference-images', 'ip-adapters', 'off']) RUNWARE_REFERENCE_MODE: RunwareReferenceMode =
    'auto';
  @Text() RUNWARE_IP_ADAPTER_MODEL = 'runware:105@1';
  @NumberBetween(0, 1) RUNWARE_IP_ADAPTER_WEIGHT = 0.6;

  // ---- Image storage ----
  @OneOf(['local', 's3']) STORAGE_DRIVER: 'local' | 's3' = 'local';
  @Text() IMAGE_DIR = './image_generation';
  @BucketName() S3_BUCKET?: string;
  @UrlOf('http:', 'https:') S3_ENDPOINT?: string;
  @Text() S3_REGION = 'us-east-1';
  @S3KeyHalf('S3_SECRET_ACCESS_KEY') S3_ACCESS_KEY_ID?: string;
  @S3KeyHalf('S3_ACCESS_KEY_ID') S3_SECRET_ACCESS_KEY?: string;
  @Flag() S3_FORCE_PATH_STYLE?: boolean;
  @KeyPrefix() S3_PREFIX = '';

  // ---- Image downloads ----
  @HostList() IMAGE_DOWNLOAD_ALLOWED_HOSTS = ['im.runware.ai'];
  // At most 150 MiB: an export of 20 such images stays under 4 GiB, the ZIP limit without ZIP64.
  @IntegerBetween(1024, 150 * 1024 * 1024) IMAGE_DOWNLOAD_MAX_BYTES = 25 * 1024 * 1024;
  @IntegerBetween(100, 600_000) IMAGE_DOWNLOAD_TIMEOUT_MS = 30_000;
  @IntegerBetween(1, 64) DOWNLOAD_CONCURRENCY = 6;
  @Flag() EXPORT_STORYBOARD = true;

  // ---- Webhooks ----
  @WebhookSecret() WEBHOOK_SECRET?: string;
  @HostList() WEBHOOK_ALLOWED_HOSTS: string[] = [];
  @IntegerBetween(1, 20) WEBHOOK_ATTEMPTS = 5;
  @IntegerBetween(100, 120_000) WEBHOOK_TIMEOUT_MS = 10_000;

  // ---- Jobs and workers ----
  @IntegerBetween(1, 1000) WORKER_CONCURRENCY = 50;
  @IntegerBetween(1, 20) JOB_ATTEMPTS = 3;
  @IntegerBetween(0, 600_000) JOB_BACKOFF_MS = 1000;
  @IntegerBetween(1000, 600_000) JOB_LOCK_MS = 30_000;
  @IntegerBetween(500, 600_000) JOB_STALLED_CHECK_MS = 15_000;
  @IntegerBetween(100, 600_000) SHUTDOWN_TIMEOUT_MS = 25_000;

  // ---- Provider outages ----
  @IntegerBetween(0, 24 * 3600) PROVIDER_OUTAGE_TOLERANCE_SECONDS = 300;
  @IntegerBetween(1, 1000) PROVIDER_BREAKER_THRESHOLD = 5;
  @IntegerBetween(100, 600_000) PROVIDER_PROBE_INTERVAL_MS = 5_000;
  @IntegerBetween(1_000, 3_600_000) PROVIDER_CHECK_INTERVAL_MS = 30_000;

  // ---- Sessions ----
  @NumberBetween(0.001, 24 * 365) SESSION_TTL_HOURS = 24;
  @NumberBetween(1, 24 * 60) SESSION_STALL_MINUTES = 30;
  @IntegerBetween(100, 3_600_000) HOUSEKEEPING_INTERVAL_MS = 60_000;
  @IntegerBetween(1, 30 * 24 * 3600) IDEMPOTENCY_TTL_SECONDS = 24 * 3600;
  @IntegerBetween(1, 100) MAX_VERSIONS_PER_SCENE = 10;
  @IntegerBetween(0, 20) CAST_PORTRAITS_MAX = 4;

  // ---- Security ----
  @KeyList() API_KEYS: string[] = [];
  @Flag() ALLOW_ANONYMOUS = false;
  @SigningSecret() URL_SIGNING_SECRET?: string;
  @IntegerBetween(60, 7 * 24 * 3600) IMAGE_URL_TTL_SECONDS = 3600;
  @IntegerBetween(0, 100_000) MAX_ACTIVE_SESSIONS_PER_KEY = 10;
  @IntegerBetween(0, 1_000_000) RATE_LIMIT_PER_MINUTE = 600;
  @TrustProxyForm() TRUST_PROXY: TrustProxy = ['loopback'];
  @OriginList() CORS_ORIGINS: string[] = [];
  @Flag() DEBUG_MODE = false;

  // ---- Operations ----
  @OneOf(['text', 'json']) LOG_FORMAT: 'text' | 'json' = 'text';
  @OneOf(['error', 'warn', 'info', 'debug']) LOG_LEVEL: LogLevel = 'info';
  @Flag() METRICS_ENABLED = true;
  @Flag() QUEUE_DASHBOARD = false;
  @KeyNames() QUEUE_DASHBOARD_KEYS: string[] = [];
  @IntegerBetween(100, 600_000) SSE_HEARTBEAT_MS = 15_000;
  @Flag() STUDIO_ENABLED = true;
}
