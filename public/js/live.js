// Follows a session over GET /status/{id}/events. The stream is read with fetch rather than EventSource,
// because EventSource cannot send the X-API-Key header. It reconnects by itself, sending the last event
// id back (Last-Event-ID) so the server answers with a fresh snapshot and the changes after it.

import { authHeaders, errorOf } from './api.js';

const RETRY_MS = [500, 1000, 2000, 5000];

/**
 * @param {string} sessionId
 * @param {{ onEvent: (type: string, data: any) => void, onConnection: (state: string) => void,
 *           onFatal: (error: Error) => void }} handlers
 * @returns {() => void} stops following
 */
export function followSession(sessionId, handlers) {
  const controller = new AbortController();
  let lastEventId = null;
  let failures = 0;
  let stopped = false;

  async function connect() {
    while (!stopped) {
      try {
        const headers = { Accept: 'text/event-stream', ...authHeaders() };
        if (lastEventId !== null) headers['Last-Event-ID'] = lastEventId;
        const response = await fetch(`status/${sessionId}/events`, {
          headers,
          signal: controller.signal,
          cache: 'no-store',
        });
        if (!response.ok) {
          const error = await errorOf(response);
          // 4xx other than a rate limit will not mend by retrying: the session is gone or not ours.
          if (response.status >= 400 && response.status < 500 && response.status !== 429) {
            handlers.onFatal(error);
            return;
          }
          throw error;
        }
        handlers.onConnection('live');
        const ended = await readEvents(response.body, (event) => {
          failures = 0;
          if (event.id !== null) lastEventId = event.id;
          handlers.onEvent(event.type, event.data);
        });
        if (ended === 'expired') return;
      } catch (error) {
        if (stopped) return;
        handlers.onConnection(`reconnecting (${error instanceof Error ? error.message : 'stream lost'})`);
      }
      const wait = RETRY_MS[Math.min(failures, RETRY_MS.length - 1)];
      failures++;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  void connect();
  return () => {
    stopped = true;
    controller.abort();
  };
}

/** Parses a text/event-stream body; resolves 'expired' after that event, 'closed' when the body ends. */
async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let type = 'message';
  let data = [];
  let id = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return 'closed';
    buffer += value;
    let newline;
    while ((newline = buffer.search(/\r\n|\r|\n/)) !== -1) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
      if (line === '') {
        if (data.length > 0) {
          onEvent({ type, id, data: JSON.parse(data.join('\n')) });
          if (type === 'expired') {
            await reader.cancel();
            return 'expired';
          }
        }
        type = 'message';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const text = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') type = text;
      else if (field === 'data') data.push(text);
      else if (field === 'id') id = text;
    }
  }
}
