import type { Response } from 'express';

/**
 * A client that has not read this much of its stream is too slow to follow it: its stream is ended, and its
 * EventSource reconnects and starts again from a snapshot, rather than the process buffering without bound.
 */
const MAX_BUFFERED_BYTES = 1024 * 1024;

/** One open text/event-stream answer. */
export class SseStream {
  private ended = false;

  constructor(
    readonly sessionId: string,
    /** This service's URLs in the stream's events are absolute for the host the client used. */
    readonly baseUrl: string,
    private readonly res: Response,
  ) {}

  /** Sends the headers at once; nothing between here and the client may buffer or compress the stream. */
  open(): void {
    this.res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      // nginx buffers proxied answers unless told not to.
      'X-Accel-Buffering': 'no',
      Connection: 'keep-alive',
    });
    this.res.flushHeaders();
  }

  write(text: string): void {
    if (this.ended || this.res.destroyed) return;
    if (this.res.writableLength > MAX_BUFFERED_BYTES) {
      this.end();
      return;
    }
    this.res.write(text);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.res.end();
  }
}
