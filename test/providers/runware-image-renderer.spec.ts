import { Logger } from '@nestjs/common';
import { AppConfig } from '../../src/config/app-config';
import { SceneRenderRequest } from '../../src/domain/jobs';
import { ProviderError } from '../../src/providers/provider-error';
import { providerErrorOf } from '../support/provider-errors';
import { RunwareImageRenderer } from '../../src/providers/runware/runware-image-renderer';
import { FakeRunware, startFakeRunware } from '../support/fake-runware';
import { CapturingLogger } from '../support/test-app';
import { pollUntil } from '../support/test-env';

const KEY = 'rw-SECRET-TEST-KEY-123';

let fake: FakeRunware;
const renderers: RunwareImageRenderer[] = [];

/** Nest's logger, as the service configures it; Jest gives each test file its own copy of Nest. */
const logged = new CapturingLogger();
const CONTEXT = 'RunwareImageRenderer';
const dropping = (reason: string) =>
  `warn Dropping the Runware connection (${reason}); the next render opens a new one ${CONTEXT}`;

beforeAll(async () => {
  Logger.overrideLogger(logged);
  fake = await startFakeRunware({ apiKey: KEY });
});
afterAll(() => fake.close());
beforeEach(() => {
  fake.reset();
  logged.lines.length = 0;
});
afterEach(async () => {
  await Promise.all(renderers.splice(0).map((r) => r.close()));
});

function renderer(overrides: Partial<AppConfig['runware']> = {}): RunwareImageRenderer {
  const created = new RunwareImageRenderer({
    apiKey: KEY,
    url: fake.wsUrl,
    timeoutMs: 1500,
    connectTimeoutMs: 3000,
    modelOverrides: {},
    widthOverride: undefined,
    heightOverride: undefined,
    stepsOverride: undefined,
    cfgScaleOverride: undefined,
    outputFormat: 'PNG',
    ...overrides,
  });
  renderers.push(created);
  return created;
}

const request = (sceneIndex = 0): SceneRenderRequest => ({
  sessionId: 'session-1',
  sceneIndex,
  title: 'The lantern',
  prompt: 'Cinematic film still. Mara holds a brass lantern in a dusty attic',
  negativePrompt: null,
  mediaType: 'cinematic',
  seed: 424242,
});

function renderError(r: RunwareImageRenderer): Promise<ProviderError> {
  return providerErrorOf(r.render(request()));
}

