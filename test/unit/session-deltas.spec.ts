import { newScene, SceneRecord } from '../../src/domain/session.model';
import { changesBetween, eventsFor, formatEvent } from '../../src/events/session-deltas';
import { toStatusView } from '../../src/sessions/session-view';
import { session } from '../support/session-record';

const scene = (index: number, status: SceneRecord['status'], image_url: string | null = null) => ({
  ...newScene(index, { title: `Scene ${index}`, description: 'd', image_prompt: 'p' }),
  status,
  image_url,
});
const view = (fields: Parameters<typeof session>[0]) => toStatusView(session(fields), '');
const rendering = (scenes: SceneRecord[]) => view({ phase: 'rendering', planned: true, scenes });

describe('changesBetween', () => {
  it('reports nothing for an unchanged session', () => {
    const scenes = [scene(0, 'done', '/static/x/a.png'), scene(1, 'rendering')];
    expect(changesBetween(rendering(scenes), rendering(scenes))).toEqual([]);
  });

  it('reports each planned scene, then progress and status, when the plan arrives', () => {
    const before = view({ phase: 'planning' });
    const after = rendering([scene(0, 'pending'), scene(1, 'pending')]);
    expect(changesBetween(before, after)).toEqual([
      { type: 'scene', index: 0 },
      { type: 'scene', index: 1 },
      { type: 'progress' },
      { type: 'status' },
    ]);
  });

  it('reports only the scene whose status or image changed, and the progress it made', () => {
    const before = rendering([scene(0, 'rendering'), scene(1, 'rendering')]);
    const after = rendering([scene(0, 'rendering'), scene(1, 'done', '/static/x/b.png')]);
    expect(changesBetween(before, after)).toEqual([{ type: 'scene', index: 1 }, { type: 'progress' }]);
  });

  it('reports approval and downloads as download changes, not scene changes', () => {
    const done = [scene(0, 'done', '/static/x/a.png'), scene(1, 'done', '/static/x/b.png')];
    const completed = { status: 'completed' as const, phase: 'awaiting_approval' as const, planned: true };
    const before = view({ ...completed, scenes: done });
    const approved = view({ ...completed, scenes: done, approved: [1], download_status: 'started' });
    const arrived = view({
      ...completed,
      scenes: done,
      approved: [1],
      download_status: 'started',
      downloads: {
        1: { status: 'done', file: 'scene_02.png', bytes: 10, content_type: 'image/png', error: null },
      },
    });
    expect(changesBetween(before, approved)).toEqual([{ type: 'download' }]);
    expect(changesBetween(approved, arrived)).toEqual([{ type: 'download' }]);
    expect(eventsFor([{ type: 'download' }], arrived)).toEqual([
      { event: 'download', data: { download_status: 'started', scenes: [arrived.scenes[1]] } },
    ]);
  });
});

describe('formatEvent', () => {
  it('writes one event with its id and one line of JSON, even when the data holds line breaks', () => {
    expect(formatEvent('status', 7, { error: 'two\nlines' })).toBe(
      'event: status\nid: 7\ndata: {"error":"two\\nlines"}\n\n',
    );
  });
});
