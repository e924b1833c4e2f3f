import { getMetadataStorage } from 'class-validator';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/app-config';
import { EnvironmentVariables } from '../../src/config/env.schema';
import { selectProviders } from '../../src/providers/provider-selection';

function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`${JSON.stringify(env)} was accepted`);
}

describe('loadConfig', () => {
  it.each([
    [{ ROLE: 'both' }, 'ROLE'],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL'],
    [{ AI_PROVIDERS: 'live' }, 'OPENROUTER_API_KEY'],
    [{ DEBUG_MODE: 'maybe' }, 'DEBUG_MODE'],
    [{ RUNWARE_WIDTH: '1000' }, 'RUNWARE_WIDTH'],
    [{ CORS_ORIGINS: 'not a url' }, 'CORS_ORIGINS'],
    [{ WORKER_CONCURRENCY: '0' }, 'WORKER_CONCURRENCY'],
    [{ API_KEYS: ' , ' }, 'API_KEYS'],
    [{ API_KEYS: ',' }, 'API_KEYS'],
    [{ API_KEYS: 'good-key-0123456789,with space' }, 'API_KEYS'],
    [{ IMAGE_DOWNLOAD_ALLOWED_HOSTS: 'http://x/y' }, 'IMAGE_DOWNLOAD_ALLOWED_HOSTS'],
    [{ IMAGE_DOWNLOAD_ALLOWED_HOSTS: 'im.runware.ai:99999' }, 'IMAGE_DOWNLOAD_ALLOWED_HOSTS'],
    [{ IMAGE_DOWNLOAD_ALLOWED_HOSTS: 'bad host' }, 'IMAGE_DOWNLOAD_ALLOWED_HOSTS'],
    [{ HOST: 'http://localhost' }, 'HOST'],
    [{ TRUST_PROXY: 'loopback,10.0.0.1/8/1' }, 'TRUST_PROXY'],
    [{ HOUSEKEEPING_INTERVAL_MS: '10' }, 'HOUSEKEEPING_INTERVAL_MS'],
    [{ STORAGE_DRIVER: 'gcs' }, 'STORAGE_DRIVER'],
    [{ STORAGE_DRIVER: 's3', S3_BUCKET: 'My_Bucket' }, 'S3_BUCKET'],
    [{ STORAGE_DRIVER: 's3', S3_BUCKET: 'images', S3_PREFIX: '/images/' }, 'S3_PREFIX'],
    [{ STORAGE_DRIVER: 's3', S3_BUCKET: 'images', S3_ACCESS_KEY_ID: 'AKIAEXAMPLE' }, 'S3_SECRET_ACCESS_KEY'],
  ])('%j stops with one line naming %s', (env, variable) => {
    const error = refusal(env);
    expect(error.variable).toBe(variable);
    expect(error.message).not.toContain('\n');
  });

  it('uses a live provider wherever its key is set in auto mode', () => {
    expect(selectProviders(loadConfig({ RUNWARE_API_KEY: 'k', ALLOW_ANONYMOUS: 'true' }))).toEqual({
      planner: 'offline',
      renderer: 'runware',
    });
    expect(selectProviders(loadConfig({ RUNWARE_API_KEY: 'k', AI_PROVIDERS: 'offline' }))).toEqual({
      planner: 'offline',
      renderer: 'offline',
    });
  });

  it('keeps the usable keys of API_KEYS and lets an unset or empty one mean no authentication', () => {
    const keys = loadConfig({ API_KEYS: ' first-key-0123456789 , ,second-key-0123456789,' }).apiKeys;
    expect(keys.map((entry) => entry.key)).toEqual(['first-key-0123456789', 'second-key-0123456789']);
    expect(loadConfig({}).apiKeys).toEqual([]);
    expect(loadConfig({ API_KEYS: '' }).apiKeys).toEqual([]);
  });

  it('records a named key by its name, so a new value under the same name is the same tenant', () => {
    const keys = loadConfig({
      API_KEYS: 'alice:old-value-0123456789,alice:new-value-0123456789,unnamed-key-0123456789',
    }).apiKeys;
    expect(keys.map((entry) => entry.key)).toEqual([
      'old-value-0123456789',
      'new-value-0123456789',
      'unnamed-key-0123456789',
    ]);
    expect(keys[0].tenant).toBe('name:alice');
    expect(keys[1].tenant).toBe('name:alice');
    // An unnamed key is recorded as a hash, never as the key.
    expect(keys[2].tenant).toMatch(/^key:[0-9a-f]{32}$/);
    expect(keys[2].tenant).not.toContain('unnamed-key');
  });

  it.each([
    ['a key shorter than 16 characters', 'short-key-12345'],
    ['a named key whose key part is short', 'alice:short-key-12345'],
  ])('refuses %s at start-up, without printing it', (_case, value) => {
    const error = refusal({ API_KEYS: `good-key-0123456789,${value}` });
    expect(error.variable).toBe('API_KEYS');
    expect(error.message).toContain('at least 16');
    expect(error.message).not.toContain('short-key');
  });

  describe('anonymous spending', () => {
    const liveKey = { RUNWARE_API_KEY: 'rw-secret-value' };

    it('refuses an API with live provider keys and no API_KEYS, in one line that shows no key', () => {
      const envs: Record<string, string>[] = [
        liveKey,
        { ...liveKey, ROLE: 'api' },
        { OPENROUTER_API_KEY: 'sk-or-secret' },
      ];
      for (const env of envs) {
        const error = refusal(env);
        expect(error.variable).toBe('API_KEYS');
        expect(error.message).toContain('ALLOW_ANONYMOUS=true');
        expect(error.message).not.toMatch(/rw-secret|sk-or-secret|\n/);
      }
    });

    it('starts when keys are set, when asked to stay anonymous, offline, or as a worker', () => {
      expect(() => loadConfig({ ...liveKey, API_KEYS: 'client-key-0123456789' })).not.toThrow();
      expect(() => loadConfig({ ...liveKey, ALLOW_ANONYMOUS: 'true' })).not.toThrow();
      expect(() => loadConfig({ ...liveKey, AI_PROVIDERS: 'offline' })).not.toThrow();
      expect(() => loadConfig({ ...liveKey, ROLE: 'worker' })).not.toThrow();
      expect(() => loadConfig({})).not.toThrow();
    });
  });

  it('turns webhooks on with a whsec_ secret, keeping the allowlist and delivery settings', () => {
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    expect(
      loadConfig({
        WEBHOOK_SECRET: secret,
        WEBHOOK_ALLOWED_HOSTS: 'Hooks.example.com, *.example.org:8443',
        WEBHOOK_ATTEMPTS: '3',
      }).webhooks,
    ).toEqual({
      secret,
      allowedHosts: ['hooks.example.com', '*.example.org:8443'],
      attempts: 3,
      timeoutMs: 10_000,
    });
  });

  describe('URL signing key', () => {
    it('is none without API_KEYS, derived from the keys without a secret, and from the secret with one', () => {
      expect(loadConfig({}).urlSigningKey).toBeUndefined();
      const derived = loadConfig({ API_KEYS: 'a-key-0123456789abcdef,b-key-0123456789abcdef' }).urlSigningKey;
      // Every API process with the same keys, in any order, signs alike.
      expect(loadConfig({ API_KEYS: 'b-key-0123456789abcdef,a-key-0123456789abcdef' }).urlSigningKey).toEqual(
        derived,
      );
      const secret = 'x'.repeat(32);
      const fromSecret = loadConfig({ API_KEYS: 'a-key-0123456789abcdef', URL_SIGNING_SECRET: secret });
      expect(fromSecret.urlSigningKey).toHaveLength(32);
      expect(fromSecret.urlSigningKey).not.toEqual(derived);
      expect(fromSecret.urlSigningKey?.toString()).not.toContain(secret);
    });

    it('refuses a short secret without printing it', () => {
      const error = refusal({ URL_SIGNING_SECRET: 'too-short-secret' });
      expect(error.variable).toBe('URL_SIGNING_SECRET');
      expect(error.message).not.toContain('too-short-secret');
    });
  });

  it('accepts every allowlist form the download worker understands', () => {
    const hosts = 'IM.Runware.ai, images.example.com:8443, *.cdn.example.com, [::1]:9000, ::1, 10.0.0.5:80';
    expect(loadConfig({ IMAGE_DOWNLOAD_ALLOWED_HOSTS: hosts }).imageDownloadAllowedHosts).toEqual([
      'im.runware.ai',
      'images.example.com:8443',
      '*.cdn.example.com',
      '[::1]:9000',
      '::1',
      '10.0.0.5:80',
    ]);
  });

  it.each([
    ['', ['loopback']],
    ['true', true],
    ['FALSE', false],
    ['2', 2],
    ['0', 0],
    ['loopback, 10.0.0.0/8, fd00::/8, 192.168.1.7', ['loopback', '10.0.0.0/8', 'fd00::/8', '192.168.1.7']],
    ['10.0.0.0/8,172.16.0.0/12, 2001:db8::/32', ['10.0.0.0/8', '172.16.0.0/12', '2001:db8::/32']],
  ])('parses TRUST_PROXY=%j into what Express expects', (raw, expected) => {
    expect(loadConfig({ TRUST_PROXY: raw }).trustProxy).toEqual(expected);
  });

  it.each(['127.0.0.1', '::', 'localhost', 'api.internal'])('accepts HOST=%s', (host) => {
    expect(loadConfig({ HOST: host }).host).toBe(host);
  });

  it('has every default of the schema, and offline providers without keys', () => {
    expect(selectProviders(loadConfig({}))).toEqual({ planner: 'offline', renderer: 'offline' });
    expect(loadConfig({})).toEqual({
      port: 8000,
      workerHealthPort: undefined,
      host: '0.0.0.0',
      role: 'all',
      redisUrl: 'redis://127.0.0.1:6379',
      redisUrlDefaulted: true,
      redisPrefix: 'sig',
      providers: 'auto',
      openrouter: {
        apiKey: undefined,
        baseUrl: 'https://openrouter.ai/api/v1',
        model: 'openai/gpt-4o-mini',
        timeoutMs: 60_000,
        appUrl: 'https://github.com/story-to-image-generator',
        appTitle: 'Story to Image Generator',
        maxStoryChars: 50_000,
      },
      runware: {
        apiKey: undefined,
        url: 'wss://ws-api.runware.ai/v1',
        timeoutMs: 90_000,
        connectTimeoutMs: 10_000,
        modelOverrides: {},
        widthOverride: undefined,
        heightOverride: undefined,
        stepsOverride: undefined,
        cfgScaleOverride: undefined,
        outputFormat: 'PNG',
        referenceMode: 'auto',
        ipAdapterModel: 'runware:105@1',
        ipAdapterWeight: 0.6,
      },
      storage: { driver: 'local', imageDir: path.resolve('image_generation') },
      imageDownloadAllowedHosts: ['im.runware.ai'],
      imageDownloadMaxBytes: 25 * 1024 * 1024,
      imageDownloadTimeoutMs: 30_000,
      webhooks: undefined,
      workerConcurrency: 50,
      downloadConcurrency: 6,
      jobAttempts: 3,
      jobBackoffMs: 1000,
      jobLockMs: 30_000,
      stalledCheckMs: 15_000,
      sessionTtlHours: 24,
      sessionStallMinutes: 30,
      maxVersionsPerScene: 10,
      castPortraitsMax: 4,
      housekeepingIntervalMs: 60_000,
      corsOrigins: [],
      trustProxy: ['loopback'],
      debugMode: false,
      publicBaseUrl: undefined,
      apiKeys: [],
      allowAnonymous: false,
      urlSigningKey: undefined,
      imageUrlTtlSeconds: 3600,
      maxActiveSessionsPerKey: 10,
      providerOutage: {
        toleranceMs: 300_000,
        breakerThreshold: 5,
        probeIntervalMs: 5_000,
        checkIntervalMs: 30_000,
      },
      logFormat: 'text',
      logLevel: 'info',
      metricsEnabled: true,
      queueDashboard: false,
      queueDashboardTenants: [],
      sseHeartbeatMs: 15_000,
      studioEnabled: true,
      exportStoryboard: true,
      rateLimitPerMinute: 600,
      idempotencyTtlSeconds: 86_400,
      shutdownTimeoutMs: 25_000,
    });
  });

  it('reads values trimmed, in any case where a set is allowed, with empty meaning unset', () => {
    const config = loadConfig({
      PORT: ' 8080 ',
      WORKER_HEALTH_PORT: '',
      ROLE: ' Worker ',
      REDIS_URL: 'rediss://redis.internal:6380/',
      PUBLIC_BASE_URL: 'https://images.example.com//',
      RUNWARE_OUTPUT_FORMAT: 'WebP',
      RUNWARE_WIDTH: '1024',
      RUNWARE_CFG_SCALE: '7.5',
      SESSION_TTL_HOURS: '0.5',
      DEBUG_MODE: ' On ',
      IMAGE_DIR: '  ',
      IMAGE_DOWNLOAD_ALLOWED_HOSTS: ' ',
    });
    expect(config).toMatchObject({
      port: 8080,
      workerHealthPort: undefined,
      role: 'worker',
      redisUrl: 'rediss://redis.internal:6380',
      redisUrlDefaulted: false,
      publicBaseUrl: 'https://images.example.com',
      runware: { outputFormat: 'WEBP', widthOverride: 1024, cfgScaleOverride: 7.5 },
      sessionTtlHours: 0.5,
      debugMode: true,
      storage: { driver: 'local', imageDir: path.resolve('image_generation') },
      imageDownloadAllowedHosts: ['im.runware.ai'],
    });
  });

  it.each([
    // [variable, bad value, what the message says is allowed]
    ['PORT', 'eighty', 'an integer between 0 and 65535'],
    ['PORT', '65536', 'an integer between 0 and 65535'],
    ['PORT', '1.5', 'an integer between 0 and 65535'],
    ['WORKER_HEALTH_PORT', '0', 'an integer between 1 and 65535'],
    ['IMAGE_DOWNLOAD_MAX_BYTES', '157286401', 'an integer between 1024 and 157286400'],
    ['RUNWARE_WIDTH', '1000', 'a multiple of 64 between 64 and 4096'],
    ['RUNWARE_HEIGHT', '4160', 'a multiple of 64 between 64 and 4096'],
    ['SESSION_TTL_HOURS', 'soon', 'a number between 0.001 and 8760'],
    ['RUNWARE_CFG_SCALE', '50.5', 'a number between 0 and 50'],
    ['DEBUG_MODE', 'maybe', 'true/false, 1/0, yes/no, on/off'],
    ['ROLE', 'both', 'one of api, worker, all'],
    ['AI_PROVIDERS', 'sometimes', 'one of auto, offline, live'],
    ['RUNWARE_OUTPUT_FORMAT', 'gif', 'one of png, jpg, webp'],
    ['REDIS_URL', 'http://127.0.0.1:6379', 'a URL starting with redis:// or rediss://'],
    ['RUNWARE_URL', 'not a url', 'a URL starting with ws:// or wss://'],
    ['PUBLIC_BASE_URL', 'ftp://example.com', 'a URL starting with http:// or https://'],
    ['HOST', '999.1.1.1', 'an IP address or a host name'],
    ['IMAGE_DOWNLOAD_ALLOWED_HOSTS', 'im.runware.ai/images', 'host, host:port, [ipv6]:port or *.suffix'],
    ['CORS_ORIGINS', 'https://app.example.com/path', 'origins like https://app.example.com'],
    ['TRUST_PROXY', 'nonsense', 'a hop count from 0 to 100'],
    ['TRUST_PROXY', '101', 'a hop count from 0 to 100'],
    ['TRUST_PROXY', '10.0.0.0/33', 'IP addresses and CIDR ranges'],
    ['STORAGE_DRIVER', 'gcs', 'one of local, s3'],
    ['S3_ENDPOINT', 'ftp://minio.internal:9000', 'a URL starting with http:// or https://'],
    ['S3_FORCE_PATH_STYLE', 'maybe', 'true/false, 1/0, yes/no, on/off'],
    ['S3_PREFIX', '/images/', 'must not start with "/"'],
    ['S3_PREFIX', 'my images/', 'printable ASCII without spaces'],
    ['WEBHOOK_ALLOWED_HOSTS', 'https://hooks.example.com/in', 'host, host:port, [ipv6]:port or *.suffix'],
    ['WEBHOOK_ATTEMPTS', '0', 'an integer between 1 and 20'],
  ])('refuses %s=%j, naming the variable, the value and what is allowed', (variable, value, allowed) => {
    const error = refusal({ [variable]: value });
    expect(error.variable).toBe(variable);
    expect(error.message).toMatch(new RegExp(`^Invalid configuration: ${variable} must be `));
    expect(error.message).toContain(allowed);
    expect(error.message.endsWith(`, got ${JSON.stringify(value)}`)).toBe(true);
    expect(error.message).not.toContain('\n');
  });

  it('prints the value of one line even when it holds a line break', () => {
    expect(refusal({ PORT: '80\n80' }).message).toBe(
      'Invalid configuration: PORT must be an integer between 0 and 65535, got "80\\n80"',
    );
  });

  it.each([
    [{ API_KEYS: 'a b' }, 'API_KEYS', 'a b', 'printable ASCII characters without spaces'],
    [
      { API_KEYS: 'good-key-0123456789,bad key' },
      'API_KEYS',
      'good-key-0123456789',
      'printable ASCII characters without spaces',
    ],
    [{ API_KEYS: 'ключ' }, 'API_KEYS', 'ключ', 'printable ASCII characters without spaces'],
    [{ WEBHOOK_SECRET: 'not-a-whsec-secret' }, 'WEBHOOK_SECRET', 'not-a-whsec-secret', 'whsec_'],
    [{ WEBHOOK_SECRET: 'whsec_c2hvcnQ=' }, 'WEBHOOK_SECRET', 'c2hvcnQ', 'at least 24 random bytes'],
  ])('never prints a secret: %j', (env, variable, secret, allowed) => {
    const error = refusal(env);
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(allowed);
    expect(error.message).not.toContain(secret);
  });

  it('names a missing key without printing the other one', () => {
    const error = refusal({ AI_PROVIDERS: 'live', OPENROUTER_API_KEY: 'sk-or-secret' });
    expect(error.message).toBe('Invalid configuration: RUNWARE_API_KEY is required when AI_PROVIDERS=live');
    expect(
      loadConfig({
        AI_PROVIDERS: 'live',
        OPENROUTER_API_KEY: 'o',
        RUNWARE_API_KEY: 'r',
        ALLOW_ANONYMOUS: 'on',
      }).providers,
    ).toBe('live');
  });

  describe('image storage', () => {
    const s3 = { STORAGE_DRIVER: 's3', S3_BUCKET: 'story-images' };

    it('keeps images in IMAGE_DIR, resolved, unless STORAGE_DRIVER says otherwise', () => {
      expect(loadConfig({ IMAGE_DIR: ' ./data/images ' }).storage).toEqual({
        driver: 'local',
        imageDir: path.resolve('data/images'),
      });
    });

    it('requires S3_BUCKET when STORAGE_DRIVER=s3, in one line', () => {
      const error = refusal({ STORAGE_DRIVER: 's3' });
      expect(error.variable).toBe('S3_BUCKET');
      expect(error.message).toBe('Invalid configuration: S3_BUCKET is required when STORAGE_DRIVER=s3');
      expect(refusal({ STORAGE_DRIVER: 's3', S3_BUCKET: '  ' }).variable).toBe('S3_BUCKET');
    });

    it.each(['My_Bucket', 'ab', 'a'.repeat(64), 'images..2026', '-images', 'images-', '192.168.1.10'])(
      'refuses the bucket name %j, naming it and the naming rules',
      (bucket) => {
        const error = refusal({ ...s3, S3_BUCKET: bucket });
        expect(error.variable).toBe('S3_BUCKET');
        expect(error.message).toMatch(/^Invalid configuration: S3_BUCKET must be an S3 bucket name/);
        expect(error.message.endsWith(`, got ${JSON.stringify(bucket)}`)).toBe(true);
        expect(error.message).not.toContain('\n');
      },
    );

    it.each([
      ['S3_ACCESS_KEY_ID', 'AKIAIOSFODNN7EXAMPLE', 'S3_SECRET_ACCESS_KEY'],
      ['S3_SECRET_ACCESS_KEY', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'S3_ACCESS_KEY_ID'],
    ])('refuses %s without the other half of the key pair, never printing it', (given, secret, missing) => {
      const error = refusal({ ...s3, [given]: secret });
      expect(error.variable).toBe(missing);
      expect(error.message).toBe(
        `Invalid configuration: ${missing} must be set together with ${given}, or both left unset for the default AWS credential chain`,
      );
      expect(error.message).not.toContain(secret);
    });

    it('reads a complete S3 configuration, the driver in any case', () => {
      expect(
        loadConfig({
          STORAGE_DRIVER: ' S3 ',
          S3_BUCKET: ' story-images ',
          S3_REGION: 'eu-west-1',
          S3_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
          S3_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
          S3_PREFIX: 'stories/',
        }).storage,
      ).toEqual({
        driver: 's3',
        s3: {
          bucket: 'story-images',
          endpoint: undefined,
          region: 'eu-west-1',
          credentials: {
            accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
            secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
          },
          forcePathStyle: false,
          prefix: 'stories/',
        },
      });
    });

    it('defaults to the SDK credential chain, us-east-1 and no prefix', () => {
      expect(loadConfig(s3).storage).toEqual({
        driver: 's3',
        s3: {
          bucket: 'story-images',
          endpoint: undefined,
          region: 'us-east-1',
          credentials: undefined,
          forcePathStyle: false,
          prefix: '',
        },
      });
    });

    it.each([
      [{}, false],
      [{ S3_ENDPOINT: 'http://minio:9000/' }, true],
      [{ S3_ENDPOINT: 'http://minio:9000', S3_FORCE_PATH_STYLE: 'false' }, false],
      [{ S3_FORCE_PATH_STYLE: 'yes' }, true],
    ])('with %j uses path-style addressing: %s', (env, forcePathStyle) => {
      expect(loadConfig({ ...s3, ...env }).storage).toMatchObject({ driver: 's3', s3: { forcePathStyle } });
    });

    it('keeps the S3 endpoint without trailing slashes and prints a refused one redacted', () => {
      expect(loadConfig({ ...s3, S3_ENDPOINT: 'https://minio.internal:9000/' }).storage).toMatchObject({
        s3: { endpoint: 'https://minio.internal:9000' },
      });
      const error = refusal({ ...s3, S3_ENDPOINT: 'ftp://admin:hunter2@minio.internal:9000' });
      expect(error.variable).toBe('S3_ENDPOINT');
      expect(error.message).not.toContain('hunter2');
    });
  });

  it('prints a refused URL without its credentials or query string', () => {
    const error = refusal({ REDIS_URL: 'http://user:hunter2@redis.internal:6379/?token=abc' });
    expect(error.message).toContain('got "http://***@redis.internal:6379/?***"');
    expect(error.message).not.toMatch(/hunter2|token|abc/);
  });

  it.each([
    'redis://:Zx9/abc+def==@redis:6379',
    'redis://default:p#ss@redis:6379',
    'redis://user:pa?ss@redis:6379',
  ])('never prints a password that keeps %s from parsing as a URL', (value) => {
    const error = refusal({ REDIS_URL: value });
    expect(error.message).toContain('got "(not shown: it may hold credentials)"');
    expect(error.message).not.toMatch(/Zx9|abc\+def|p#ss|pa\?ss/);
  });

  it.each([
    ['REDIS_URL', 'localhost:6379'],
    ['S3_ENDPOINT', 'minio:9000'],
  ])('prints a %s given without a scheme as it was given', (variable, value) => {
    const error = refusal({ STORAGE_DRIVER: 's3', S3_BUCKET: 'images', [variable]: value });
    expect(error.message).toContain(`got "${value}"`);
  });

  it('ignores variables it does not know', () => {
    expect(loadConfig({ PATH: '/usr/bin', NODE_ENV: 'production', PORT: '9000' }).port).toBe(9000);
  });

  it('declares in its schema exactly the variables .env.example lists', () => {
    const declared = getMetadataStorage()
      .getTargetValidationMetadatas(EnvironmentVariables, '', false, false)
      .map((metadata) => metadata.propertyName);
    const example = readFileSync(path.join(__dirname, '..', '..', '.env.example'), 'utf8');
    const listed = [...example.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]);
    expect([...new Set(declared)].sort()).toEqual([...listed].sort());
    expect(listed).toHaveLength(new Set(listed).size);
  });
});
