import { Logger } from '@nestjs/common';
import { RunwareServer } from '@runware/sdk-js';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '../../config/app-config';
import { ImageRenderer, RenderedImage } from '../image-renderer';
import { PortraitRenderRequest, SceneRenderRequest } from '../../domain/jobs';
import { MediaType } from '../../domain/session.model';
import { MEDIA_PRESETS } from '../media-presets';
import { ProviderError } from '../provider-error';
import { apiErrorOf, connectTimeoutError, isKeyError, mapRunwareError, timeoutError } from './runware-errors';
import {
  describeRefusal,
  isImageUUID,
  IpAdapter,
  isReferenceRefusal,
  ReferenceParams,
  referenceImageModel,
  referenceParameterFor,
  referenceParams,
  RunwareReferenceParameter,
  usableReferences,
} from './runware-references';
import {
  connectionError,
  dropListener,
  forgetTask,
  isAuthenticated,
  shutdown,
  socketOf,
} from './runware-sdk-internals';

/** How long a model's refusal of references is taken as its answer for the next scenes. */
const REFUSAL_MEMORY_MS = 10 * 60_000;
/** Extra time past `timeoutMs` before our own backstop fires, should the SDK never settle. */
const BACKSTOP_MS = 2_000;
const CONNECT_POLL_MS = 25;
/**
 * Cast portraits are full-figure character sheets: 3:4 upright, in multiples of 64 as Runware requires, and
 * about as many pixels as the presets' scenes (0.6–1 MP). RUNWARE_WIDTH/HEIGHT size scenes, not portraits.
 */
const PORTRAIT_SIZE = { width: 768, height: 1024 };

/**
 * Renders one image per call through Runware's WebSocket API with @runware/sdk-js, pinned to the exact
 * version in package.json because it reads the SDK's undocumented fields (all in runware-sdk-internals.ts).
 *
 * SDK facts this class is built on (from the SDK's bundled source, dist/index.cjs.map):
 * - In Node `Runware` is `RunwareServer`, whose constructor connects immediately and authenticates on open;
 *   it reconnects by itself 1 s after a close (unless the key was rejected). So the instance is created
 *   lazily, on the first render, and then shared by every render of the process.
 * - `ensureConnection()` waits up to 60 s and leaves intervals running when it gives up, so instead we poll
 *   the SDK's connection state for at most `connectTimeoutMs`.
 * - `imageInference` resolves only on the SDK's internal 100 ms poll, while `onPartialImages` is called as
 *   soon as the result frame arrives (and with the error object when the task fails), so we settle on
 *   whichever comes first.
 * - `globalMaxRetries: 1` means one attempt (its retry loop decrements before retrying) but, unlike 0, it
 *   removes the task's listener after a timeout. Retries belong to the job queue.
 * - A socket that drops mid-task is only noticed by the SDK when the response timeout expires; we watch the
 *   socket's `close` event to fail such a render at once.
 * - `referenceImages` and `ipAdapters` go into the task as given (the SDK uploads only `seedImage`,
 *   `maskImage` and ControlNet guide images), so references must already be something Runware can fetch:
 *   see runware-references.ts.
 */
export class RunwareImageRenderer implements ImageRenderer {
  readonly name = 'runware';
  private readonly logger = new Logger(RunwareImageRenderer.name);
  private readonly apiKey: string;
  private sdk: RunwareServer | null = null;
  /** When `sdk` was created: it is dropped for not authenticating only once its own time is up. */
  private sdkCreatedAt = 0;
  private closed = false;
  /** Connections dropped because Runware rejected the key, with that rejection. */
  private readonly keyRejected = new WeakMap<RunwareServer, unknown>();
  /** Sockets whose loss is logged; the SDK opens a new one on each reconnect. */
  private readonly watchedSockets = new WeakSet<object>();
  /**
   * Models that refused a reference parameter lately, with what Runware said: their scenes go straight to
   * text-only rendering (each with the same warning) instead of a task that is sure to be refused again.
   */
  private readonly refusals = new Map<string, { until: number; description: string }>();

  constructor(private readonly config: AppConfig['runware']) {
    if (!config.apiKey) throw new Error('RUNWARE_API_KEY is required for the Runware image renderer');
    this.apiKey = config.apiKey;
  }

