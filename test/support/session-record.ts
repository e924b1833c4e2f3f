import { SessionRecord } from '../../src/domain/session.model';

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
