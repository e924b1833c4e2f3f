import { approvalProblem, outcomeOfRender, progressOf } from '../../src/sessions/session-lifecycle';
import { newScene, SceneRecord } from '../../src/domain/session.model';
import { session } from '../support/session-record';

const scene = (index: number, status: SceneRecord['status'], error: string | null = null) => ({
  ...newScene(index, { title: 't', description: 'd', image_prompt: 'p' }),
  status,
  error,
});

describe('progressOf', () => {
  it('counts planning, each finished scene and finalising; never goes backwards through the lifecycle', () => {
    const steps = [
      session(),
      session({ phase: 'planning' }),
      session({ phase: 'rendering', planned: true, scenes: [scene(0, 'pending'), scene(1, 'rendering')] }),
      session({ phase: 'rendering', planned: true, scenes: [scene(0, 'done'), scene(1, 'rendering')] }),
      session({ phase: 'rendering', planned: true, scenes: [scene(0, 'done'), scene(1, 'failed')] }),
      session({
        status: 'completed',
        phase: 'awaiting_approval',
        planned: true,
        finalized: true,
        scenes: [scene(0, 'done'), scene(1, 'failed')],
      }),
    ].map(progressOf);
    expect(steps.map((p) => p.current_step)).toEqual([0, 0, 1, 2, 3, 4]);
    expect(steps.map((p) => p.total_steps)).toEqual([5, 5, 4, 4, 4, 4]);
    expect(steps[3].description).toBe('Generating images (1/2 scenes done)');
  });
});

describe('outcomeOfRender', () => {
  it('completes when every scene rendered', () => {
    expect(outcomeOfRender([scene(0, 'done'), scene(1, 'done')])).toEqual({
      status: 'completed',
      phase: 'awaiting_approval',
      error: null,
      warnings: [],
    });
  });

  it('completes with a warning naming the scenes that failed', () => {
    const outcome = outcomeOfRender([
      scene(0, 'done'),
      scene(1, 'failed', 'Runware timed out'),
      scene(2, 'failed'),
    ]);
    expect(outcome.status).toBe('completed');
    expect(outcome.warnings).toEqual([
      'Scene(s) 2, 3 failed to render and cannot be approved: Runware timed out',
    ]);
  });

  it('fails the session when no scene rendered', () => {
    expect(outcomeOfRender([scene(0, 'failed', 'boom')])).toMatchObject({
      status: 'failed',
      phase: 'failed',
      error: 'Every scene failed to render: boom',
    });
  });
});

describe('approvalProblem', () => {
  const completed = session({
    status: 'completed',
    phase: 'awaiting_approval',
    planned: true,
    scenes: [scene(0, 'done'), scene(1, 'failed'), scene(2, 'done')],
  });

  it('allows rendered scenes of a completed session', () => {
    expect(approvalProblem(completed, [0, 2])).toBeNull();
  });

  it.each([
    [session(), [0], 'not_ready'],
    [session({ status: 'failed' }), [0], 'not_ready'],
    [{ ...completed, download_status: 'started' as const }, [0], 'already_approved'],
    [completed, [3], 'bad_indices'],
    [completed, [1], 'bad_indices'],
  ])('%#: reports %s', (s, indices, kind) => {
    expect(approvalProblem(s, indices)?.kind).toBe(kind);
  });
});
