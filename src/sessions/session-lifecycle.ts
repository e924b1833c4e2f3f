import { SceneRecord, SessionPhase, SessionRecord, SessionStatus } from '../domain/session.model';

/** Pure rules of the session lifecycle, kept apart from storage so they can be tested alone. */

export interface Progress {
  current_step: number;
  total_steps: number;
  description: string;
}

const isFinished = (render: Pick<SceneRecord, 'status'>) =>
  render.status === 'done' || render.status === 'failed';

/**
 * Steps: 1 for planning, 1 per cast portrait, 1 per scene render, 1 for finalising. Each term only grows,
 * so `current_step` never goes backwards; the total changes once, when the plan says how many scenes and
 * portraits there are. A scene or portrait rendering again (a new version) stays counted, and so does a
 * finalisation that a regeneration reopened.
 */
export function progressOf(session: SessionRecord): Progress {
  const sceneCount = session.planned ? session.scenes.length : session.requested_scenes;
  const portraits = session.cast.flatMap((member) => (member.portrait ? [member.portrait] : []));
  const total = sceneCount + portraits.length + 2;
  const finishedScenes = session.scenes.filter(isFinished).length;
  const rendered = session.scenes.filter((s) => isFinished(s) || (s.history?.length ?? 0) > 0).length;
  // A portrait past its first version had ended once: it stays counted while it renders again.
  const cast = portraits.filter((p) => isFinished(p) || p.version > 1).length;
  const finalized = session.finalized || session.completed_at !== null;
  const current = Math.min(total, (session.planned ? 1 : 0) + cast + rendered + (finalized ? 1 : 0));
  const description = describe(session, finishedScenes, cast, portraits.length);
  return { current_step: current, total_steps: total, description };
}

function describe(session: SessionRecord, finishedScenes: number, cast: number, portraits: number): string {
  switch (session.phase) {
    case 'queued':
      return 'Waiting for a worker';
    case 'planning':
      return 'Planning scenes from the story';
    case 'casting':
      return `Drawing the cast (${cast}/${portraits} portraits done)`;
    case 'rendering':
      return `Generating images (${finishedScenes}/${session.scenes.length} scenes done)`;
    case 'awaiting_approval':
      return 'Scenes ready for approval';
    case 'failed':
      return `Failed: ${session.error ?? 'unknown error'}`;
  }
}

export interface RenderOutcome {
  status: SessionStatus;
  phase: SessionPhase;
  error: string | null;
  warnings: string[];
}

/** What a session becomes once every scene has finished rendering (successfully or not). */
export function outcomeOfRender(scenes: SceneRecord[]): RenderOutcome {
  const failed = scenes.filter((s) => s.status !== 'done');
  if (scenes.length > 0 && failed.length === 0) {
    return { status: 'completed', phase: 'awaiting_approval', error: null, warnings: [] };
  }
  const numbers = failed.map((s) => s.index + 1).join(', ');
  const firstError = failed.find((s) => s.error)?.error;
  if (failed.length === scenes.length) {
    return {
      status: 'failed',
      phase: 'failed',
      error: `Every scene failed to render${firstError ? `: ${firstError}` : ''}`,
      warnings: [],
    };
  }
  return {
    status: 'completed',
    phase: 'awaiting_approval',
    error: null,
    warnings: [`Scene(s) ${numbers} ${RENDER_FAILURE_WARNING}${firstError ? `: ${firstError}` : ''}`],
  };
}

const RENDER_FAILURE_WARNING = 'failed to render and cannot be approved';

/** Whether a warning is the one `outcomeOfRender` wrote: finalising again replaces it. */
export function isRenderFailureWarning(warning: string): boolean {
  return warning.startsWith('Scene(s) ') && warning.includes(RENDER_FAILURE_WARNING);
}

export type ApprovalProblem =
  | { kind: 'not_ready'; message: string }
  | { kind: 'already_approved'; message: string }
  | { kind: 'bad_indices'; message: string };

/** Checks an approval request against the session; returns the problem, or null when it may proceed. */
export function approvalProblem(session: SessionRecord, indices: number[]): ApprovalProblem | null {
  if (session.status !== 'completed') {
    return {
      kind: 'not_ready',
      message:
        session.status === 'failed'
          ? 'Session failed; there is nothing to approve'
          : 'Session is still being generated; approve once its status is "completed"',
    };
  }
  if (session.download_status !== 'not_started') {
    return { kind: 'already_approved', message: 'Scenes of this session were already approved' };
  }
  const outOfRange = indices.filter((i) => i < 0 || i >= session.scenes.length);
  if (outOfRange.length > 0) {
    return {
      kind: 'bad_indices',
      message: `approved_scenes has indices out of range 0..${session.scenes.length - 1}: ${outOfRange.join(', ')}`,
    };
  }
  const notRendered = indices.filter((i) => session.scenes[i].status !== 'done');
  if (notRendered.length > 0) {
    return {
      kind: 'bad_indices',
      message: `approved_scenes includes scenes that have no image: ${notRendered.join(', ')}`,
    };
  }
  return null;
}
