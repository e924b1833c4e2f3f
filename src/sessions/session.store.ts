import { Inject, Injectable } from '@nestjs/common';
import { OPEN_OWNER, Tenant, visibleTo } from '../auth/tenant';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { countSessionEnd } from '../common/metrics';
import { RedisService } from '../redis/redis.service';
import { BUMP_VERSION } from './session-changes';
import {
  CastMember,
  PortraitRecord,
  SceneRender,
  DownloadStatus,
  MediaType,
  SceneDownload,
  SceneRecord,
  SessionPhase,
  SessionRecord,
  SessionStatus,
  StoryboardRecord,
  WebhookRecord,
} from '../domain/session.model';

/** Session fields that are written individually; scenes and downloads live in fields of their own. */
export interface SessionFields {
  status?: SessionStatus;
  phase?: SessionPhase;
  planner?: string;
  style?: string;
  cast?: CastMember[];
  planned?: boolean;
  /** Scenes whose render has not ended yet (done, or failed for good); set when the plan is written. */
  renders_left?: number;
  /** Casting portraits that have not ended yet; the one that brings it to 0 starts the scenes. */
  portraits_left?: number;
  finalized?: boolean;
  warnings?: string[];
  error?: string | null;
  download_status?: DownloadStatus;
  download_error?: string | null;
  approved?: number[];
  planned_at?: string;
  completed_at?: string;
  downloaded_at?: string;
  webhook?: WebhookRecord;
}

export interface SessionActivity {
  status: string;
  download_status: string;
  updated_at: string;
  /** Empty for a session written before phases existed. */
  phase: string;
  /** Scenes requested: an upper bound on the render jobs the session can have. */
  scene_count: number;
  /** Cast members planned: an upper bound on the portrait jobs it can have. */
  cast_count: number;
}

export type ApproveResult = 'ok' | 'missing' | 'not_completed' | 'already_approved';

const JSON_FIELDS = new Set(['cast', 'warnings', 'approved', 'webhook']);
/** `webhook_queued:<event key>`: the event's delivery job exists, so the reconciler need not queue it. */
const WEBHOOK_QUEUED_PREFIX = 'webhook_queued:';
/** The export's storyboard PDF (a StoryboardRecord as JSON). */
const STORYBOARD_FIELD = 'storyboard';

// A marker only while the session exists: a late write must not leave a hash without a TTL. Not a change
// clients see, so no version bump and no notice.
const SET_IF_EXISTS = `
if redis.call('exists', KEYS[1]) == 0 then return 0 end
redis.call('hset', KEYS[1], ARGV[1], ARGV[2])
return 1`;

/** What the webhook reconciler needs of a session to see whether an outcome's event was queued. */
export interface WebhookOutcome {
  status: string;
  download_status: string;
  updated_at: string;
  /** Event keys whose delivery job was queued (`session.completed`, `download.failed`, …). */
  queued: Set<string>;
}

const RECONCILED_EVENTS = ['session.completed', 'session.failed', 'download.completed', 'download.failed'];
const BOOL_FIELDS = new Set(['planned', 'finalized']);
const SCENE_PREFIX = 'scene:';
const RENDER_PREFIX = 'render:';
const DOWNLOAD_PREFIX = 'download:';
/** A cast member's portrait (PortraitRecord JSON), by cast index. */
const PORTRAIT_PREFIX = 'portrait:';
/** The export's copy of a cast member's portrait (SceneDownload JSON), by cast index. */
const CAST_DOWNLOAD_PREFIX = 'cast_download:';
/** A scene's earlier (or later, after a select) versions: a JSON list of render records. */
const VERSIONS_PREFIX = 'versions:';

// HSET only while the key exists: a late write (a job finishing after the session expired) must not
// resurrect a partial session without a TTL.
const UPDATE_IF_EXISTS = `${BUMP_VERSION}
if redis.call('exists', KEYS[1]) == 0 then return 0 end
redis.call('hset', KEYS[1], unpack(ARGV))
bump_version()
return 1`;

