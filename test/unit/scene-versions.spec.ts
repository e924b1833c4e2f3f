import { currentVersion, plannedPart, versionsOf } from '../../src/domain/scene-versions';
import { newScene, SceneRecord } from '../../src/domain/session.model';
import { isRenderFailureWarning, outcomeOfRender, progressOf } from '../../src/sessions/session-lifecycle';
import { isImageKey, renderKey } from '../../src/storage/image-keys';
import { session } from '../support/session-record';

const ID = '9f906177-55d1-45a4-b376-b601314fdaa3';

function rendered(index: number, fields: Partial<SceneRecord> = {}): SceneRecord {
  return newScene(index, {
    title: `Scene ${index + 1}`,
    description: 'A passage',
    image_prompt: 'a prompt',
    status: 'done',
    image_url: `/static/${ID}/renders/scene_0${index + 1}.png`,
    seed: 7,
    ...fields,
  });
}

describe('scene versions', () => {
  it('treats a scene rendered before versions existed as version 1 with its prompt', () => {
    const scene = rendered(0);
    expect(currentVersion(scene)).toMatchObject({ version: 1, prompt: 'a prompt', status: 'done', seed: 7 });
    expect(versionsOf(scene).map((v) => v.version)).toEqual([1]);
  });

  it('lists the history and the current version oldest first, the current one from the scene itself', () => {
    const scene = rendered(0, {
      version: 2,
      prompt: 'second prompt',
      image_url: '/v2.png',
      history: [
        { version: 3, status: 'done', image_url: '/v3.png' },
        { version: 1, status: 'done', image_url: '/v1.png' },
        // A stale copy of the current version in the history loses to the scene's own record.
        { version: 2, status: 'rendering', image_url: null },
      ],
    });
    expect(versionsOf(scene).map((v) => [v.version, v.image_url])).toEqual([
      [1, '/v1.png'],
      [2, '/v2.png'],
      [3, '/v3.png'],
    ]);
  });

  it('keeps only the planned fields, with the render fields as planning left them', () => {
    const scene = rendered(2, { version: 4, prompt: 'p', history: [{ version: 1 }], title: 'Edited' });
    expect(plannedPart(scene)).toEqual(
      newScene(2, { title: 'Edited', description: 'A passage', image_prompt: 'a prompt' }),
    );
  });
});

describe('a session rendering a scene again', () => {
  it('keeps its progress where it was while the scene renders as a new version', () => {
    const done = session({
      planned: true,
      finalized: true,
      status: 'completed',
      completed_at: '2026-01-01T00:00:00.000Z',
      scenes: [rendered(0), rendered(1)],
    });
    const before = progressOf(done);
    expect(before).toMatchObject({ current_step: 4, total_steps: 4 });
    const regenerating = {
      ...done,
      status: 'processing' as const,
      phase: 'rendering' as const,
      finalized: false,
      scenes: [rendered(0), rendered(1, { status: 'rendering', version: 2, history: [{ version: 1 }] })],
    };
    expect(progressOf(regenerating).current_step).toBe(before.current_step);
  });

  it('recognises the render-failure warning it writes, so finalising again replaces it', () => {
    const [warning] = outcomeOfRender([rendered(0), rendered(1, { status: 'failed', error: 'x' })]).warnings;
    expect(isRenderFailureWarning(warning)).toBe(true);
    expect(isRenderFailureWarning('Waiting for runware to recover')).toBe(false);
  });
});

describe('render keys of versions', () => {
  it('gives each later version a key of its own, served and swept with the session', () => {
    expect(renderKey(ID, 0, 'png')).toBe(`${ID}/renders/scene_01.png`);
    expect(renderKey(ID, 0, 'png', 1)).toBe(`${ID}/renders/scene_01.png`);
    expect(renderKey(ID, 1, 'png', 2)).toBe(`${ID}/renders/scene_02_v2.png`);
    expect(isImageKey(renderKey(ID, 1, 'png', 10))).toBe(true);
  });

  it('refuses version suffixes outside renders, and anything else', () => {
    expect(isImageKey(`${ID}/scene_02_v2.png`)).toBe(false);
    expect(isImageKey(`${ID}/renders/scene_02_v.png`)).toBe(false);
    expect(isImageKey(`${ID}/renders/scene_02_v2_v3.png`)).toBe(false);
    expect(isImageKey(`${ID}/renders/../scene_02_v2.png`)).toBe(false);
  });
});
