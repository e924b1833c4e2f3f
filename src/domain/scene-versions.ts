import { newScene, SceneRecord, SceneRender, SceneStatus } from './session.model';

/**
 * A scene's versions. The current one is the scene's render record (`render:<index>`, merged into the
 * scene); the others are kept whole in the scene's history (`versions:<index>`), so selecting one makes it
 * current again exactly as it was rendered. Pure functions: the scene service (src/scenes/) decides, the store writes.
 */

/** A version with its number: what the history holds, and what `versionsOf` lists. */
export type SceneVersion = SceneRender & { version: number };

/** The fields of a scene that belong to its current render (the rest is the planned, editable part). */
const RENDER_FIELDS = [
  'status',
  'image_url',
  'seed',
  'provider',
  'model',
  'error',
  'attempts',
  'source',
  'rendered_at',
  'rendered_by',
  'version',
  'prompt',
  'requested_at',
] as const satisfies readonly (keyof SceneRender)[];

/** The current version's render record. Records written before versions existed are version 1. */
export function currentVersion(scene: SceneRecord): SceneVersion {
  const render: SceneRender = {};
  for (const field of RENDER_FIELDS) {
    if (scene[field] !== undefined) Object.assign(render, { [field]: scene[field] });
  }
  return { ...render, version: scene.version ?? 1, prompt: scene.prompt ?? scene.image_prompt };
}

/** Every version of the scene, oldest first; the current one is taken from the scene itself. */
export function versionsOf(scene: SceneRecord): SceneVersion[] {
  const current = currentVersion(scene);
  const others = (scene.history ?? []).filter(
    (v): v is SceneVersion => typeof v.version === 'number' && v.version !== current.version,
  );
  return [...others, current].sort((a, b) => a.version - b.version);
}

/**
 * The planned part of a scene (what `scene:<index>` holds), with the render fields as planning left them:
 * a render record that leaves a field out (the "rendering" mark does) must not show another version's.
 */
export function plannedPart(scene: SceneRecord): SceneRecord {
  const { title, description, image_prompt, negative_prompt, characters, index } = scene;
  return newScene(index, { title, description, image_prompt, negative_prompt, characters });
}

/**
 * Whether a render (a scene's current one, or a portrait) is still to end: a scene in that state cannot be
 * edited, regenerated or switched.
 */
export function isRendering(render: { status: SceneStatus }): boolean {
  return render.status === 'pending' || render.status === 'rendering';
}

/** The error of a render that never recorded an end: its job failed for good, or was lost. */
export const RENDER_NOT_COMPLETED = 'Rendering did not complete';
