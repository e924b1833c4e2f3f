import { RunwareServer, SDK_VERSION } from '@runware/sdk-js';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { apiErrorOf, isKeyError } from '../../src/providers/runware/runware-errors';
import {
  CHECKED_SDK_VERSION,
  connectionError,
  dropListener,
  forgetTask,
  isAuthenticated,
  shutdown,
  socketOf,
} from '../../src/providers/runware/runware-sdk-internals';
import { FakeRunware, startFakeRunware } from '../support/fake-runware';
import { pollUntil } from '../support/test-env';

/**
 * The renderer reads undocumented fields of @runware/sdk-js and degrades silently when one is gone (see
 * runware-sdk-internals.ts). These tests drive the real SDK against the fake Runware, so an SDK upgrade
 * that moves or renames one of them fails here, in CI, instead of quietly in production.
 */

const KEY = 'rw-SECRET-TEST-KEY-123';

let fake: FakeRunware;
const sdks: RunwareServer[] = [];

beforeAll(async () => {
  fake = await startFakeRunware({ apiKey: KEY });
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());
afterEach(async () => {
  await Promise.all(sdks.splice(0).map((sdk) => shutdown(sdk)));
});

/** The SDK configured as the renderer configures it. */
function connect(apiKey = KEY): RunwareServer {
  const sdk = new RunwareServer({
    apiKey,
    url: fake.wsUrl,
    shouldReconnect: true,
    globalMaxRetries: 1,
    timeoutDuration: 1000,
    enableLogging: false,
  });
  sdks.push(sdk);
  return sdk;
}

const authenticated = (sdk: RunwareServer) =>
  pollUntil(
    () => Promise.resolve(isAuthenticated(sdk)),
    (ok) => ok,
    3000,
  );

const imageTasksSeen = (n: number) =>
  pollUntil(
    () => Promise.resolve(fake.stats.imageTasks.length),
    (seen) => seen >= n,
    3000,
  );

/** Starts one image task; its outcome is kept, so a rejection is never unhandled. */
function startTask(sdk: RunwareServer, onPartialImages?: (images: unknown) => void) {
  const taskUUID = randomUUID();
  const outcome = sdk
    .imageInference({
      taskUUID,
      positivePrompt: 'a brass lantern',
      model: 'runware:100@1',
      width: 512,
      height: 512,
      numberResults: 1,
      outputType: 'URL',
      onPartialImages,
    })
    .then(
      (images) => ({ images }),
      (error: unknown) => ({ error }),
    );
  return { taskUUID, outcome };
}

const listenerKeys = (sdk: RunwareServer): unknown[] =>
  (sdk._listeners as { key?: unknown }[]).map((listener) => listener.key);

describe('the @runware/sdk-js internals the Runware renderer relies on', () => {
  it('is the exact SDK version they were checked against, pinned in package.json', () => {
    const manifest = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(SDK_VERSION).toBe(CHECKED_SDK_VERSION);
    // A range (^, ~) would let `npm install` move to a version whose internals nobody checked.
    expect(manifest.dependencies['@runware/sdk-js']).toBe(CHECKED_SDK_VERSION);
  });

  it('_ws and _connectionSessionUUID tell when the socket is open and authenticated', async () => {
    const sdk = connect();
    // The constructor only starts connecting.
    expect(isAuthenticated(sdk)).toBe(false);
    await authenticated(sdk);
    expect(socketOf(sdk)?.readyState).toBe(1);
    expect(typeof sdk._connectionSessionUUID).toBe('string');
    expect(connectionError(sdk)).toBeUndefined();
  });

  it('_connectionError holds the rejection of a wrong key, as an API error the renderer recognises', async () => {
    const sdk = connect('rw-SECRET-WRONG-KEY-456');
    const rejection = await pollUntil(
      () => Promise.resolve(connectionError(sdk)),
      (value) => value !== undefined,
      3000,
    );
    const api = apiErrorOf(rejection);
    expect(api && isKeyError(api)).toBe(true);
    expect(isAuthenticated(sdk)).toBe(false);
  });

  it("_ws emits 'close' when the server drops the connection", async () => {
    const sdk = connect();
    await authenticated(sdk);
    const closed = new Promise<void>((resolve) => socketOf(sdk)?.once('close', resolve));
    fake.enqueue({ fault: 'disconnect' });
    const { outcome } = startTask(sdk);
    await closed;
    // The SDK notices the drop only at its response timeout.
    expect(await outcome).toHaveProperty('error');
  });

  it("_listeners holds a task's listener under its taskUUID until dropListener removes it", async () => {
    const sdk = connect();
    await authenticated(sdk);
    fake.enqueue({ fault: 'drop' });
    const { taskUUID, outcome } = startTask(sdk);
    await imageTasksSeen(1);
    expect(listenerKeys(sdk)).toContain(taskUUID);

    dropListener(sdk, taskUUID);
    expect(listenerKeys(sdk)).not.toContain(taskUUID);
    await outcome;
  });

  it('_globalImages keeps an arrived image under its taskUUID until forgetTask removes it', async () => {
    const sdk = connect();
    await authenticated(sdk);
    const seen: { kept: boolean; afterForget: boolean }[] = [];
    const images = (): unknown[] => sdk._globalImages;
    const holds = (uuid: string) =>
      images().some((image) => (image as { taskUUID?: unknown }).taskUUID === uuid);
    const task = startTask(sdk, () =>
      // The SDK stores the image right after this callback and clears it on its next 100 ms poll; the
      // check phase (setImmediate) runs before any timer, so this sees the stored image.
      setImmediate(() => {
        const kept = holds(task.taskUUID);
        forgetTask(sdk, task.taskUUID);
        seen.push({ kept, afterForget: holds(task.taskUUID) });
      }),
    );
    // With the image forgotten, the SDK's own promise waits for it until its response timeout.
    expect(await task.outcome).toHaveProperty('error');
    expect(seen).toEqual([{ kept: true, afterForget: false }]);
  });

  it('clearing _url cancels the reconnect the SDK schedules after a drop', async () => {
    const sdk = connect();
    await authenticated(sdk);
    const closed = new Promise<void>((resolve) => socketOf(sdk)?.once('close', resolve));
    fake.enqueue({ fault: 'disconnect' });
    const { outcome } = startTask(sdk);
    await closed;
    // The SDK has now scheduled a reconnect in 1 s, which disconnect() alone does not cancel.
    await shutdown(sdk);
    // Well past the 1 s reconnect, so a slow machine cannot let a reconnect that was not cancelled slip by.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(fake.stats.connections).toBe(1);
    await outcome;
  });
});