  /**
   * Renders a scene, from the portraits of its cast when it has them and references are not off. When the
   * model refuses the references, renders it once more from text alone and says what Runware answered.
   */
  async render(request: SceneRenderRequest): Promise<RenderedImage> {
    const model = this.modelFor(request.mediaType);
    const preset = MEDIA_PRESETS[request.mediaType];
    const params: InferenceParams = {
      ...this.commonParams(request, model),
      width: this.config.widthOverride ?? preset.width,
      height: this.config.heightOverride ?? preset.height,
    };
    const references = this.referencesFor(request, model);
    if (!references) return rendered(await this.runTask(params), request.seed, model, null);
    const refusalKey = `${model}|${references.parameter}`;
    const refused = this.refusals.get(refusalKey);
    if (refused && refused.until > Date.now()) {
      const image = await this.runTask(params);
      return { ...rendered(image, request.seed, model, null), referencesRefused: refused.description };
    }
    try {
      const image = await this.runTask({ ...params, ...references.params });
      return {
        ...rendered(image, request.seed, model, references.parameter),
        referencesUsed: references.names,
      };
    } catch (err) {
      if (!(err instanceof ReferencesRefused)) throw err;
      this.refusals.set(refusalKey, { until: Date.now() + REFUSAL_MEMORY_MS, description: err.description });
      this.logger.warn(
        `Runware refused the references of scene ${request.sceneIndex} (${err.description}); rendering it from text alone`,
      );
      const image = await this.runTask(params);
      return { ...rendered(image, request.seed, model, null), referencesRefused: err.description };
    }
  }

  /** Renders a cast member's portrait: upright, in the media type's model and style, without references. */
  async renderPortrait(request: PortraitRenderRequest): Promise<RenderedImage> {
    const model = this.modelFor(request.mediaType);
    const image = await this.runTask({ ...this.commonParams(request, model), ...PORTRAIT_SIZE });
    return rendered(image, request.seed, model, null);
  }

  /** Closes the WebSocket for good (graceful shutdown); later renders fail with a retryable error. */
  async close(): Promise<void> {
    this.closed = true;
    const sdk = this.sdk;
    this.sdk = null;
    if (sdk) await shutdown(sdk);
  }

  /** One `imageInference` task on the shared connection; fails with a ProviderError or ReferencesRefused. */
  private async runTask(params: InferenceParams): Promise<RunwareImage> {
    const sdk = await this.session();
    const taskUUID = randomUUID();
    try {
      return await this.infer(sdk, taskUUID, params);
    } catch (err) {
      forgetTask(sdk, taskUUID);
      if (err instanceof ReferencesRefused) throw err;
      throw mapRunwareError(err, this.config.timeoutMs, this.apiKey);
    }
  }

  private infer(sdk: RunwareServer, taskUUID: string, params: InferenceParams): Promise<RunwareImage> {
    const { timeoutMs } = this.config;
    const refusable = Boolean(params.referenceImages?.length || params.ipAdapters?.length);
    return new Promise<RunwareImage>((resolve, reject) => {
      let settled = false;
      const socket = socketOf(sdk);
      const settle = (outcome: RunwareImage | ProviderError | ReferencesRefused): void => {
        if (settled) return;
        settled = true;
        clearTimeout(backstop);
        socket?.off('close', onClose);
        if (outcome instanceof ProviderError || outcome instanceof ReferencesRefused) reject(outcome);
        else resolve(outcome);
      };
      // Closed by us after a key rejection, every task on the connection shares that fate: failing them
      // as "connection lost" would retry each once on a new connection only to be rejected again.
      const onClose = () => {
        const rejection = this.keyRejected.get(sdk);
        settle(
          rejection !== undefined
            ? mapRunwareError(rejection, timeoutMs, this.apiKey)
            : new ProviderError('The connection to Runware was lost while rendering', true),
        );
      };
      const fail = (raw: unknown): void => {
        if (settled) return;
        // A key revoked mid-session fails every later task too; re-authenticate from a fresh instance.
        const api = apiErrorOf(raw);
        if (api && isKeyError(api)) {
          this.keyRejected.set(sdk, raw);
          this.discard(sdk, 'Runware rejected the API key for a task');
        }
        // Checked only when the task carried references: the caller renders it again without them.
        if (api && refusable && isReferenceRefusal(api)) {
          settle(new ReferencesRefused(describeRefusal(api, this.apiKey)));
        } else settle(mapRunwareError(raw, timeoutMs, this.apiKey));
      };
      const backstop = setTimeout(() => settle(timeoutError(timeoutMs)), timeoutMs + BACKSTOP_MS);
      // One listener per in-flight render: hundreds are normal on a busy worker, not a leak.
      if (socket?.getMaxListeners?.() !== 0) socket?.setMaxListeners?.(0);
      socket?.once('close', onClose);

      // Called from inside the SDK's socket message handler: it must never throw.
      const onPartialImages = (images: unknown, error?: unknown): void => {
        try {
          if (error) fail(error);
          else {
            const image = pickImage(images, taskUUID);
            if (image) {
              // The SDK keeps the task's listener until its next 100 ms poll, and calls every listener
              // (with a few allocations each) for every frame: dropping ours now keeps that to one per
              // render in flight. The SDK still finds the image it stores after this callback.
              dropListener(sdk, taskUUID);
              settle(image);
            }
          }
        } catch {
          // ignored: the SDK promise below still settles the render
        }
      };

      // Both outcomes are handled, so the promise that loses the race never becomes an unhandled rejection.
      sdk.imageInference({ ...params, taskUUID, onPartialImages }).then(
        (images) =>
          settle(pickImage(images, taskUUID) ?? new ProviderError('Runware returned no image', true)),
        (err: unknown) => fail(err),
      );
    });
  }

