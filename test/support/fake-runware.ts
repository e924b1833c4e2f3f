import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { behaviourControl } from './fake-behaviour';
import { RawData, WebSocket, WebSocketServer } from 'ws';
import { FakeImageFormat, FakeImageHost, startFakeImageHost } from './fake-images';
import { seededRandom } from '../../src/providers/offline/seeded-random';

/**
 * A local stand-in for Runware's WebSocket task API (https://runware.ai/docs/platform/errors and the
 * @runware/sdk-js client): the client sends JSON arrays of tasks; the server answers `{"data": [...]}` or
 * `{"errors": [{code, message, parameter?, taskType, taskUUID?}]}`, one error per frame (the SDK only
 * reads the first error of a frame). Image URLs point at a separate HTTP server serving real image bytes
 * (`images`, a fake image host whose answers can be faulted too).
 */

export type FakeRunwareFault =
  | 'invalidApiKey' // the task fails with invalidApiKey
  | 'insufficientCredits' // the task fails for lack of credit (the real code is not documented)
  | 'providerError' // a retryable provider failure (timeoutProvider)
  | 'invalidParameter' // invalidWidth, with parameter/min/max like the real API
  | 'drop' // never answer the task
  | 'disconnect'; // close the socket while the task runs

export interface FakeRunwareBehaviour {
  /** Time before an image result is sent. */
  latencyMs: number;
  /** Time before an authentication is answered (accepted or refused). */
  authLatencyMs?: number;
  fault?: FakeRunwareFault;
  /** A custom error for the task, instead of a named fault. */
  error?: { code: string; message: string; parameter?: string };
  /** Random faults per task: errors are providerError. */
  faults?: { errorRate?: number; dropRate?: number; disconnectRate?: number };
  /** host:port the task's image URLs point at, instead of `imageHost` (another server, or a name for it). */
  imageHost?: string;
  /**
   * An outage: until this time (epoch ms) every valid imageInference task fails with a retryable provider
   * error (authentication still works), counted in `stats.injected.outage`.
   */
  outageUntil?: number;
  /**
   * Refuse image references, as Runware refuses a parameter the model does not take: a task carrying a
   * refused (non-empty) `referenceImages` or `ipAdapters` fails at once with an error naming the parameter,
   * counted in `stats.referencesRefused`. Tasks without them render as usual.
   */
  refuseReferences?: FakeReferenceParameter | 'both';
}

/** Runware's two ways of passing image references, as RUNWARE_REFERENCE_MODE names them. */
export type FakeReferenceParameter = 'reference-images' | 'ip-adapters';

/** One imageInference task as the fake received it. */
export interface FakeImageTask {
  taskUUID: string;
  /** The connection (1-based, in accept order) that sent it. */
  connection: number;
  positivePrompt: unknown;
  seed: unknown;
  model: unknown;
  width: unknown;
  height: unknown;
  /** As sent; undefined when the task had none. */
  referenceImages: unknown;
  /** As sent (`[{model, weight, guideImage}]`); undefined when the task had none. */
  ipAdapters: unknown;
  /** The `imageUUID`s of the images sent back for it: empty until it is answered, and when it failed. */
  imageUUIDs: string[];
  at: number;
}

export interface FakeRunwareOptions {
  /** WebSocket port (0 = random). */
  port?: number;
  /** Image HTTP port (0 = random). */
  imagePort?: number;
  /** The API key the authentication task must carry; any key is accepted when unset. */
  apiKey?: string;
  behaviour?: Partial<FakeRunwareBehaviour>;
  /** Approximate size of served images (noise images), e.g. 2_000_000 for benchmarks. Default: 64×64. */
  imageBytes?: number;
  /** Seed for fault injection. */
  seed?: number;
}