// Whether a stored render record (a scene's or a portrait's) takes no more writes for `version`: it has
// ended (done, or failed for good), or it is another version's, one a regeneration or a redraw replaced. A
// record written before versions existed is version 1.
const RENDER_CLOSED = `
local function closed(render, version)
  if not render then return false end
  local ok, record = pcall(cjson.decode, render)
  if not ok or type(record) ~= 'table' then return false end
  if record.status == 'done' or record.status == 'failed' then return true end
  return (tonumber(record.version) or 1) ~= tonumber(version)
end`;

// Skips scenes whose render has ended (done, or failed for good), so a re-run job (e.g. after a worker
// crash) does not pay for a second image, and a late mark never hides an outcome; and a mark of a version
// other than the current one (ARGV[4]), which a regeneration has replaced.
const MARK_RENDERING = `${RENDER_CLOSED}${BUMP_VERSION}
if redis.call('exists', KEYS[1]) == 0 then return -1 end
local current = redis.call('hget', KEYS[1], ARGV[1])
if closed(current, ARGV[4]) then return 0 end
redis.call('hset', KEYS[1], ARGV[1], ARGV[2], 'updated_at', ARGV[3])
bump_version()
return 1`;

// A render's outcome (a scene's, or a portrait's), and its fan-in counter (ARGV[5]: renders_left, or
// portraits_left while casting): the first final outcome (done, or failed for good) is kept and, when
// ARGV[3] = '1', counts as ended, once, however often the job is re-run or its failure reported. Returns
// what is still rendering, or -1 when the session is gone or has no such counter (planned before the
// counter existed: its legacy finalize job ends it; or never cast). An outcome of a version other than the
// current one (ARGV[6]) is dropped: a late failure report of a render that a regeneration or a redraw has
// replaced since must neither overwrite the new version nor count it as ended.
const SAVE_RENDER = `${RENDER_CLOSED}${BUMP_VERSION}
if redis.call('exists', KEYS[1]) == 0 then return -1 end
local current = redis.call('hget', KEYS[1], ARGV[1])
if closed(current, ARGV[6]) then
  return tonumber(redis.call('hget', KEYS[1], ARGV[5]) or '-1')
end
redis.call('hset', KEYS[1], ARGV[1], ARGV[2], 'updated_at', ARGV[4])
bump_version()
local left = redis.call('hget', KEYS[1], ARGV[5])
if not left then return -1 end
if ARGV[3] == '1' then return redis.call('hincrby', KEYS[1], ARGV[5], -1) end
return tonumber(left)`;

// Casting ends once: of the portraits ending together, one moves the session on to its scenes.
const BEGIN_SCENES = `${BUMP_VERSION}
if redis.call('hget', KEYS[1], 'phase') ~= 'casting' then return 0 end
if redis.call('hget', KEYS[1], 'status') ~= 'processing' then return 0 end
redis.call('hset', KEYS[1], 'phase', 'rendering', unpack(ARGV))
bump_version()
return 1`;

// A plan is written once: two runs of one plan job (one stalled and came back) must not both plan, or the
// second would reset the counter and the scenes under the first one's renders.
const SAVE_PLAN = `${BUMP_VERSION}
if redis.call('exists', KEYS[1]) == 0 then return 0 end
if redis.call('hget', KEYS[1], 'planned') == '1' then return 0 end
redis.call('hset', KEYS[1], 'planned', '1', unpack(ARGV))
bump_version()
return 1`;

// Finalising writes once: concurrent or repeated attempts (the last two renders of a session ending
// together, a retried job) must not append their warnings twice.
// ARGV[1] = '1' finalises only when no render is left: a finaliser that learnt "none left" before a
// regeneration started one (a late failure report of an ended render, say) must not end the new render.
const FINALIZE_ONCE = `${BUMP_VERSION}
if redis.call('exists', KEYS[1]) == 0 then return 0 end
if redis.call('hget', KEYS[1], 'finalized') == '1' then return 0 end
if redis.call('hget', KEYS[1], 'status') ~= 'processing' then return 0 end
if ARGV[1] == '1' and tonumber(redis.call('hget', KEYS[1], 'renders_left') or '0') > 0 then return 0 end
redis.call('hset', KEYS[1], 'finalized', '1', unpack(ARGV, 2))
bump_version()
return 1`;

