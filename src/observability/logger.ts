import { ConsoleLogger, LoggerService, LogLevel as NestLevel } from '@nestjs/common';
import pino, { DestinationStream, Logger as Pino } from 'pino';
import type { AppConfig, LogLevel } from '../config/app-config';
import { currentLogContext } from '../common/log-context';

/** Nest's levels shown at each LOG_LEVEL; `verbose` counts as debug in both formats. */
const NEST_LEVELS: Record<LogLevel, NestLevel[]> = {
  error: ['fatal', 'error'],
  warn: ['fatal', 'error', 'warn'],
  info: ['fatal', 'error', 'warn', 'log'],
  debug: ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'],
};

/**
 * Fields no log line may show, wherever a caller puts them. Nothing here logs headers or the configuration
 * wholesale; this is the net under that rule, not the rule. Exact paths only: a wildcard (`*.apiKey`) made
 * every line cost 2.5 times as much.
 */
const SECRET_FIELDS = [
  'apiKey',
  'api_key',
  'secret',
  'secretAccessKey',
  'urlSigningKey',
  'password',
  'signature',
];
const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers.cookie',
  ...SECRET_FIELDS.flatMap((field) => [field, `credentials.${field}`, `config.${field}`]),
];

// A signed image URL's signature is a bearer credential until it expires: never printed, even in a message.
const SIGNATURE = /(\bsignature=)[^&\s"']+/gi;
const scrub = (text: string) => (text.includes('ignature=') ? text.replace(SIGNATURE, '$1[redacted]') : text);

/** A message given as `{msg, ...fields}` (e.g. the access log): the fields become JSON keys, or ids in text. */
type Structured = { msg: string } & Record<string, unknown>;
const isStructured = (message: unknown): message is Structured =>
  typeof message === 'object' && message !== null && typeof (message as Structured).msg === 'string';

/** The logger every line of the process goes through, as LOG_FORMAT and LOG_LEVEL say. */
export function createLogger(config: Pick<AppConfig, 'logFormat' | 'logLevel'>): LoggerService {
  if (config.logFormat === 'json') return new JsonLogger(config.logLevel);
  return new TextLogger({
    logLevels: NEST_LEVELS[config.logLevel],
    // Colour codes only for a terminal: in a file, a pipe or a log collector they are noise.
    colors: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
  });
}

/** Nest's own format, with the request's or job's ids after the message, e.g. `[job_id=… session_id=…]`. */
export class TextLogger extends ConsoleLogger {
  protected override formatMessage(
    logLevel: NestLevel,
    message: unknown,
    pidMessage: string,
    formattedLogLevel: string,
    contextMessage: string,
    timestampDiff: string,
  ): string {
    const ids = { ...currentLogContext(), ...(isStructured(message) ? idsOf(message) : {}) };
    const text = isStructured(message) ? message.msg : message;
    const suffix = Object.entries(ids)
      .map(([name, value]) => `${name}=${value}`)
      .join(' ');
    const shown = typeof text === 'string' ? scrub(suffix ? `${text} [${suffix}]` : text) : text;
    return super.formatMessage(logLevel, shown, pidMessage, formattedLogLevel, contextMessage, timestampDiff);
  }
}

function idsOf(fields: Record<string, unknown>): Record<string, string> {
  const ids: Record<string, string> = {};
  for (const [name, value] of Object.entries(fields)) if (name.endsWith('_id')) ids[name] = String(value);
  return ids;
}

type PinoLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug';

/**
 * One JSON object per line (pino): `level` (a name), `time` (ISO 8601), `msg`, `context` (Nest's logger
 * name), `pid`, `hostname`, the request's or job's ids, and the fields of a structured message.
 */
export class JsonLogger implements LoggerService {
  private readonly pino: Pino;

  /**
   * `destination`: stdout unless a test reads the lines itself. Written synchronously, as Nest's console
   * logger does: Nest ends a process on SIGTERM by re-sending the signal, which would drop lines still
   * queued in an asynchronous writer, such as the last one, "Shut down cleanly".
   */
  constructor(level: LogLevel, destination: DestinationStream = pino.destination({ dest: 1, sync: true })) {
    this.pino = pino(
      {
        level,
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
        mixin: () => currentLogContext() ?? {},
        redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
        serializers: { err: pino.stdSerializers.err },
      },
      destination,
    );
  }

  log(message: unknown, ...params: unknown[]) {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]) {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]) {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]) {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]) {
    this.write('debug', message, params);
  }
  fatal(message: unknown, ...params: unknown[]) {
    this.write('fatal', message, params);
  }

  /**
   * Nest's calling convention: the last string parameter is the logger's context; for errors, a string
   * before it that looks like a stack trace is the stack.
   */
  private write(level: PinoLevel, message: unknown, params: unknown[]): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const rest = [...params];
    const fields: Record<string, unknown> = {};
    if (rest.length > 0 && typeof rest[rest.length - 1] === 'string') fields.context = rest.pop();
    const stack = rest.find((p): p is string => typeof p === 'string' && /\n\s+at /.test(p));
    if (stack) fields.stack = scrub(stack);
    let msg: string;
    if (message instanceof Error) {
      fields.err = message;
      msg = message.message;
    } else if (isStructured(message)) {
      const { msg: text, ...own } = message;
      Object.assign(fields, own);
      msg = text;
    } else msg = typeof message === 'string' ? message : JSON.stringify(message);
    this.pino[level](fields, scrub(msg));
  }
}