export interface FakeRunwareStats {
  /** WebSocket connections accepted so far. */
  connections: number;
  /** Tasks received, by taskType (authentication, ping, imageInference…). */
  tasks: Record<string, number>;
  /** Every imageInference task, in the order received. */
  imageTasks: FakeImageTask[];
  /** Random faults injected so far, by kind (drop, disconnect, providerError), and tasks failed by an outage. */
  injected: Record<string, number>;
  /** Tasks failed by `refuseReferences`. */
  referencesRefused: number;
}

export interface FakeRunware {
  /** As RUNWARE_URL. */
  wsUrl: string;
  /** host:port of the image server, for IMAGE_DOWNLOAD_ALLOWED_HOSTS. */
  imageHost: string;
  /** The image server itself: request counts and faults per image path. */
  images: FakeImageHost;
  stats: FakeRunwareStats;
  set(behaviour: Partial<FakeRunwareBehaviour>): void;
  /** One-shot behaviours for the next imageInference tasks, in order. */
  enqueue(...behaviours: Partial<FakeRunwareBehaviour>[]): void;
  reset(): void;
  close(): Promise<void>;
}

type Task = Record<string, unknown>;

const FORMATS: Record<string, FakeImageFormat> = { PNG: 'png', JPG: 'jpg', JPEG: 'jpg', WEBP: 'webp' };