// Fails a session only while it is processing: a repeated or late failure neither overwrites an outcome
// nor counts the session's end twice.
const FAIL_ONCE = `${BUMP_VERSION}
if redis.call('hget', KEYS[1], 'status') ~= 'processing' then return 0 end
redis.call('hset', KEYS[1], unpack(ARGV))
bump_version()
return 1`;

// A write decided on a read of the session (editing, regenerating or selecting a scene version): it lands
// only if nothing was written since (the write counter is unchanged); ARGV[2] = '1' also counts one more
// render in flight, for the fan-in that finalises the session again.
const WRITE_IF_UNCHANGED = `${BUMP_VERSION}
if redis.call('hget', KEYS[1], 'version') ~= ARGV[1] then return 0 end
if ARGV[2] == '1' then redis.call('hincrby', KEYS[1], 'renders_left', 1) end
redis.call('hset', KEYS[1], unpack(ARGV, 3))
bump_version()
return 1`;

// Approval is a check-and-set: two concurrent approvals must not both start a download.
const APPROVE = `${BUMP_VERSION}
if redis.call('exists', KEYS[1]) == 0 then return 'missing' end
if redis.call('hget', KEYS[1], 'status') ~= 'completed' then return 'not_completed' end
if redis.call('hget', KEYS[1], 'download_status') ~= 'not_started' then return 'already_approved' end
redis.call('hset', KEYS[1], 'approved', ARGV[1], 'download_status', 'started', 'updated_at', ARGV[2])
bump_version()
return 'ok'`;

// Adds (ARGV[2] = '1', only while processing) or removes one warning; writes only when the list changes.
const TOGGLE_WARNING = `${BUMP_VERSION}
if redis.call('exists', KEYS[1]) == 0 then return 0 end
local list = cjson.decode(redis.call('hget', KEYS[1], 'warnings') or '[]')
local found = nil
for i, warning in ipairs(list) do if warning == ARGV[1] then found = i end end
if ARGV[2] == '1' then
  if found or redis.call('hget', KEYS[1], 'status') ~= 'processing' then return 0 end
  table.insert(list, ARGV[1])
elseif found then
  table.remove(list, found)
else
  return 0
end
-- cjson encodes an empty table as an object
redis.call('hset', KEYS[1], 'warnings', #list > 0 and cjson.encode(list) or '[]', 'updated_at', ARGV[3])
bump_version()
return 1`;

/**
 * The one place that reads and writes session state. A session is one Redis hash with a TTL; scenes are
 * separate fields so parallel render jobs never overwrite each other's results.
 */
@Injectable()
export class SessionStore {
  private readonly updateIfExists;
  private readonly setIfExists;
  private readonly approveScript;
  private readonly markRendering;
  private readonly saveRenderScript;
  private readonly finalizeScript;
  private readonly failScript;
  private readonly savePlanScript;
  private readonly writeIfUnchangedScript;
  private readonly beginScenesScript;
  private readonly toggleWarningScript;

  constructor(
    private readonly redis: RedisService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.updateIfExists = redis.defineScript('sessionUpdateIfExists', UPDATE_IF_EXISTS, 1);
    this.setIfExists = redis.defineScript('sessionSetIfExists', SET_IF_EXISTS, 1);
    this.approveScript = redis.defineScript('sessionApprove', APPROVE, 1);
    this.markRendering = redis.defineScript('sessionMarkRendering', MARK_RENDERING, 1);
    this.saveRenderScript = redis.defineScript('sessionSaveRender', SAVE_RENDER, 1);
    this.finalizeScript = redis.defineScript('sessionFinalizeOnce', FINALIZE_ONCE, 1);
    this.failScript = redis.defineScript('sessionFailOnce', FAIL_ONCE, 1);
    this.savePlanScript = redis.defineScript('sessionSavePlan', SAVE_PLAN, 1);
    this.writeIfUnchangedScript = redis.defineScript('sessionWriteIfUnchanged', WRITE_IF_UNCHANGED, 1);
    this.beginScenesScript = redis.defineScript('sessionBeginScenes', BEGIN_SCENES, 1);
    this.toggleWarningScript = redis.defineScript('sessionToggleWarning', TOGGLE_WARNING, 1);
  }

