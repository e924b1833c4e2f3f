import { SceneView, StatusView } from '../sessions/session-view';

/** The event types of a session's stream, in the order a batch of changes is sent. */
export type SessionEventType = 'snapshot' | 'cast' | 'scene' | 'progress' | 'download' | 'status' | 'expired';

/** What changed between two reads of a session: which events a stream needs to catch up. */
export type SessionChange =
  | { type: 'cast' }
  | { type: 'scene'; index: number }
  | { type: 'progress' }
  | { type: 'download' }
  | { type: 'status' };

export interface SessionEvent {
  event: SessionEventType;
  data: unknown;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** A scene as far as `scene` events go: its approval and download are the `download` event's. */
function sceneProper(scene: SceneView): Omit<SceneView, 'approved' | 'download'> {
  const { approved: _approved, download: _download, ...rest } = scene;
  return rest;
}

/**
 * The changes from `before` to `after`, two views of one session built the same way (unsigned, with the
 * same base URL, so signatures rolling over are no change). Scenes first, then progress, download and
 * status, so a `completed` status comes after the scene that completed the session.
 */
export function changesBetween(before: StatusView, after: StatusView): SessionChange[] {
  const changes: SessionChange[] = [];
  // Portraits before scenes: a scene rendered from a portrait comes after it.
  if (!same(before.cast, after.cast)) changes.push({ type: 'cast' });
  const earlier = new Map(before.scenes.map((scene) => [scene.index, scene]));
  for (const scene of after.scenes) {
    const previous = earlier.get(scene.index);
    if (!previous || !same(sceneProper(previous), sceneProper(scene))) {
      changes.push({ type: 'scene', index: scene.index });
    }
  }
  if (!same(before.progress, after.progress)) changes.push({ type: 'progress' });
  const downloads = (view: StatusView) => [
    view.download_status,
    view.approved_scenes,
    view.scenes.filter((scene) => scene.approved).map((scene) => scene.download),
  ];
  if (!same(downloads(before), downloads(after))) changes.push({ type: 'download' });
  if (before.status !== after.status || before.phase !== after.phase || before.error !== after.error) {
    changes.push({ type: 'status' });
  }
  return changes;
}

/** The events that tell `changes`, with their data taken from `view` (signed for the stream it goes to). */
export function eventsFor(changes: SessionChange[], view: StatusView): SessionEvent[] {
  return changes.map((change): SessionEvent => {
    switch (change.type) {
      case 'cast':
        return { event: 'cast', data: { cast: view.cast } };
      case 'scene':
        return { event: 'scene', data: view.scenes.find((scene) => scene.index === change.index) };
      case 'progress':
        return { event: 'progress', data: view.progress };
      case 'download':
        return {
          event: 'download',
          data: {
            download_status: view.download_status,
            scenes: view.scenes.filter((scene) => scene.approved),
          },
        };
      case 'status':
        return { event: 'status', data: { status: view.status, phase: view.phase, error: view.error } };
    }
  });
}

/** One event in the text/event-stream format (https://html.spec.whatwg.org/multipage/server-sent-events.html). */
export function formatEvent(event: SessionEventType, id: number | string, data: unknown): string {
  // JSON.stringify escapes line breaks inside strings, so the data is always a single `data:` line.
  return `event: ${event}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`;
}