export async function startFakeRunware(options: FakeRunwareOptions = {}): Promise<FakeRunware> {
  const behaviours = behaviourControl<FakeRunwareBehaviour>({ latencyMs: 0, ...options.behaviour });
  const stats = emptyStats();
  const timers = new Set<NodeJS.Timeout>();
  const sessions = new Set<string>();
  const random = seededRandom(options.seed ?? Date.now());

  const images = await startFakeImageHost({ port: options.imagePort, imageBytes: options.imageBytes });
  const imageHost = images.host;

  const httpServer = http.createServer((_req, res) => res.writeHead(426).end('WebSocket only'));
  const wss = new WebSocketServer({ server: httpServer });
  await listen(httpServer, options.port ?? 0);
  const wsPort = (httpServer.address() as AddressInfo).port;

  wss.on('connection', (socket) => {
    const connection = ++stats.connections;
    let authenticated = false;
    socket.on('error', () => undefined);
    socket.on('message', (data: RawData) => {
      let tasks: unknown;
      try {
        tasks = JSON.parse(data.toString());
      } catch {
        return send(socket, { errors: [{ code: 'invalidJson', message: 'Invalid JSON' }] });
      }
      for (const task of Array.isArray(tasks) ? tasks : [tasks]) {
        if (typeof task !== 'object' || task === null) continue;
        handleTask(
          socket,
          connection,
          task as Task,
          () => authenticated,
          (value) => (authenticated = value),
        );
      }
    });
  });

  /** Runs `fn` in `ms` if the socket is still open then. */
  function after(socket: WebSocket, ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (socket.readyState === WebSocket.OPEN) fn();
    }, ms);
    timers.add(timer);
  }

  function handleTask(
    socket: WebSocket,
    connection: number,
    task: Task,
    isAuthenticated: () => boolean,
    setAuthenticated: (value: boolean) => void,
  ): void {
    const taskType = typeof task.taskType === 'string' ? task.taskType : 'unknown';
    stats.tasks[taskType] = (stats.tasks[taskType] ?? 0) + 1;
    if (taskType === 'authentication') {
      const answer = () => {
        if (options.apiKey && task.apiKey !== options.apiKey) {
          const message = 'Invalid API key. Get one at https://my.runware.ai/signup';
          return send(socket, {
            errors: [{ code: 'invalidApiKey', message, parameter: 'apiKey', taskType }],
          });
        }
        setAuthenticated(true);
        const known =
          typeof task.connectionSessionUUID === 'string' && sessions.has(task.connectionSessionUUID);
        const connectionSessionUUID = known ? (task.connectionSessionUUID as string) : randomUUID();
        sessions.add(connectionSessionUUID);
        send(socket, { data: [{ taskType, connectionSessionUUID }] });
      };
      const latency = behaviours.standing().authLatencyMs ?? 0;
      return latency > 0 ? after(socket, latency, answer) : answer();
    }
    if (taskType === 'ping') return send(socket, { data: [{ taskType: 'ping', pong: true }] });
    const taskUUID = typeof task.taskUUID === 'string' ? task.taskUUID : undefined;
    if (!isAuthenticated()) {
      return sendError(socket, {
        code: 'notAuthenticated',
        message: 'Authenticate first',
        taskType,
        taskUUID,
      });
    }
    if (taskType !== 'imageInference' || !taskUUID) {
      return sendError(socket, {
        code: 'unsupportedTaskType',
        message: `Unsupported task ${taskType}`,
        taskType,
        taskUUID,
      });
    }
    const record: FakeImageTask = {
      taskUUID,
      connection,
      positivePrompt: task.positivePrompt,
      seed: task.seed,
      model: task.model,
      width: task.width,
      height: task.height,
      referenceImages: task.referenceImages,
      ipAdapters: task.ipAdapters,
      imageUUIDs: [],
      at: Date.now(),
    };
    stats.imageTasks.push(record);
    imageInference(socket, task, record, behaviours.next());
  }

  function imageInference(
    socket: WebSocket,
    task: Task,
    record: FakeImageTask,
    behaviour: FakeRunwareBehaviour,
  ): void {
    const { taskUUID } = record;
    const taskType = 'imageInference';
    const randomly = behaviour.fault || behaviour.error ? undefined : randomFault(behaviour, random);
    const fault = behaviour.fault ?? randomly;
    const prompt = task.positivePrompt;
    if (typeof prompt !== 'string' || prompt.length < 2 || prompt.length > 3000) {
      const message = 'Invalid value for positivePrompt parameter. It must be between 2 and 3000 characters.';
      return sendError(socket, {
        code: 'invalidPositivePrompt',
        message,
        parameter: 'positivePrompt',
        taskType,
        taskUUID,
      });
    }
    const refusal = referenceRefusal(task, behaviour.refuseReferences);
    if (refusal) {
      stats.referencesRefused++;
      return sendError(socket, { ...refusal, taskType, taskUUID });
    }
    if (behaviour.outageUntil !== undefined && Date.now() < behaviour.outageUntil) {
      stats.injected.outage = (stats.injected.outage ?? 0) + 1;
      return after(socket, behaviour.latencyMs, () =>
        sendError(socket, {
          code: 'timeoutProvider',
          message: 'The image provider is unavailable. Please try again later.',
          taskType,
          taskUUID,
        }),
      );
    }
    if (behaviour.error)
      return after(socket, behaviour.latencyMs, () =>
        sendError(socket, { ...behaviour.error, taskType, taskUUID }),
      );
    // Counted here, once the task is valid and no explicit behaviour overrides it: faults actually applied.
    if (randomly) stats.injected[randomly] = (stats.injected[randomly] ?? 0) + 1;
    switch (fault) {
      case 'drop':
        return;
      case 'disconnect':
        return after(socket, Math.floor(behaviour.latencyMs / 2), () => socket.terminate());
      case 'invalidApiKey':
        return sendError(socket, {
          code: 'invalidApiKey',
          message: 'Invalid API key.',
          parameter: 'apiKey',
          taskType,
          taskUUID,
        });
      case 'insufficientCredits':
        return sendError(socket, {
          code: 'insufficientCredits',
          message: 'Insufficient credits to run this task. Add credits at https://my.runware.ai/',
          taskType,
          taskUUID,
        });
      case 'invalidParameter':
        return sendError(socket, {
          code: 'invalidWidth',
          message:
            "Invalid value for 'width' parameter. Image width must be an integer value between 256 and 16383.",
          parameter: 'width',
          type: 'integer',
          min: 256,
          max: 16383,
          documentation: 'https://runware.ai/docs/en/image-inference/api-reference#request-width',
          taskType,
          taskUUID,
        });
      case 'providerError':
        return after(socket, behaviour.latencyMs, () =>
          sendError(socket, {
            code: 'timeoutProvider',
            message: 'The image provider did not respond in time. Please try again.',
            taskType,
            taskUUID,
          }),
        );
    }
    const format = FORMATS[String(task.outputFormat ?? 'PNG').toUpperCase()] ?? 'png';
    const count =
      typeof task.numberResults === 'number' && task.numberResults > 0 ? Math.min(task.numberResults, 20) : 1;
    const seed = typeof task.seed === 'number' ? task.seed : Math.floor(random() * 2 ** 31) + 1;
    after(socket, behaviour.latencyMs, () => {
      const data = Array.from({ length: count }, (_, i) => {
        const imageUUID = randomUUID();
        record.imageUUIDs.push(imageUUID);
        return {
          taskType,
          taskUUID,
          imageUUID,
          imageURL: `http://${behaviour.imageHost ?? imageHost}/image/ws/2/ii/${imageUUID}.${format}`,
          seed: seed + i,
          ...(task.includeCost ? { cost: 0.0013 } : {}),
        };
      });
      send(socket, { data });
    });
  }

  return {
    wsUrl: `ws://127.0.0.1:${wsPort}`,
    imageHost,
    images,
    stats,
    set: behaviours.set,
    enqueue: behaviours.enqueue,
    reset: () => {
      behaviours.reset();
      images.reset();
      Object.assign(stats, emptyStats());
    },
    close: async () => {
      timers.forEach((timer) => clearTimeout(timer));
      timers.clear();
      wss.clients.forEach((client) => client.terminate());
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      httpServer.closeAllConnections();
      await Promise.all([closeServer(httpServer), images.close()]);
    },
  };
}