  private key(id: string): string {
    return `${this.config.redisPrefix}:session:${id}`;
  }

  private storyKey(id: string): string {
    return `${this.config.redisPrefix}:story:${id}`;
  }

  private get indexKey(): string {
    return `${this.config.redisPrefix}:sessions`;
  }

  get ttlSeconds(): number {
    return Math.max(1, Math.round(this.config.sessionTtlHours * 3600));
  }

  async create(init: {
    id: string;
    owner: Tenant;
    media_type: MediaType;
    requested_scenes: number;
    story: string;
    seed: number;
    callbackUrl?: string;
  }): Promise<void> {
    const now = new Date().toISOString();
    const key = this.key(init.id);
    await this.redis.commands
      .multi()
      .hset(key, {
        id: init.id,
        owner: init.owner ?? OPEN_OWNER,
        status: 'processing',
        phase: 'queued',
        media_type: init.media_type,
        requested_scenes: String(init.requested_scenes),
        seed: String(init.seed),
        planned: '0',
        finalized: '0',
        warnings: '[]',
        cast: '[]',
        approved: '[]',
        download_status: 'not_started',
        version: '1',
        ...(init.callbackUrl ? { webhook: JSON.stringify(newWebhookRecord(init.callbackUrl)) } : {}),
        created_at: now,
        updated_at: now,
      })
      .expire(key, this.ttlSeconds)
      // The story is read twice (planning, export) but would weigh on every other read: it lives apart.
      .set(this.storyKey(init.id), init.story, 'EX', this.ttlSeconds)
      .zadd(this.indexKey, Date.now() + this.ttlSeconds * 1000, init.id)
      .exec();
  }

  async get(id: string): Promise<SessionRecord | null> {
    const hash = await this.redis.commands.hgetall(this.key(id));
    return hash.id ? parseSession(hash) : null;
  }

  /** The session, if `tenant` may see it: another tenant's session is as missing as an unknown one. */
  async getFor(id: string, tenant: Tenant): Promise<SessionRecord | null> {
    const session = await this.get(id);
    return session && visibleTo(session.owner, tenant) ? session : null;
  }

  /** Whether the session exists and `tenant` may see it; one small read. */
  async visibleTo(id: string, tenant: Tenant): Promise<boolean> {
    return (await this.versionFor(id, tenant)) !== null;
  }

  async getStory(id: string): Promise<string | null> {
    return this.redis.commands.get(this.storyKey(id));
  }

  /**
   * A counter bumped by every write: equal versions mean identical sessions. Null when it does not exist
   * or `tenant` may not see it; one round trip either way, as status polling calls it most.
   */
  async versionFor(id: string, tenant: Tenant): Promise<string | null> {
    const [version, owner] = await this.redis.commands.hmget(this.key(id), 'version', 'owner');
    return version !== null && visibleTo(owner, tenant) ? version : null;
  }

