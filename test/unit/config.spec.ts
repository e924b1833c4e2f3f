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
});