/**
 * The error of a task whose references the behaviour refuses, shaped like Runware's parameter errors
 * (`invalid<Parameter>` codes, "Invalid value for … parameter." messages, the parameter named, a link to its
 * documentation). The exact code Runware uses for a model that does not take a parameter is not documented.
 */
function referenceRefusal(
  task: Task,
  refuse: FakeRunwareBehaviour['refuseReferences'],
): Record<string, unknown> | undefined {
  if (!refuse) return undefined;
  const refuses = (parameter: FakeReferenceParameter) => refuse === 'both' || refuse === parameter;
  const model = typeof task.model === 'string' ? task.model : 'the selected model';
  const sent = (value: unknown) => Array.isArray(value) && value.length > 0;
  if (refuses('reference-images') && sent(task.referenceImages)) {
    return {
      code: 'invalidReferenceImages',
      message: `Invalid value for referenceImages parameter. The model ${model} does not support reference images.`,
      parameter: 'referenceImages',
      documentation: 'https://runware.ai/docs/en/image-inference/api-reference#request-referenceimages',
    };
  }
  if (refuses('ip-adapters') && sent(task.ipAdapters)) {
    return {
      code: 'invalidIpAdapters',
      message: `Invalid value for ipAdapters parameter. IP-Adapters are not supported for the model ${model}.`,
      parameter: 'ipAdapters',
      documentation: 'https://runware.ai/docs/en/image-inference/api-reference#request-ipadapters',
    };
  }
  return undefined;
}

function randomFault(behaviour: FakeRunwareBehaviour, random: () => number): FakeRunwareFault | undefined {
  const { faults } = behaviour;
  if (!faults) return undefined;
  const roll = random();
  const drop = faults.dropRate ?? 0;
  const disconnect = drop + (faults.disconnectRate ?? 0);
  const error = disconnect + (faults.errorRate ?? 0);
  if (roll < drop) return 'drop';
  if (roll < disconnect) return 'disconnect';
  if (roll < error) return 'providerError';
  return undefined;
}

function send(socket: WebSocket, payload: unknown): void {
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(payload));
}

function sendError(socket: WebSocket, error: Record<string, unknown>): void {
  send(socket, { errors: [error] });
}

function emptyStats(): FakeRunwareStats {
  return { connections: 0, tasks: {}, imageTasks: [], injected: {}, referencesRefused: 0 };
}

function listen(server: http.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