  /** The status of each session (null for one that is gone), in one round trip. */
  async statuses(ids: string[]): Promise<(string | null)[]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.commands.pipeline();
    for (const id of ids) pipeline.hget(this.key(id), 'status');
    const results = (await pipeline.exec()) ?? [];
    return results.map(([err, value]) => {
      if (err) throw err;
      return value as string | null;
    });
  }

  /**
   * Marks a scene as rendering, unless its render has ended (a re-run job whose first run got that far)
   * or the session is gone. One round trip; returns whether the render should go ahead.
   */
  async startRender(id: string, index: number, attempt: number, version: SceneRender = {}): Promise<boolean> {
    // The render record is replaced whole: the version fields (version, prompt, requested_at) go with it.
    const state: SceneRender = { ...version, status: 'rendering', attempts: attempt };
    const result = await this.markRendering(
      this.key(id),
      RENDER_PREFIX + index,
      JSON.stringify(state),
      new Date().toISOString(),
      version.version ?? 1,
    );
    return result === 1;
  }

  /**
   * Writes a scene's render outcome (its own small field: parallel renders never touch each other's) and
   * returns how many of the session's scenes are still rendering (-1: the session is gone). A final
   * outcome (`done`, or `failed` for good) counts the scene as ended, only once.
   */
  async saveRender(id: string, index: number, render: SceneRender): Promise<number> {
    const ended = render.status === 'done' || render.status === 'failed';
    const left = await this.saveRenderScript(
      this.key(id),
      RENDER_PREFIX + index,
      JSON.stringify(render),
      ended ? '1' : '0',
      new Date().toISOString(),
      'renders_left',
      render.version ?? 1,
    );
    return Number(left);
  }

  /** Scenes of the session still rendering; -1 when it is gone or not planned yet. */
  async rendersLeft(id: string): Promise<number> {
    const left = await this.redis.commands.hget(this.key(id), 'renders_left');
    return left === null ? -1 : Number(left);
  }

  /**
   * Writes the plan (fields, scenes and the casting step's pending portraits, `planned` set) unless one was
   * written already; returns whether.
   */
  async savePlan(
    id: string,
    fields: SessionFields,
    scenes: SceneRecord[],
    portraits: { castIndex: number; portrait: PortraitRecord }[] = [],
  ): Promise<boolean> {
    const args = this.fieldArgs(fields, scenes, []);
    for (const { castIndex, portrait } of portraits)
      args.push(PORTRAIT_PREFIX + castIndex, JSON.stringify(portrait));
    return (await this.savePlanScript(this.key(id), ...args)) === 1;
  }

  /**
   * Marks a portrait as rendering unless its render has ended (a re-run job) or the session is gone; the
   * record is replaced whole. Returns whether the render should go ahead.
   */
  async startPortrait(id: string, castIndex: number, portrait: PortraitRecord): Promise<boolean> {
    const result = await this.markRendering(
      this.key(id),
      PORTRAIT_PREFIX + castIndex,
      JSON.stringify({ ...portrait, status: 'rendering' }),
      new Date().toISOString(),
      portrait.version,
    );
    return result === 1;
  }

  /**
   * Writes a portrait's outcome; `casting` (the casting step's first render of it) counts a final outcome
   * towards the fan-in. Returns the portraits still rendering (-1: the session is gone or was not cast).
   */
  async savePortrait(
    id: string,
    castIndex: number,
    portrait: PortraitRecord,
    casting: boolean,
  ): Promise<number> {
    const ended = portrait.status === 'done' || portrait.status === 'failed';
    const left = await this.saveRenderScript(
      this.key(id),
      PORTRAIT_PREFIX + castIndex,
      JSON.stringify(portrait),
      ended && casting ? '1' : '0',
      new Date().toISOString(),
      'portraits_left',
      portrait.version,
    );
    return Number(left);
  }

  /** Portraits of the casting step still rendering; -1 when the session is gone or was not cast. */
  async portraitsLeft(id: string): Promise<number> {
    const left = await this.redis.commands.hget(this.key(id), 'portraits_left');
    return left === null ? -1 : Number(left);
  }

  /**
   * Moves a session from casting on to rendering its scenes, with `fields` (its casting warnings), once;
   * returns whether this call did, and so must queue the scenes.
   */
  async beginScenes(id: string, fields: SessionFields): Promise<boolean> {
    return (await this.beginScenesScript(this.key(id), ...this.fieldArgs(fields, [], []))) === 1;
  }

  /**
   * Writes the session's outcome once every scene has ended, while it is still processing (a session
   * failed meanwhile, e.g. by the watchdog, stays failed): `finalized` and the given fields, unless an
   * earlier attempt already did; with `onlyIfNoneLeft`, only while no render is left to end (renders_left
   * is 0, or the session predates the counter). Returns whether this call wrote it.
   */
  async finalize(
    id: string,
    fields: SessionFields,
    renders: ({ index: number } & SceneRender)[],
    { onlyIfNoneLeft }: { onlyIfNoneLeft: boolean },
  ): Promise<boolean> {
    const args = this.fieldArgs(fields, [], renders);
    return (await this.finalizeScript(this.key(id), onlyIfNoneLeft ? '1' : '0', ...args)) === 1;
  }

  /** Records that the delivery job of the session's webhook event `key` was queued. */
  async markWebhookQueued(id: string, key: string): Promise<void> {
    await this.setIfExists(this.key(id), WEBHOOK_QUEUED_PREFIX + key, new Date().toISOString());
  }

  /**
   * Records the storyboard PDF built for the session's export, while the session exists. Like the webhook
   * markers, not a change clients see (GET /status does not show it): no version bump, no notice.
   */
  async saveStoryboard(id: string, record: StoryboardRecord): Promise<boolean> {
    return (await this.setIfExists(this.key(id), STORYBOARD_FIELD, JSON.stringify(record))) === 1;
  }

  /**
   * For each session with a callback_url (null for the others, and for sessions that are gone): its
   * outcome and which of its outcome events were queued. One round trip.
   */
  async webhookOutcomes(ids: string[]): Promise<(WebhookOutcome | null)[]> {
    if (ids.length === 0) return [];
    const fields = ['webhook', 'status', 'download_status', 'updated_at'];
    const pipeline = this.redis.commands.pipeline();
    for (const id of ids)
      pipeline.hmget(this.key(id), ...fields, ...RECONCILED_EVENTS.map((e) => WEBHOOK_QUEUED_PREFIX + e));
    const results = (await pipeline.exec()) ?? [];
    return results.map(([err, value]) => {
      if (err) throw err;
      const [webhook, status, downloadStatus, updatedAt, ...queued] = value as (string | null)[];
      if (!webhook || !status || !updatedAt) return null;
      return {
        status,
        download_status: downloadStatus ?? 'not_started',
        updated_at: updatedAt,
        queued: new Set(RECONCILED_EVENTS.filter((_, i) => queued[i] !== null)),
      };
    });
  }

  async exists(id: string): Promise<boolean> {
    return (await this.redis.commands.exists(this.key(id))) === 1;
  }

  /** Milliseconds until the session expires; null when it is gone. */
  async expiresInMs(id: string): Promise<number | null> {
    const ms = await this.redis.commands.pttl(this.key(id));
    return ms >= 0 ? ms : null;
  }

  /** Writes the given fields (and `updated_at`) if the session still exists; returns whether it did. */
  async update(
    id: string,
    fields: SessionFields,
    scenes: SceneRecord[] = [],
    renders: ({ index: number } & SceneRender)[] = [],
  ): Promise<boolean> {
    const written = await this.updateIfExists(this.key(id), ...this.fieldArgs(fields, scenes, renders));
    return written === 1;
  }

  private fieldArgs(
    fields: SessionFields,
    scenes: SceneRecord[],
    renders: ({ index: number } & SceneRender)[],
  ): string[] {
    const args: string[] = [];
    for (const [name, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      args.push(name, serialize(name, value));
    }
    for (const scene of scenes) args.push(SCENE_PREFIX + scene.index, JSON.stringify(scene));
    for (const { index, ...render } of renders) args.push(RENDER_PREFIX + index, JSON.stringify(render));
    args.push('updated_at', new Date().toISOString());
    return args;
  }

  /**
   * The one way a session is marked failed: status and phase together, with the error users see. Only a
   * processing session fails; returns whether this call failed it.
   */
  async fail(id: string, error: string): Promise<boolean> {
    const args = this.fieldArgs({ status: 'failed', phase: 'failed', error }, [], []);
    const failed = (await this.failScript(this.key(id), ...args)) === 1;
    if (failed) countSessionEnd('failed');
    return failed;
  }

  /**
   * Writes scene changes decided on `read` (edits, a regeneration, a version selection), with `fields`,
   * only if the session is unchanged since; `newRender` also counts one more render in flight. Returns
   * whether it wrote: false means the session changed (or is gone) and the caller reads it again.
   */
  async writeIfUnchanged(
    read: SessionRecord,
    change: {
      fields?: SessionFields;
      scenes?: SceneRecord[];
      renders?: ({ index: number } & SceneRender)[];
      histories?: { index: number; history: SceneRender[] }[];
      portraits?: { castIndex: number; portrait: PortraitRecord }[];
      newRender?: boolean;
    },
  ): Promise<boolean> {
    const args = this.fieldArgs(change.fields ?? {}, change.scenes ?? [], change.renders ?? []);
    for (const { index, history } of change.histories ?? [])
      args.push(VERSIONS_PREFIX + index, JSON.stringify(history));
    for (const { castIndex, portrait } of change.portraits ?? [])
      args.push(PORTRAIT_PREFIX + castIndex, JSON.stringify(portrait));
    const written = await this.writeIfUnchangedScript(
      this.key(read.id),
      String(read.version),
      change.newRender ? '1' : '0',
      ...args,
    );
    return written === 1;
  }

  async saveDownload(id: string, index: number, download: SceneDownload): Promise<boolean> {
    return this.saveDownloadField(id, DOWNLOAD_PREFIX + index, download);
  }

  /** The export's copy of a cast member's portrait. */
  async saveCastDownload(id: string, castIndex: number, download: SceneDownload): Promise<boolean> {
    return this.saveDownloadField(id, CAST_DOWNLOAD_PREFIX + castIndex, download);
  }

  private async saveDownloadField(id: string, field: string, download: SceneDownload): Promise<boolean> {
    const written = await this.updateIfExists(
      this.key(id),
      field,
      JSON.stringify(download),
      'updated_at',
      new Date().toISOString(),
    );
    return written === 1;
  }

  async approve(id: string, indices: number[]): Promise<ApproveResult> {
    const result = await this.approveScript(this.key(id), JSON.stringify(indices), new Date().toISOString());
    return result as ApproveResult;
  }

  /** Sessions whose TTL has not run out yet. */
  async countActive(): Promise<number> {
    return this.redis.commands.zcount(this.indexKey, Date.now(), '+inf');
  }

  async listActive(limit = 100, offset = 0): Promise<string[]> {
    return this.redis.commands.zrangebyscore(this.indexKey, Date.now(), '+inf', 'LIMIT', offset, limit);
  }

  /** The fields that tell whether a session is still moving, without reading its scenes. */
  async activity(id: string): Promise<SessionActivity | null> {
    const [status, download_status, updated_at, requested, cast, phase] = await this.redis.commands.hmget(
      this.key(id),
      'status',
      'download_status',
      'updated_at',
      'requested_scenes',
      'cast',
      'phase',
    );
    if (!status || !download_status || !updated_at) return null;
    const castCount = (JSON.parse(cast || '[]') as unknown[]).length;
    return {
      status,
      download_status,
      updated_at,
      phase: phase ?? '',
      scene_count: Number(requested ?? 0),
      cast_count: castCount,
    };
  }

  /** Ids of sessions whose expiry time has passed, oldest first, so their files can be removed. */
  async listExpired(limit = 100, offset = 0): Promise<string[]> {
    return this.redis.commands.zrangebyscore(this.indexKey, '-inf', Date.now(), 'LIMIT', offset, limit);
  }

  async forgetExpired(ids: string[]): Promise<void> {
    if (ids.length > 0) await this.redis.commands.zrem(this.indexKey, ...ids);
  }

  /**
   * Shows (`present`) or withdraws a warning about a passing condition, such as a provider outage the
   * session is waiting out; a warning is shown once, and only while the session is processing. Returns
   * whether the list changed.
   */
  async toggleWarning(id: string, warning: string, present: boolean): Promise<boolean> {
    const changed = await this.toggleWarningScript(
      this.key(id),
      warning,
      present ? '1' : '0',
      new Date().toISOString(),
    );
    return changed === 1;
  }
}