  /** The media type's model, after RUNWARE_MODEL_* overrides. */
  private modelFor(mediaType: MediaType): string {
    return this.config.modelOverrides[mediaType] ?? MEDIA_PRESETS[mediaType].model;
  }

  /** What scenes and portraits share: prompts, model, sampling, seed and output. */
  private commonParams(
    request: SceneRenderRequest | PortraitRenderRequest,
    model: string,
  ): Omit<InferenceParams, 'width' | 'height'> {
    const preset = MEDIA_PRESETS[request.mediaType];
    return {
      positivePrompt: request.prompt,
      negativePrompt: request.negativePrompt ?? preset.negativePrompt,
      model,
      steps: this.config.stepsOverride ?? preset.steps,
      CFGScale: this.config.cfgScaleOverride ?? preset.cfgScale,
      seed: request.seed,
      numberResults: 1,
      outputType: 'URL',
      outputFormat: this.config.outputFormat,
    };
  }

  /** The scene's references as the model takes them; undefined when it is rendered from text alone. */
  private referencesFor(
    request: SceneRenderRequest,
    model: string,
  ): { parameter: RunwareReferenceParameter; params: ReferenceParams; names: string[] } | undefined {
    if (!request.references?.length) return undefined;
    const parameter = referenceParameterFor(this.config.referenceMode, model);
    if (!parameter) return undefined;
    const { usable, dropped } = usableReferences(request.references);
    if (dropped.length > 0) {
      // The pipeline passes back what `reference` returned (a Runware image UUID), so this is a bug upstream.
      this.logger.warn(
        `Not passing the portraits of ${dropped.join(', ')} to scene ${request.sceneIndex}: ` +
          'not a Runware image UUID, https URL or data URI',
      );
    }
    const limit = parameter === 'reference-images' ? referenceImageModel(model)?.maxImages : undefined;
    const sent = limit === undefined ? usable : usable.slice(0, limit);
    if (sent.length < usable.length) {
      const names = sent.map((reference) => reference.name).join(', ');
      this.logger.debug(
        `${model} takes at most ${limit} reference images: scene ${request.sceneIndex} gets those of ` +
          `${names} of its ${usable.length} cast members`,
      );
    }
    if (sent.length === 0) return undefined;
    const images = sent.map((reference) => reference.image);
    return {
      parameter,
      names: sent.map((reference) => reference.name),
      params: referenceParams(parameter, images, {
        model: this.config.ipAdapterModel,
        weight: this.config.ipAdapterWeight,
      }),
    };
  }

  /** The shared SDK instance, once its WebSocket is open and authenticated. */
  private async session(): Promise<RunwareServer> {
    const { connectTimeoutMs } = this.config;
    const deadline = Date.now() + connectTimeoutMs;
    let sdk = this.shared();
    for (;;) {
      const rejection = connectionError(sdk);
      if (apiErrorOf(rejection)) {
        // The SDK will not reconnect after a rejected key; start from a fresh instance next time.
        this.keyRejected.set(sdk, rejection);
        this.discard(sdk, 'Runware rejected the API key at authentication');
      }
      // Dropped while this render waited for it to authenticate (the instance never comes back): for a
      // rejected key this render fails as the renders in flight on it did; after another render's connect
      // timeout, it waits on the instance that replaced it for what is left of its own.
      const keyRejection = this.keyRejected.get(sdk);
      if (keyRejection !== undefined) throw mapRunwareError(keyRejection, this.config.timeoutMs, this.apiKey);
      if (this.sdk !== sdk) {
        if (Date.now() >= deadline) throw connectTimeoutError(connectTimeoutMs);
        sdk = this.shared();
        continue;
      }
      if (isAuthenticated(sdk)) {
        this.watchForLoss(sdk);
        return sdk;
      }
      if (Date.now() >= deadline) {
        // A socket that opened but never authenticated would not recover by itself. One opened after this
        // render began (another render gave up on the one before) has not had its time yet: it stays for
        // the renders still waiting on it.
        if (Date.now() - this.sdkCreatedAt >= connectTimeoutMs)
          this.discard(sdk, `not connected and authenticated within ${connectTimeoutMs} ms`);
        throw connectTimeoutError(connectTimeoutMs);
      }
      await new Promise((resolve) => setTimeout(resolve, CONNECT_POLL_MS));
    }
  }

