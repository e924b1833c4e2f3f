import { Logger } from '@nestjs/common';
import { AppConfig } from '../../src/config/app-config';
import { PortraitReference, PortraitRenderRequest, SceneRenderRequest } from '../../src/domain/jobs';
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
    referenceMode: 'auto',
    ipAdapterModel: 'runware:105@1',
    ipAdapterWeight: 0.6,
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

  it('fails a render still waiting to authenticate when a task on the same connection is rejected for the key', async () => {
    const r = renderer({ connectTimeoutMs: 3000 });
    // Both renders wait for a slow authentication; the first to see it sends its task, which is rejected for
    // the key, and the connection is dropped. The other must fail for the key as well, at once: waiting on
    // the dropped connection used to end only at the connect timeout, as a retryable error.
    fake.set({ authLatencyMs: 100, fault: 'invalidApiKey' });
    const first = providerErrorOf(r.render(request(0)));
    // Half a connection poll (25 ms) apart, so that they do not both see the authentication at once (should
    // a stalled event loop let them, both send tasks and fail in flight, which passes without the path).
    await new Promise((resolve) => setTimeout(resolve, 12));
    const second = providerErrorOf(r.render(request(1)));
    const started = Date.now();
    const errors = await Promise.all([first, second]);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(errors.map((e) => [e.retryable, e.message])).toEqual([
      [false, 'Runware rejected the API key'],
      [false, 'Runware rejected the API key'],
    ]);
    expect(fake.stats.connections).toBe(1);
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

  it('drops a connection that does not authenticate once per connect timeout, not once per waiting render', async () => {
    const r = renderer({ connectTimeoutMs: 300 });
    fake.set({ authLatencyMs: 5000 });
    const first = providerErrorOf(r.render(request(0)));
    await new Promise((resolve) => setTimeout(resolve, 150));
    const second = providerErrorOf(r.render(request(1)));
    const errors = await Promise.all([first, second]);
    expect(errors.map((e) => [e.retryable, e.message])).toEqual([
      [true, expect.stringMatching(/Could not connect to Runware/)],
      [true, expect.stringMatching(/Could not connect to Runware/)],
    ]);
    // The first render's timeout drops the first connection. The second render then waits on the one that
    // replaced it, which has not had its 300 ms when the second render's own time is up, and so stays.
    expect(fake.stats.connections).toBeLessThanOrEqual(2);
    expect(logged.lines).toEqual([dropping('not connected and authenticated within 300 ms')]);
  });

  it('fails a render still waiting to authenticate at close() at once, as retryable', async () => {
    const r = renderer({ connectTimeoutMs: 3000 });
    fake.set({ authLatencyMs: 500 });
    const waiting = providerErrorOf(r.render(request()));
    await pollUntil(
      () => Promise.resolve(fake.stats.tasks.authentication ?? 0),
      (n) => n === 1,
      2000,
    );
    const closing = Date.now();
    await r.close();
    const error = await waiting;
    expect(Date.now() - closing).toBeLessThan(400);
    expect(error).toMatchObject({ retryable: true, message: expect.stringMatching(/shutting down/) });
    expect(fake.stats.tasks.imageInference ?? 0).toBe(0);
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

describe('RunwareImageRenderer with cast portraits', () => {
  // Image UUIDs as Runware returns them for the portraits; the pipeline passes them back as references.
  const mara: PortraitReference = { name: 'Mara', image: '3f1c8a52-9d4e-4b7a-8c21-5e6f7a8b9c0d', seed: 11 };
  const tobin: PortraitReference = { name: 'Tobin', image: 'a0b1c2d3-e4f5-4a6b-9c8d-7e6f5a4b3c2d', seed: 12 };
  const wren: PortraitReference = {
    name: 'Wren',
    image: 'https://im.runware.ai/image/ws/2/ii/wren.png',
    seed: 13,
  };

  const scene = (references?: PortraitReference[], sceneIndex = 0): SceneRenderRequest => ({
    ...request(sceneIndex),
    references,
  });
  const portrait: PortraitRenderRequest = {
    sessionId: 'session-1',
    castIndex: 0,
    name: 'Mara',
    description: 'a wiry girl of twelve, cropped red hair, green oilskin coat',
    prompt: 'Cinematic film still. Character sheet, full figure, neutral pose: Mara, a wiry girl of twelve',
    negativePrompt: null,
    mediaType: 'cinematic',
    seed: 424242,
  };
  const lastTask = () => fake.stats.imageTasks[fake.stats.imageTasks.length - 1];

  it('renders a portrait upright in the media type model, without references, returning its image UUID', async () => {
    const image = await renderer().renderPortrait(portrait);

    const [task] = fake.stats.imageTasks;
    expect(task).toMatchObject({
      positivePrompt: portrait.prompt,
      seed: 424242,
      model: 'runware:101@1',
      width: 768,
      height: 1024,
      referenceImages: undefined,
      ipAdapters: undefined,
    });
    expect(image.reference).toBe(task.imageUUIDs[0]);
    expect(image).toMatchObject({ referenceMode: null, seed: 424242, model: 'runware:101@1' });
    expect(image.source).toEqual({ kind: 'remote', url: image.imageUrl });
    expect(new URL(image.imageUrl).host).toBe(fake.imageHost);
    expect(logged.lines).toEqual([]);
  });

  it("renders a scene from a portrait's returned reference, as an IP-Adapter of the preset's FLUX.1 dev", async () => {
    const r = renderer();
    const face = await r.renderPortrait(portrait);
    const image = await r.render(scene([{ name: 'Mara', image: face.reference!, seed: portrait.seed }]));

    expect(lastTask().ipAdapters).toEqual([
      { model: 'runware:105@1', weight: 0.6, guideImage: face.reference },
    ]);
    expect(lastTask().referenceImages).toBeUndefined();
    expect(image.referenceMode).toBe('ip-adapters');
    expect(image.reference).toBe(lastTask().imageUUIDs[0]);
    expect(image.referencesRefused).toBeUndefined();
  });

  it('passes every portrait as an IP-Adapter with the configured model and weight', async () => {
    const image = await renderer({
      referenceMode: 'ip-adapters',
      ipAdapterModel: 'runware:55@1',
      ipAdapterWeight: 0.35,
    }).render(scene([mara, tobin, wren]));

    expect(lastTask().ipAdapters).toEqual(
      [mara, tobin, wren].map((ref) => ({ model: 'runware:55@1', weight: 0.35, guideImage: ref.image })),
    );
    expect(lastTask().referenceImages).toBeUndefined();
    expect(image.referenceMode).toBe('ip-adapters');
  });

  it('passes the portraits as referenceImages in reference-images mode, whatever the model', async () => {
    const image = await renderer({ referenceMode: 'reference-images' }).render(scene([mara, wren]));

    expect(lastTask()).toMatchObject({ model: 'runware:101@1', referenceImages: [mara.image, wren.image] });
    expect(lastTask().ipAdapters).toBeUndefined();
    expect(image.referenceMode).toBe('reference-images');
  });

  it.each(['runware:106@1', 'bfl:3@1', 'BFL:4@1'])(
    'picks referenceImages in auto mode for the FLUX.1 Kontext model %s set by RUNWARE_MODEL_*',
    async (kontext) => {
      const image = await renderer({ modelOverrides: { cinematic: kontext } }).render(scene([mara]));

      expect(lastTask()).toMatchObject({ model: kontext, referenceImages: [mara.image] });
      expect(lastTask().ipAdapters).toBeUndefined();
      expect(image.referenceMode).toBe('reference-images');
    },
  );

  it('picks IP-Adapters in auto mode for a model not known to take referenceImages', async () => {
    const image = await renderer({ modelOverrides: { cinematic: 'civitai:4384@128713' } }).render(
      scene([mara]),
    );
    expect(lastTask().ipAdapters).toEqual([{ model: 'runware:105@1', weight: 0.6, guideImage: mara.image }]);
    expect(image.referenceMode).toBe('ip-adapters');
  });

  it('sends FLUX.1 Kontext at most the two reference images it takes, the first ones', async () => {
    const image = await renderer({ modelOverrides: { cinematic: 'runware:106@1' } }).render(
      scene([mara, tobin, wren], 3),
    );
    expect(lastTask().referenceImages).toEqual([mara.image, tobin.image]);
    expect(image.referenceMode).toBe('reference-images');
    // What the scene records as rendered from: the two sent, not the three asked for.
    expect(image.referencesUsed).toEqual(['Mara', 'Tobin']);
    expect(logged.lines).toEqual([
      `debug runware:106@1 takes at most 2 reference images: scene 3 gets those of Mara, Tobin of its 3 cast members ${CONTEXT}`,
    ]);
  });

  it('sends no references when RUNWARE_REFERENCE_MODE is off', async () => {
    const image = await renderer({ referenceMode: 'off' }).render(scene([mara, tobin]));
    expect(lastTask()).toMatchObject({ referenceImages: undefined, ipAdapters: undefined });
    expect(image.referenceMode).toBeNull();
    expect(image.reference).toBe(lastTask().imageUUIDs[0]);
  });

  it('renders a scene without cast (or with an empty one) from text alone', async () => {
    const r = renderer();
    const images = [await r.render(scene()), await r.render(scene([]))];
    for (const task of fake.stats.imageTasks) {
      expect(task).toMatchObject({
        referenceImages: undefined,
        ipAdapters: undefined,
        width: 1024,
        height: 576,
      });
    }
    expect(images.map((i) => i.referenceMode)).toEqual([null, null]);
  });

  it('drops references Runware could not take (paths, plain-http or credentialed URLs), keeping the rest', async () => {
    const dataUri =
      'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
    const image = await renderer({ referenceMode: 'reference-images' }).render(
      scene(
        [
          { name: 'Ada', image: 'http://localhost:3000/v1/sessions/s/cast/ada.png', seed: 1 },
          mara,
          { name: 'Bo', image: 'sessions/s/cast/bo.png', seed: 2 },
          { name: 'Cy', image: 'https://user:pw@im.runware.ai/cy.png', seed: 3 },
          wren,
          { name: 'Di', image: dataUri, seed: 4 },
        ],
        2,
      ),
    );

    expect(lastTask().referenceImages).toEqual([mara.image, wren.image, dataUri]);
    expect(image.referenceMode).toBe('reference-images');
    expect(logged.lines).toEqual([
      `warn Not passing the portraits of Ada, Bo, Cy to scene 2: not a Runware image UUID, https URL or data URI ${CONTEXT}`,
    ]);
  });

  it('renders from text alone when none of the references is usable', async () => {
    const image = await renderer().render(scene([{ name: 'Ada', image: 'cast/ada.png', seed: 1 }]));
    expect(lastTask()).toMatchObject({ referenceImages: undefined, ipAdapters: undefined });
    expect(image.referenceMode).toBeNull();
  });

  it.each([
    ['ip-adapters', 'ip-adapters', 'ipAdapters'],
    ['reference-images', 'reference-images', 'referenceImages'],
    ['ip-adapters', 'both', 'ipAdapters'],
  ] as const)(
    'renders again once without references when the model refuses %s (fake refusing %s)',
    async (referenceMode, refuseReferences, parameter) => {
      fake.set({ refuseReferences });
      const image = await renderer({ referenceMode }).render(scene([mara, tobin], 4));

      const [refused, retried] = fake.stats.imageTasks;
      expect(fake.stats.imageTasks).toHaveLength(2);
      expect(refused[parameter]).toHaveLength(2);
      expect(refused.imageUUIDs).toEqual([]);
      expect(retried).toMatchObject({ referenceImages: undefined, ipAdapters: undefined, seed: 424242 });
      expect(retried.positivePrompt).toBe(refused.positivePrompt);
      expect(fake.stats.referencesRefused).toBe(1);
      expect(image.referenceMode).toBeNull();
      expect(image.reference).toBe(retried.imageUUIDs[0]);
      expect(image.referencesRefused).toMatch(
        new RegExp(`^invalid\\w+ \\(${parameter}\\): Invalid value for ${parameter}`),
      );
      expect(logged.lines).toEqual([
        `warn Runware refused the references of scene 4 (${image.referencesRefused}); rendering it from text alone ${CONTEXT}`,
      ]);
    },
  );

  it('remembers a refusal: the next scenes of that model go straight to text, with the same warning', async () => {
    fake.set({ refuseReferences: 'ip-adapters' });
    const r = renderer({ referenceMode: 'ip-adapters', modelOverrides: { cartoon: 'runware:100@1' } });
    const first = await r.render(scene([mara], 1));
    const second = await r.render(scene([mara, tobin], 2));
    // One refused task, then one text-only task per scene: three in all, not four.
    expect(fake.stats.imageTasks.map((task) => Array.isArray(task.ipAdapters))).toEqual([true, false, false]);
    expect(fake.stats.referencesRefused).toBe(1);
    expect(second.referencesRefused).toBe(first.referencesRefused);
    expect(second.referenceMode).toBeNull();
    // Another model has not refused anything yet: its scene is tried with the portraits (then refused too).
    await r.render({ ...scene([mara], 3), mediaType: 'cartoon' });
    expect(
      fake.stats.imageTasks.slice(3).map((task) => [task.model, Array.isArray(task.ipAdapters)]),
    ).toEqual([
      ['runware:100@1', true],
      ['runware:100@1', false],
    ]);
  });

  it('does not refuse what the model takes: a fake refusing IP-Adapters renders referenceImages', async () => {
    fake.set({ refuseReferences: 'ip-adapters' });
    const image = await renderer({ referenceMode: 'reference-images' }).render(scene([mara]));
    expect(fake.stats.imageTasks).toHaveLength(1);
    expect(image.referenceMode).toBe('reference-images');
    expect(image.referencesRefused).toBeUndefined();
  });

  it('treats an "unsupported" error naming no parameter as a refusal, and says so without secrets', async () => {
    fake.enqueue({
      error: {
        code: 'unsupportedFeature',
        message: `This feature is not supported for the selected model (key ${KEY}). See https://ops:hunter2@docs.example.com/models?token=abc#ip`,
      },
    });
    const image = await renderer().render(scene([mara]));

    expect(fake.stats.imageTasks).toHaveLength(2);
    expect(image.referencesRefused).toBe(
      'unsupportedFeature: This feature is not supported for the selected model (key [redacted]). See https://docs.example.com/models',
    );
    for (const secret of [KEY, 'hunter2', 'ops:', 'token'])
      expect(image.referencesRefused).not.toContain(secret);
  });

  it('fails as before when the error names another parameter, without rendering again', async () => {
    fake.enqueue({ fault: 'invalidParameter' });
    const error = await providerErrorOf(renderer().render(scene([mara])));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/rejected the request parameters \(width\)/);
    expect(fake.stats.imageTasks).toHaveLength(1);
  });

  it.each([
    ['providerError', true, /model provider timed out/],
    ['insufficientCredits', false, /insufficient credit/],
    ['invalidApiKey', false, /^Runware rejected the API key$/],
  ] as const)(
    'fails a %s of a task with references as before (retryable=%s)',
    async (fault, retryable, message) => {
      fake.enqueue({ fault });
      const error = await providerErrorOf(renderer().render(scene([mara])));
      expect(error).toMatchObject({ retryable });
      expect(error.message).toMatch(message);
      expect(fake.stats.imageTasks).toHaveLength(1);
    },
  );

  it("reports the text-only render's own failure as usual after a refusal", async () => {
    fake.enqueue({ refuseReferences: 'ip-adapters' }, { fault: 'providerError' });
    const error = await providerErrorOf(renderer().render(scene([mara])));
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/model provider timed out \(timeoutProvider\)/);
    expect(fake.stats.imageTasks).toHaveLength(2);
    expect(fake.stats.imageTasks[1]).toMatchObject({ ipAdapters: undefined });
  });
});