function newWebhookRecord(url: string): WebhookRecord {
  return { url, last_event: null, last_status_code: null, attempts: 0, delivered_at: null };
}

function serialize(name: string, value: unknown): string {
  // Portraits live in fields of their own: the cast sheet keeps names and descriptions only.
  if (name === 'cast')
    return JSON.stringify((value as CastMember[]).map(({ name, description }) => ({ name, description })));
  if (JSON_FIELDS.has(name)) return JSON.stringify(value);
  if (BOOL_FIELDS.has(name)) return value ? '1' : '0';
  if (value === null) return '';
  return String(value);
}

function parseSession(hash: Record<string, string>): SessionRecord {
  const scenes: SceneRecord[] = [];
  const renders = new Map<number, SceneRender>();
  const histories = new Map<number, SceneRender[]>();
  const downloads: Record<number, SceneDownload> = {};
  const castDownloads: Record<number, SceneDownload> = {};
  const portraits = new Map<number, PortraitRecord>();
  for (const [field, value] of Object.entries(hash)) {
    if (field.startsWith(SCENE_PREFIX)) scenes.push(JSON.parse(value) as SceneRecord);
    else if (field.startsWith(PORTRAIT_PREFIX)) {
      portraits.set(Number(field.slice(PORTRAIT_PREFIX.length)), JSON.parse(value) as PortraitRecord);
    } else if (field.startsWith(CAST_DOWNLOAD_PREFIX)) {
      castDownloads[Number(field.slice(CAST_DOWNLOAD_PREFIX.length))] = JSON.parse(value) as SceneDownload;
    } else if (field.startsWith(RENDER_PREFIX)) {
      renders.set(Number(field.slice(RENDER_PREFIX.length)), JSON.parse(value) as SceneRender);
    } else if (field.startsWith(DOWNLOAD_PREFIX)) {
      downloads[Number(field.slice(DOWNLOAD_PREFIX.length))] = JSON.parse(value) as SceneDownload;
    } else if (field.startsWith(VERSIONS_PREFIX)) {
      histories.set(Number(field.slice(VERSIONS_PREFIX.length)), JSON.parse(value) as SceneRender[]);
    }
  }
  scenes.sort((a, b) => a.index - b.index);
  for (let i = 0; i < scenes.length; i++) {
    const render = renders.get(scenes[i].index);
    if (render) scenes[i] = { ...scenes[i], ...render };
    const history = histories.get(scenes[i].index);
    if (history) scenes[i] = { ...scenes[i], history };
  }
  const orNull = (value: string | undefined) => (value ? value : null);
  return {
    id: hash.id,
    owner: orNull(hash.owner),
    version: Number(hash.version ?? 0),
    status: hash.status as SessionStatus,
    phase: hash.phase as SessionPhase,
    media_type: hash.media_type as MediaType,
    requested_scenes: Number(hash.requested_scenes),
    seed: Number(hash.seed),
    planner: orNull(hash.planner),
    style: orNull(hash.style),
    cast: (JSON.parse(hash.cast || '[]') as CastMember[]).map((member, i) => {
      const portrait = portraits.get(i);
      return portrait ? { ...member, portrait } : member;
    }),
    scenes,
    planned: hash.planned === '1',
    finalized: hash.finalized === '1',
    warnings: JSON.parse(hash.warnings || '[]') as string[],
    error: orNull(hash.error),
    approved: JSON.parse(hash.approved || '[]') as number[],
    download_status: (hash.download_status || 'not_started') as DownloadStatus,
    download_error: orNull(hash.download_error),
    downloads,
    cast_downloads: castDownloads,
    webhook: hash.webhook ? (JSON.parse(hash.webhook) as WebhookRecord) : null,
    storyboard: hash[STORYBOARD_FIELD] ? (JSON.parse(hash[STORYBOARD_FIELD]) as StoryboardRecord) : null,
    created_at: hash.created_at,
    updated_at: hash.updated_at,
    planned_at: orNull(hash.planned_at),
    completed_at: orNull(hash.completed_at),
    downloaded_at: orNull(hash.downloaded_at),
  };
}
