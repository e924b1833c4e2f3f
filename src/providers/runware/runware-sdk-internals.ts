import { RunwareServer } from '@runware/sdk-js';

/**
 * The @runware/sdk-js version these reads were checked against. The SDK has no public API for any of them,
 * so package.json pins this exact version, and test/providers/runware-sdk-internals.spec.ts fails when
 * the installed SDK is another version or no longer behaves as described below: an upgrade means
 * re-reading the SDK's source (dist/index.cjs.map) and updating this file, the constant and the pin.
 */
export const CHECKED_SDK_VERSION = '1.3.2';

/**
 * Every read or write of the SDK's underscore fields, in one place. Its type declarations list them
 * without `private`, but they are undocumented and typed loosely (`_ws` is `any`), so each use checks the
 * shape at run time and degrades to doing nothing rather than throwing. What each one replaces:
 * - `_ws` (the `ws` WebSocket), `_connectionSessionUUID`, `_connectionError`: connection readiness and a
 *   rejected key, polled for at most our own connect timeout. The public `ensureConnection()` waits up to
 *   60 s and leaves its intervals running when it gives up.
 * - `_ws` 'close' event: a socket that drops mid-task is otherwise noticed only when the task times out.
 * - `_listeners`: the SDK calls every task listener for every frame and drops a finished task's listener
 *   only on its next 100 ms poll; dropping it at once keeps that work to one listener per render in flight
 *   (measured in the per-scene bench; see git log -S dropListener).
 * - `_globalImages`: an image arriving after its task failed would stay there for the process's life.
 * - `_url`: clearing it is the only way to cancel a reconnect the SDK already scheduled before
 *   `disconnect()` (its `connect()` returns early without a URL).
 */

interface SocketLike {
  readyState: number;
  once(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
  getMaxListeners?(): number;
  setMaxListeners?(n: number): unknown;
}

const OPEN = 1;

/** The SDK's current socket, when it looks like a `ws` WebSocket. */
export function socketOf(sdk: RunwareServer): SocketLike | undefined {
  const ws: unknown = sdk._ws;
  if (typeof ws !== 'object' || ws === null) return undefined;
  const { readyState, once, off } = ws as Partial<SocketLike>;
  if (typeof once !== 'function' || typeof off !== 'function') return undefined;
  return typeof readyState === 'number' ? (ws as SocketLike) : undefined;
}

/** The socket is open and Runware has accepted the key on it. */
export function isAuthenticated(sdk: RunwareServer): boolean {
  return socketOf(sdk)?.readyState === OPEN && Boolean(sdk._connectionSessionUUID);
}

/** What Runware answered to the last rejected authentication (the SDK's error object), if any. */
export function connectionError(sdk: RunwareServer): unknown {
  return sdk._connectionError;
}

/** Removes the task's response listener (the SDK replaces the array on removal too, so iteration is safe). */
export function dropListener(sdk: RunwareServer, taskUUID: string): void {
  const listeners: unknown = sdk._listeners;
  if (!Array.isArray(listeners)) return;
  sdk._listeners = listeners.filter((l: unknown) => (l as { key?: unknown } | null)?.key !== taskUUID);
}

/** Forgets a failed task: its listener (kept for API errors) and any image that arrives for it later. */
export function forgetTask(sdk: RunwareServer, taskUUID: string): void {
  dropListener(sdk, taskUUID);
  const images: unknown = sdk._globalImages;
  if (!Array.isArray(images)) return;
  sdk._globalImages = images.filter(
    (image: unknown) => (image as { taskUUID?: unknown } | null)?.taskUUID !== taskUUID,
  ) as typeof sdk._globalImages;
}

/** Closes the connection for good, including a reconnect the SDK already scheduled. */
export async function shutdown(sdk: RunwareServer): Promise<void> {
  sdk._url = undefined;
  try {
    await sdk.disconnect();
  } catch {
    // already closed
  }
}
