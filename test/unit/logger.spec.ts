import { withJobContext, withLogContext } from '../../src/common/log-context';
import { createLogger, JsonLogger, TextLogger } from '../../src/observability/logger';

/** A JsonLogger whose lines are kept, parsed, instead of written to stdout. */
function jsonLogger(level: 'error' | 'warn' | 'info' | 'debug' = 'info') {
  const lines: Record<string, unknown>[] = [];
  const logger = new JsonLogger(level, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

describe('JSON log lines', () => {
  it('carry level, an ISO time, msg and the Nest context', () => {
    const { logger, lines } = jsonLogger();
    logger.log('Worker started', 'Bootstrap');
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'info',
        time: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
        msg: 'Worker started',
        context: 'Bootstrap',
      }),
    ]);
  });

  it('filter by LOG_LEVEL, verbose counting as debug', () => {
    const info = jsonLogger('info');
    info.logger.debug('hidden', 'X');
    info.logger.verbose('hidden too', 'X');
    info.logger.warn('shown', 'X');
    expect(info.lines.map((l) => l.msg)).toEqual(['shown']);
    const debug = jsonLogger('debug');
    debug.logger.verbose('now shown', 'X');
    expect(debug.lines.map((l) => [l.level, l.msg])).toEqual([['debug', 'now shown']]);
  });

  it('keep the stack of an error logged the Nest way', () => {
    const { logger, lines } = jsonLogger();
    const err = new Error('boom');
    logger.error('Job failed', err.stack, 'Generation');
    expect(lines[0]).toMatchObject({ level: 'error', msg: 'Job failed', context: 'Generation' });
    expect(lines[0].stack).toContain('Error: boom');
  });

  it('carry the ids of the request or job they were written in', async () => {
    const { logger, lines } = jsonLogger();
    await withLogContext({ request_id: 'req-1' }, async () => {
      await Promise.resolve();
      logger.log('inside a request', 'HTTP');
    });
    await withJobContext({ id: 'render-s1-0', data: { sessionId: 's1', sceneIndex: 0 } }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      logger.log('inside a job', 'Generation');
    });
    logger.log('outside', 'Generation');
    expect(lines.map(({ request_id, session_id, job_id }) => ({ request_id, session_id, job_id }))).toEqual([
      { request_id: 'req-1', session_id: undefined, job_id: undefined },
      { request_id: undefined, session_id: 's1', job_id: 'render-s1-0' },
      { request_id: undefined, session_id: undefined, job_id: undefined },
    ]);
  });

  it('never show a signature, a key header or a secret field', () => {
    const { logger, lines } = jsonLogger();
    logger.warn('Fetching /static/a/scene_01.png?expires=1&signature=c2VjcmV0&x=1 failed', 'Download');
    logger.log(
      {
        msg: 'request',
        headers: { authorization: 'Bearer top-secret-key', 'x-api-key': 'top-secret-key' },
        credentials: { secretAccessKey: 'top-secret-s3' },
        apiKey: 'top-secret-key',
      },
      'HTTP',
    );
    const text = lines.map((l) => JSON.stringify(l)).join('\n');
    expect(text).not.toMatch(/c2VjcmV0|top-secret/);
    expect(lines[0].msg).toBe('Fetching /static/a/scene_01.png?expires=1&signature=[redacted]&x=1 failed');
    expect(lines[1]).toMatchObject({
      headers: { authorization: '[redacted]', 'x-api-key': '[redacted]' },
      credentials: { secretAccessKey: '[redacted]' },
      apiKey: '[redacted]',
    });
  });
});

describe('text log lines', () => {
  let written: string[];
  let spy: jest.SpyInstance;
  beforeEach(() => {
    written = [];
    spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
  });
  afterEach(() => spy.mockRestore());

  it("keep Nest's format, with the ids after the message and no colour off a terminal", () => {
    const tty = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
    Object.defineProperty(process.stdout, 'isTTY', { value: undefined, configurable: true });
    let logger;
    try {
      logger = createLogger({ logFormat: 'text', logLevel: 'info' });
    } finally {
      if (tty) Object.defineProperty(process.stdout, 'isTTY', tty);
      else delete (process.stdout as { isTTY?: boolean }).isTTY;
    }
    expect(logger).toBeInstanceOf(TextLogger);
    const text = logger as TextLogger;
    withJobContext({ id: 'plan-s2', data: { sessionId: 's2' } }, () => text.log('Planning', 'Generation'));
    text.log({ msg: 'GET /status/s2 200 1.2 ms', request_id: 'abc-123', status_code: 200 }, 'HTTP');
    text.debug('hidden at info', 'HTTP');
    spy.mockRestore();
    expect(written).toHaveLength(2);
    expect(written[0]).toMatch(
      /^\[Nest\] \d+ {2}- .* {5}LOG \[Generation\] Planning \[session_id=s2 job_id=plan-s2\]\n$/,
    );
    expect(written[1]).toContain('[HTTP] GET /status/s2 200 1.2 ms [request_id=abc-123]');
    expect(written.join('')).not.toContain('\u001b[');
  });
});
