import { AsyncLocalStorage } from 'node:async_hooks';

/** Ids every log line written inside a request or a job carries (`request_id`, `session_id`, `job_id`). */
export type LogContext = Readonly<Record<string, string>>;

// One store for the process: Nest's loggers are static, so the ids cannot be passed to them by hand.
const storage = new AsyncLocalStorage<LogContext>();

/** The ids of the request or job being handled, if any. */
export function currentLogContext(): LogContext | undefined {
  return storage.getStore();
}

/** Runs `fn` with `fields` added to every log line it writes, including after its awaits. */
export function withLogContext<T>(fields: LogContext, fn: () => T): T {
  const outer = storage.getStore();
  return storage.run(outer ? { ...outer, ...fields } : fields, fn);
}

/** Runs `fn` (and what it schedules) with no request's or job's ids, e.g. work one job starts for others. */
export function withoutLogContext<T>(fn: () => T): T {
  return storage.exit(fn);
}

/** The part of a BullMQ job that names it in logs. */
interface LoggedJob {
  id?: string;
  data?: unknown;
}

/** Runs a job's handler so that its log lines carry the job's id and, when it has one, its session's. */
export function withJobContext<T>(job: LoggedJob, fn: () => T): T {
  const fields: Record<string, string> = {};
  const sessionId = (job.data as { sessionId?: unknown } | undefined)?.sessionId;
  if (typeof sessionId === 'string') fields.session_id = sessionId;
  if (job.id !== undefined) fields.job_id = job.id;
  return withLogContext(fields, fn);
}
