import { ConfigError, loadConfig } from '../../src/config/app-config';
import { selectProviders } from '../../src/providers/provider-selection';

describe('loadConfig', () => {
  it('has working defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8000,
      role: 'all',
      redisUrl: 'redis://127.0.0.1:6379',
      providers: 'auto',
      sessionTtlHours: 24,
      debugMode: false,
    });
    expect(selectProviders(config)).toEqual({ planner: 'offline', renderer: 'offline' });
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
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
    [{ IMAGE_DOWNLOAD_ALLOWED_HOSTS: 'im.runware.ai/images' }, 'IMAGE_DOWNLOAD_ALLOWED_HOSTS'],
    [{ IMAGE_DOWNLOAD_ALLOWED_HOSTS: 'im.runware.ai:99999' }, 'IMAGE_DOWNLOAD_ALLOWED_HOSTS'],
    [{ IMAGE_DOWNLOAD_ALLOWED_HOSTS: 'bad host' }, 'IMAGE_DOWNLOAD_ALLOWED_HOSTS'],
    [{ HOST: '999.1.1.1' }, 'HOST'],
    [{ HOST: 'http://localhost' }, 'HOST'],
    [{ TRUST_PROXY: 'nonsense' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: 'loopback,10.0.0.1/8/1' }, 'TRUST_PROXY'],
    [{ HOUSEKEEPING_INTERVAL_MS: '10' }, 'HOUSEKEEPING_INTERVAL_MS'],
  ])('%j stops with one line naming %s', (env, variable) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as ConfigError).message).not.toContain('\n');
  });

  it('uses a live provider wherever its key is set in auto mode', () => {
    expect(selectProviders(loadConfig({ RUNWARE_API_KEY: 'k' }))).toEqual({
      planner: 'offline',
      renderer: 'runware',
    });
    expect(selectProviders(loadConfig({ RUNWARE_API_KEY: 'k', AI_PROVIDERS: 'offline' }))).toEqual({
      planner: 'offline',
      renderer: 'offline',
    });
  });

  it('keeps the usable keys of API_KEYS and lets an unset or empty one mean no authentication', () => {
    expect(loadConfig({ API_KEYS: ' first-key-0123456789 , ,second-key-0123456789,' }).apiKeys).toEqual([
      'first-key-0123456789',
      'second-key-0123456789',
    ]);
    expect(loadConfig({}).apiKeys).toEqual([]);
    expect(loadConfig({ API_KEYS: '' }).apiKeys).toEqual([]);
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
    ['loopback, 10.0.0.0/8, fd00::/8, 192.168.1.7', ['loopback', '10.0.0.0/8', 'fd00::/8', '192.168.1.7']],
  ])('parses TRUST_PROXY=%j into what Express expects', (raw, expected) => {
    expect(loadConfig({ TRUST_PROXY: raw }).trustProxy).toEqual(expected);
  });

  it.each(['127.0.0.1', '::', 'localhost', 'api.internal'])('accepts HOST=%s', (host) => {
    expect(loadConfig({ HOST: host }).host).toBe(host);
  });
});
