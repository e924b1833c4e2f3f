import { pollUntil } from './test-env';

export interface SseEvent {
  event: string;
  id: string;
  data: string;
  /** When it arrived (epoch ms). */
  at: number;
}

/**
 * A small EventSource for tests, over fetch's body stream: it parses the text/event-stream format (events,
 * ids, `data:` lines and `:` comments), keeps everything it received, and tells when the server ended the
 * stream. It does not reconnect by itself; a test reconnects with `Last-Event-ID` explicitly.
 */
export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  ended = false;
  private readonly abort = new AbortController();

  private constructor(
    readonly status: number,
    readonly headers: Headers,
    /** The body of an answer that is not a stream: an error envelope (or its text, if not JSON). */
    readonly body: Record<string, unknown>,
  ) {}

  static async connect(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const abort = new AbortController();
    const res = await fetch(url, {
      headers: { accept: 'text/event-stream', ...headers },
      signal: abort.signal,
    });
    if (!res.headers.get('content-type')?.startsWith('text/event-stream')) {
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return new SseClient(res.status, res.headers, body as Record<string, unknown>);
    }
    const client = new SseClient(res.status, res.headers, {});
    client.abort.signal.addEventListener('abort', () => abort.abort());
    void client.read(res.body!);
    return client;
  }

  /** The events of one type, their data parsed. */
  data<T = Record<string, unknown>>(type: string): T[] {
    return this.events.filter((e) => e.event === type).map((e) => JSON.parse(e.data) as T);
  }

  /** Waits until `done` holds of the events received so far (polled, like every wait in these tests). */
  async waitFor(done: (events: SseEvent[]) => boolean, timeoutMs = 30_000): Promise<SseEvent[]> {
    return pollUntil(
      async () => this.events,
      (events) => done(events),
      timeoutMs,
    );
  }

  close(): void {
    this.abort.abort();
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    let current: Partial<SseEvent> & { data?: string } = {};
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let newline: number;
        while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
          if (line === '') {
            if (current.data !== undefined) {
              this.events.push({
                event: current.event ?? 'message',
                id: current.id ?? '',
                data: current.data,
                at: Date.now(),
              });
            }
            current = {};
          } else if (line.startsWith(':')) {
            this.comments.push(line.slice(1).trim());
          } else {
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') current.event = value;
            else if (field === 'id') current.id = value;
            else if (field === 'data')
              current.data = current.data === undefined ? value : `${current.data}\n${value}`;
          }
        }
      }
    } catch {
      // aborted by close(), or the connection broke: either way the stream is over
    }
    this.ended = true;
  }
}
