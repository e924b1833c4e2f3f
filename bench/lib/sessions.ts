import * as http from 'node:http';
import type Redis from 'ioredis';
import { CommandTally } from './redis';
import { ms, sleep } from './stats';

/** A story with enough sentences for 20 scenes and recurring names (the fake planner splits on sentences). */
export const STORY = Array.from(
  { length: 24 },
  (_, i) =>
    `In chapter ${i + 1}, Mara and Tobin follow the river past the ${['mill', 'bridge', 'tower', 'forest'][i % 4]}. ` +
    `The lantern flickers ${i % 3 === 0 ? 'blue' : 'gold'} as night falls.`,
).join(' ');

/**
 * The load generator's connections. It shares two cores with the service, so it uses Node's plain HTTP
 * client with keep-alive (about half the CPU per request of the built-in fetch) to take less from it.
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** POST /generate; returns the new session id. */
export async function generate(url: string, numScenes: number): Promise<string> {
  const payload = JSON.stringify({ story_text: STORY, media_type: 'cinematic', num_scenes: numScenes });
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request(
      `${url}/generate`,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
  let body: { session_id?: string } = {};
  try {
    body = JSON.parse(text) as { session_id?: string };
  } catch {
    // reported below with the raw text
  }
  if (status !== 200 || !body.session_id) {
    throw new Error(`POST /generate answered ${status}: ${text.slice(0, 300)}`);
  }
  return body.session_id;
}

/** Starts `count` sessions concurrently (all requests in flight at once). */
export function generateMany(url: string, count: number, numScenes: number): Promise<string[]> {
  return Promise.all(Array.from({ length: count }, () => generate(url, numScenes)));
}

export interface StatusBody {
  status: 'processing' | 'completed' | 'failed';
  created_at: string;
  planned_at: string | null;
  completed_at: string | null;
  error: string | null;
  scenes: { status: string }[];
}

export async function status(url: string, id: string): Promise<StatusBody> {
  const res = await fetch(`${url}/status/${id}`);
  if (res.status !== 200) throw new Error(`GET /status answered ${res.status}`);
  return (await res.json()) as StatusBody;
}

/** Polls GET /status until the session is no longer processing (bounded by `timeoutMs`). */
export async function waitViaStatus(
  url: string,
  id: string,
  timeoutMs: number,
  everyMs = 50,
): Promise<StatusBody> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const body = await status(url, id);
    if (body.status !== 'processing') return body;
    if (Date.now() > deadline) throw new Error(`session ${id} still processing after ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/**
 * Waits until none of `ids` is processing, reading the status field straight from Redis (one pipelined
 * HGET per unfinished session per tick), so hundreds of sessions can be followed without loading the API.
 * Every command is tallied for commandstats corrections.
 */
export async function waitAllViaRedis(
  redis: Redis,
  prefix: string,
  ids: string[],
  timeoutMs: number,
  tally: CommandTally,
  everyMs = 200,
): Promise<void> {
  let pending = [...ids];
  const deadline = Date.now() + timeoutMs;
  while (pending.length > 0) {
    const pipeline = redis.pipeline();
    for (const id of pending) pipeline.hget(`${prefix}:session:${id}`, 'status');
    tally.add('hget', pending.length);
    const results = (await pipeline.exec()) ?? [];
    pending = pending.filter((_, i) => results[i]?.[1] === 'processing');
    if (pending.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`${pending.length} of ${ids.length} sessions still processing`);
    await sleep(everyMs);
  }
}

/** What the bench reads back from a finished session's hash (the same data GET /status shows). */
export interface SessionTimes {
  id: string;
  status: string;
  createdAt: number;
  plannedAt: number;
  completedAt: number;
  /** rendered_at of each scene that rendered (epoch ms). */
  renderedAt: number[];
  scenesDone: number;
  scenes: number;
}

export async function readSessionTimes(redis: Redis, prefix: string, ids: string[]): Promise<SessionTimes[]> {
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hgetall(`${prefix}:session:${id}`);
  const results = (await pipeline.exec()) ?? [];
  return results.map(([, value], i) => {
    const hash = (value ?? {}) as Record<string, string>;
    const scenes = Object.entries(hash)
      .filter(([field]) => field.startsWith('render:')) // a scene's render outcome (SessionStore.saveRender)
      .map(([, json]) => JSON.parse(json) as { status: string; rendered_at: string | null });
    return {
      id: ids[i],
      status: hash.status,
      createdAt: ms(hash.created_at),
      plannedAt: ms(hash.planned_at),
      completedAt: ms(hash.completed_at),
      renderedAt: scenes.filter((s) => s.rendered_at).map((s) => ms(s.rendered_at)),
      scenesDone: scenes.filter((s) => s.status === 'done').length,
      scenes: scenes.length,
    };
  });
}
