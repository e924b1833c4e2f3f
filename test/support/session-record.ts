import { randomUUID } from 'node:crypto';
import { newScene, SceneRecord, SessionRecord } from '../../src/domain/session.model';
import { SessionStore } from '../../src/sessions/session.store';

/** A session record as SessionStore.get() returns it: a fresh, queued session unless overridden. */
export function session(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: 's',
    owner: null,
    version: 1,
    status: 'processing',
    phase: 'queued',
    media_type: 'cinematic',
    requested_scenes: 3,
    seed: 1,
    planner: null,
    style: null,
    cast: [],
    scenes: [],
    planned: false,
    finalized: false,
    warnings: [],
    error: null,
    approved: [],
    download_status: 'not_started',
    download_error: null,
    downloads: {},
    cast_downloads: {},
    webhook: null,
    created_at: '',
    updated_at: '',
    planned_at: null,
    completed_at: null,
    downloaded_at: null,
    ...overrides,
  };
}

/** Writes a queued session straight into the store, as POST /generate does; returns its id. */
export async function createSession(
  store: SessionStore,
  init: Partial<Parameters<SessionStore['create']>[0]> = {},
): Promise<string> {
  const id = init.id ?? randomUUID();
  await store.create({
    id,
    owner: null,
    media_type: 'cartoon',
    requested_scenes: 2,
    story: 'A. B.',
    seed: 1,
    ...init,
  });
  return id;
}

/** A planned scene showing `characters`, as the planner writes it. */
export function plannedScene(index: number, characters: string[] = []): SceneRecord {
  return newScene(index, {
    title: `Scene ${index + 1}`,
    description: `What happens in scene ${index + 1}.`,
    image_prompt: `scene ${index + 1}`,
    negative_prompt: null,
    characters,
  });
}
