import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  ServiceUnavailableException,
} from '@nestjs/common';
import type Redis from 'ioredis';
import { URL_SIGNER } from '../auth/auth.module';
import { UrlSigner } from '../auth/url-signer';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { SessionRecord } from '../domain/session.model';
import { RedisService } from '../redis/redis.service';
import { sessionEventsChannel } from '../sessions/session-changes';
import { StatusView, toStatusView } from '../sessions/session-view';
import { SessionStore } from '../sessions/session.store';
import { changesBetween, eventsFor, formatEvent } from './session-deltas';
import { SseStream } from './sse-stream';

/** How long opening a stream waits for the subscription before answering 503. */
const SUBSCRIBE_TIMEOUT_MS = 3000;
/** setTimeout's limit; a later expiry is checked again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** One session watched by this process while at least one of its streams is open. */
interface Watch {
  id: string;
  streams: Set<SseStream>;
  /** Streams still being opened: the watch must not be dropped under them. */
  joining: number;
  /** The last state read (and sent), null once the session is gone; undefined before the first read. */
  session?: SessionRecord | null;
  /** `session` as an unsigned view, what the next read is compared with. */
  view?: StatusView;
  ready: Promise<void>;
  /** The read under way, if any; `stale` asks it to read once more (a notice came in meanwhile). */
  loop: Promise<void> | null;
  stale: boolean;
  expiry?: NodeJS.Timeout;
}

/**
 * Live progress for every open event stream of this process. One Redis subscriber connection listens to
 * the change notices (src/sessions/session-changes.ts) of the sessions that have open streams here; a
 * notice makes the process read that session once, whatever the number of its streams, compare it with the
 * last state it sent, and send each stream the events for what changed. Streams cost no Redis commands
 * while nothing changes; heartbeats come from one timer for all of them.
 */
@Injectable()
export class SessionEventHub implements BeforeApplicationShutdown {
  private readonly logger = new Logger('SessionEvents');
  private readonly watches = new Map<string, Watch>();
  private subscriber?: Redis;
  private heartbeat?: NodeJS.Timeout;
  private streamCount = 0;
  private readonly channelPrefix: string;

  constructor(
    private readonly sessions: SessionStore,
    private readonly redis: RedisService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(URL_SIGNER) private readonly signer: UrlSigner | null,
  ) {
    this.channelPrefix = sessionEventsChannel(config.redisPrefix, '');
  }

  /**
   * Joins `stream` to its session's events, once the process watches the session: returns the snapshot
   * to send first (the session as last read), or null when the session is gone. Throws 503 when Redis
   * cannot be reached. The stream is not written to here.
   */
  async join(stream: SseStream): Promise<{ version: number; view: StatusView } | null> {
    const watch = this.watches.get(stream.sessionId) ?? this.watch(stream.sessionId);
    watch.joining++;
    try {
      await watch.ready;
    } finally {
      watch.joining--;
    }
    const session = watch.session;
    if (!session) {
      this.release(watch);
      return null;
    }
    watch.streams.add(stream);
    this.streamCount++;
    this.startHeartbeat();
    return { version: session.version, view: this.viewFor(session, stream.baseUrl) };
  }

  /** Takes a stream out (its client left); the session is no longer watched once its last stream left. */
  leave(stream: SseStream): void {
    const watch = this.watches.get(stream.sessionId);
    if (!watch?.streams.delete(stream)) return;
    this.streamCount--;
    this.release(watch);
  }

  /**
   * Ends every stream, so the HTTP server can close (clients reconnect to another replica), and drops the
   * subscriber connection: nothing is watched any more, and a QUIT would wait on a subscriber's replies.
   */
  beforeApplicationShutdown(): void {
    for (const watch of [...this.watches.values()]) {
      clearTimeout(watch.expiry);
      for (const stream of [...watch.streams]) stream.end();
    }
    this.stopHeartbeat();
    this.subscriber?.disconnect();
  }

  private watch(id: string): Watch {
    const watch: Watch = { id, streams: new Set(), joining: 0, loop: null, stale: false, ready: null! };
    this.watches.set(id, watch);
    watch.ready = this.start(watch).catch((err: unknown) => {
      if (this.watches.get(id) === watch) this.watches.delete(id);
      void this.unsubscribe(id);
      this.logger.warn(`Cannot watch session ${id}: ${err instanceof Error ? err.message : String(err)}`);
      throw new ServiceUnavailableException('Redis is unavailable; try again shortly');
    });
    return watch;
  }

  /** Subscribes first, then reads: a write after the read always brings a notice. */
  private async start(watch: Watch): Promise<void> {
    const subscribed = this.connection().subscribe(this.channelPrefix + watch.id);
    await withTimeout(subscribed, SUBSCRIBE_TIMEOUT_MS, 'subscribe timed out');
    await this.refresh(watch);
    if (watch.session) await this.scheduleExpiry(watch);
  }