describe('RunwareImageRenderer against the fake Runware', () => {
  it('renders an image whose URL is on the fake image host, echoing the seed', async () => {
    const image = await renderer({ modelOverrides: { cinematic: 'civitai:4384@128713' } }).render(request());

    expect(new URL(image.imageUrl).host).toBe(fake.imageHost);
    expect(image.source).toEqual({ kind: 'remote', url: image.imageUrl });
    expect(image.seed).toBe(424242);
    expect(image.model).toBe('civitai:4384@128713');
    expect(fake.stats.imageTasks).toEqual([
      expect.objectContaining({ seed: 424242, positivePrompt: request().prompt }),
    ]);
    const response = await fetch(image.imageUrl);
    expect(response.headers.get('content-type')).toBe('image/png');
    expect(logged.lines).toEqual([]);
  });

  it('shares one connection for many renders and sends exactly one task per render', async () => {
    const r = renderer();
    const images = await Promise.all([0, 1, 2, 3, 4].map((i) => r.render(request(i))));

    expect(new Set(images.map((i) => i.imageUrl)).size).toBe(5);
    expect(fake.stats.connections).toBe(1);
    expect(fake.stats.tasks.authentication).toBe(1);
    expect(fake.stats.tasks.imageInference).toBe(5);
    expect(new Set(fake.stats.imageTasks.map((t) => t.connection))).toEqual(new Set([1]));
  });

  it('drops each task listener as soon as its image arrives, not on the SDK poll 100 ms later', async () => {
    const r = renderer();
    const sdkOf = () =>
      (r as unknown as { sdk: { _listeners: unknown[]; _globalImages: unknown[] } | null }).sdk;
    for (let i = 0; i < 5; i++) {
      await r.render(request(i));
      // The SDK calls every listener for every frame it receives, so finished tasks must not linger.
      expect(sdkOf()?._listeners).toHaveLength(0);
    }
    // The SDK itself still resolves its own promise and clears the image it kept.
    await pollUntil(
      () => Promise.resolve(sdkOf()?._globalImages.length),
      (length) => length === 0,
      2000,
    );
  });

  it('maps a rejected key at authentication to a non-retryable error without the key', async () => {
    const wrongKey = 'rw-SECRET-WRONG-KEY-456';
    const error = await renderError(renderer({ apiKey: wrongKey }));
    expect(error.retryable).toBe(false);
    expect(error.message).toBe('Runware rejected the API key');
    expect(fake.stats.tasks.imageInference ?? 0).toBe(0);
    expect(logged.lines).toEqual([dropping('Runware rejected the API key at authentication')]);
  });

  it('drops a key-rejected connection once, however many renders wait on it', async () => {
    const r = renderer({ apiKey: 'rw-SECRET-WRONG-KEY-456' });
    const errors = await Promise.all([0, 1, 2].map((i) => providerErrorOf(r.render(request(i)))));
    expect(errors.map((e) => e.message)).toEqual(Array(3).fill('Runware rejected the API key'));
    expect(fake.stats.connections).toBe(1);
    expect(logged.lines).toEqual([dropping('Runware rejected the API key at authentication')]);
  });

  it.each([
    ['invalidApiKey', false, /^Runware rejected the API key$/],
    ['insufficientCredits', false, /^Runware account has insufficient credit$/],
    ['invalidParameter', false, /rejected the request parameters \(width\)/],
    ['providerError', true, /model provider timed out \(timeoutProvider\)/],
  ] as const)('maps a %s task error to retryable=%s', async (fault, retryable, message) => {
    fake.enqueue({ fault });
    const error = await renderError(renderer());
    expect(error.retryable).toBe(retryable);
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain(KEY);
  });

  it('keeps working after a task error on the same connection', async () => {
    const r = renderer();
    fake.enqueue({ fault: 'providerError' });
    await expect(r.render(request())).rejects.toBeInstanceOf(ProviderError);
    const image = await r.render(request(1));
    expect(image.imageUrl).toContain(fake.imageHost);
    expect(fake.stats.connections).toBe(1);
  });

  it('re-authenticates on a fresh connection after a task is rejected for its key', async () => {
    const r = renderer();
    fake.enqueue({ fault: 'invalidApiKey' });
    await expect(r.render(request())).rejects.toMatchObject({ retryable: false });
    await r.render(request(1));
    expect(fake.stats.connections).toBe(2);
    expect(fake.stats.tasks.authentication).toBe(2);
    expect(logged.lines).toEqual([dropping('Runware rejected the API key for a task')]);
  });

  it('fails the other renders of a key-rejected connection for the same reason, not as retryable', async () => {
    const r = renderer();
    // The first task waits unanswered while the second is rejected for the key; dropping the rejected
    // connection must not make the first look like a transient connection loss (which would be retried).
    fake.enqueue({ fault: 'drop' }, { fault: 'invalidApiKey' });
    const waiting = r.render(request(0)).then(
      () => undefined,
      (err: unknown) => err,
    );
    await pollUntil(
      () => Promise.resolve(fake.stats.imageTasks.length),
      (n) => n === 1,
      2000,
    );
    await expect(r.render(request(1))).rejects.toMatchObject({ retryable: false });
    expect(await waiting).toMatchObject({ retryable: false, message: 'Runware rejected the API key' });
    expect(fake.stats.tasks.imageInference).toBe(2);
    // The waiting render fails for the key as well, without a second drop or log line.
    expect(logged.lines).toEqual([dropping('Runware rejected the API key for a task')]);
  });

  it('times out a dropped task as retryable', async () => {
    fake.enqueue({ fault: 'drop' });
    const error = await renderError(renderer({ timeoutMs: 1000 }));
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/did not return the image within 1 s/);
  }, 10_000);

  it('fails a render whose connection drops as retryable, then reconnects for the next one', async () => {
    const r = renderer();
    fake.enqueue({ fault: 'disconnect', latencyMs: 40 });
    const error = await renderError(r);
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/connection to Runware was lost/);
    expect(logged.lines).toEqual([
      `warn Lost the Runware connection; the SDK reconnects in about 1 s ${CONTEXT}`,
    ]);

    const image = await r.render(request(1));
    expect(image.imageUrl).toContain(fake.imageHost);
    expect(fake.stats.connections).toBe(2);
    expect(fake.stats.imageTasks.map((t) => t.connection)).toEqual([1, 2]);
    expect(logged.lines).toHaveLength(1);
  }, 10_000);

  it('reports an unreachable server as a retryable connection failure', async () => {
    const error = await renderError(renderer({ url: 'ws://127.0.0.1:9', connectTimeoutMs: 500 }));
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/Could not connect to Runware/);
    expect(logged.lines).toEqual([dropping('not connected and authenticated within 500 ms')]);
  });

  it('refuses to render after close()', async () => {
    const r = renderer();
    await r.render(request());
    await r.close();
    const error = await renderError(r);
    expect(error.retryable).toBe(true);
    expect(fake.stats.tasks.imageInference).toBe(1);
    // Our own close is not a lost connection.
    expect(logged.lines).toEqual([]);
  });
});