  /** The instance every render shares, created on first use (and after a drop). */
  private shared(): RunwareServer {
    if (this.closed) throw new ProviderError('The Runware renderer is shutting down', true);
    if (!this.sdk) {
      this.sdk = this.createSdk();
      this.sdkCreatedAt = Date.now();
    }
    return this.sdk;
  }

  private createSdk(): RunwareServer {
    return new RunwareServer({
      apiKey: this.apiKey,
      url: this.config.url,
      shouldReconnect: true,
      globalMaxRetries: 1,
      timeoutDuration: this.config.timeoutMs,
      enableLogging: false,
    });
  }

  /**
   * Logs a loss of the connection the SDK will reconnect by itself, so that renders failing as "connection
   * lost" have a cause in the log. Closes we make (discard, close) are not losses: `this.sdk` has moved on.
   */
  private watchForLoss(sdk: RunwareServer): void {
    const socket = socketOf(sdk);
    if (!socket || this.watchedSockets.has(socket)) return;
    this.watchedSockets.add(socket);
    socket.once('close', () => {
      if (this.sdk === sdk) this.logger.warn('Lost the Runware connection; the SDK reconnects in about 1 s');
    });
  }

  /** Stops using a connection that cannot recover; the next render opens a fresh one. */
  private discard(sdk: RunwareServer, reason: string): void {
    // Renders waiting on the same rejected connection all come here: only the first closes and logs.
    if (this.sdk !== sdk) return;
    this.sdk = null;
    this.logger.warn(`Dropping the Runware connection (${reason}); the next render opens a new one`);
    void shutdown(sdk);
  }
}

type InferenceParams = {
  positivePrompt: string;
  negativePrompt: string;
  model: string;
  width: number;
  height: number;
  steps: number;
  CFGScale: number;
  seed: number;
  numberResults: number;
  outputType: 'URL';
  outputFormat: 'PNG' | 'JPG' | 'WEBP';
  referenceImages?: string[];
  ipAdapters?: IpAdapter[];
};

interface RunwareImage {
  imageURL: string;
  imageUUID: string | undefined;
  seed: number | undefined;
}

/** A task Runware failed because the model does not take its references; `description` is secret-free. */
class ReferencesRefused extends Error {
  constructor(readonly description: string) {
    super(`Runware refused the references: ${description}`);
    this.name = 'ReferencesRefused';
  }
}

function rendered(
  image: RunwareImage,
  seed: number,
  model: string,
  referenceMode: RunwareReferenceParameter | null,
): RenderedImage {
  return {
    imageUrl: image.imageURL,
    source: { kind: 'remote', url: image.imageURL },
    seed: image.seed ?? seed,
    model,
    // Runware takes its own images back by UUID; its https URL will do when a result has no UUID.
    reference: image.imageUUID ?? (/^https:\/\//i.test(image.imageURL) ? image.imageURL : undefined),
    referenceMode,
  };
}

/** The first image of this task with an http(s) URL, from the SDK's (untyped at runtime) image list. */
function pickImage(images: unknown, taskUUID: string): RunwareImage | undefined {
  if (!Array.isArray(images)) return undefined;
  for (const image of images as unknown[]) {
    if (typeof image !== 'object' || image === null) continue;
    const { imageURL, imageUUID, seed, taskUUID: owner } = image as Record<string, unknown>;
    if (owner !== undefined && owner !== taskUUID) continue;
    if (typeof imageURL !== 'string' || !/^https?:\/\//i.test(imageURL)) continue;
    return {
      imageURL,
      imageUUID: typeof imageUUID === 'string' && isImageUUID(imageUUID) ? imageUUID : undefined,
      seed: typeof seed === 'number' && Number.isFinite(seed) ? seed : undefined,
    };
  }
  return undefined;
}