  private connection(): Redis {
    if (this.subscriber) return this.subscriber;
    const subscriber = this.redis.forSubscriber();
    subscriber.on('message', (channel: string, message: string) => this.onNotice(channel, message));
    // Notices sent while the connection was down are lost: after a reconnect every watched session is read.
    let connectedBefore = false;
    subscriber.on('ready', () => {
      if (connectedBefore) for (const watch of this.watches.values()) void this.refreshQuietly(watch);
      connectedBefore = true;
    });
    this.subscriber = subscriber;
    return subscriber;
  }

  private onNotice(channel: string, message: string): void {
    if (!channel.startsWith(this.channelPrefix)) return;
    const watch = this.watches.get(channel.slice(this.channelPrefix.length));
    // A notice of a write this process has already read (a burst of writes, one read) needs nothing.
    if (!watch || (watch.session && Number(message) <= watch.session.version)) return;
    void this.refreshQuietly(watch);
  }

  private async refreshQuietly(watch: Watch): Promise<void> {
    try {
      await this.refresh(watch);
    } catch (err) {
      // The next notice (or the reconnect) reads again.
      this.logger.warn(
        `Cannot read session ${watch.id}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  /** Reads the session until no notice came in during the read; one read at a time per session. */
  private refresh(watch: Watch): Promise<void> {
    watch.stale = true;
    watch.loop ??= this.readLoop(watch);
    return watch.loop;
  }

  private async readLoop(watch: Watch): Promise<void> {
    try {
      while (watch.stale && this.watches.get(watch.id) === watch) {
        watch.stale = false;
        this.apply(watch, await this.sessions.get(watch.id));
      }
    } finally {
      watch.loop = null;
    }
  }

  /** Records the new state and sends each stream the events for what changed since the last one. */
  private apply(watch: Watch, session: SessionRecord | null): void {
    const before = watch.view;
    const lastVersion = watch.session?.version ?? 0;
    watch.session = session;
    if (!session) {
      this.expire(watch, lastVersion);
      return;
    }
    // Unsigned, with no base URL: what changed, independent of any stream's host or signing step.
    watch.view = toStatusView(session, '');
    if (!before || watch.streams.size === 0) return;
    const changes = changesBetween(before, watch.view);
    if (changes.length === 0) return;
    // Each stream's URLs are absolute for the host it used and signed: the text is built once per host.
    const texts = new Map<string, string>();
    for (const stream of [...watch.streams]) {
      let text = texts.get(stream.baseUrl);
      if (text === undefined) {
        const view = this.viewFor(session, stream.baseUrl);
        text = eventsFor(changes, view)
          .map(({ event, data }) => formatEvent(event, session.version, data))
          .join('');
        texts.set(stream.baseUrl, text);
      }
      stream.write(text);
    }
  }

  /** The session is gone (expired): every stream gets a last `expired` event and ends. */
  private expire(watch: Watch, lastVersion: number): void {
    const text = formatEvent('expired', lastVersion, { session_id: watch.id });
    for (const stream of [...watch.streams]) {
      stream.write(text);
      stream.end();
    }
  }

  private async scheduleExpiry(watch: Watch): Promise<void> {
    const ms = await this.sessions.expiresInMs(watch.id);
    if (this.watches.get(watch.id) !== watch) return;
    if (ms === null) {
      await this.refresh(watch);
      return;
    }
    this.checkExpiryIn(watch, Math.min(ms + 20, MAX_TIMER_MS));
  }

  private checkExpiryIn(watch: Watch, ms: number): void {
    clearTimeout(watch.expiry);
    watch.expiry = setTimeout(() => {
      if (this.watches.get(watch.id) !== watch) return;
      // Redis unreachable: try again in a while.
      this.scheduleExpiry(watch).catch(() => this.checkExpiryIn(watch, 5000));
    }, ms);
    watch.expiry.unref();
  }

  /** Drops the watch once no stream is open or opening. */
  private release(watch: Watch): void {
    if (watch.streams.size > 0 || watch.joining > 0) return;
    if (this.watches.get(watch.id) === watch) this.watches.delete(watch.id);
    clearTimeout(watch.expiry);
    void this.unsubscribe(watch.id);
    if (this.streamCount === 0) this.stopHeartbeat();
  }

  private async unsubscribe(id: string): Promise<void> {
    // A new watch of the same session may have subscribed again meanwhile: it keeps the channel.
    if (this.watches.has(id)) return;
    await this.subscriber?.unsubscribe(this.channelPrefix + id).catch(() => undefined);
  }

  private viewFor(session: SessionRecord, baseUrl: string): StatusView {
    return toStatusView(session, baseUrl, this.signer?.signing());
  }

  private startHeartbeat(): void {
    if (this.heartbeat) return;
    // Comments keep proxies and load balancers from closing a quiet stream; one timer for every stream.
    this.heartbeat = setInterval(() => {
      for (const watch of this.watches.values()) {
        for (const stream of watch.streams) stream.write(': heartbeat\n\n');
      }
    }, this.config.sseHeartbeatMs);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
