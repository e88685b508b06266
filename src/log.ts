/**
 * JSON-lines logger: one object per line on stdout, so any log shipper can
 * read it. Small on purpose; the hot path (one line per request) is a single
 * JSON.stringify and one write.
 */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type LogFields = Record<string, unknown>;

export interface Logger {
  readonly level: LogLevel;
  trace(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  fatal(msg: string, fields?: LogFields): void;
  child(bindings: LogFields): Logger;
}

export type LogSink = (line: string) => void;

const stdoutSink: LogSink = (line) => process.stdout.write(line + "\n");

export function createLogger(level: LogLevel = "info", sink: LogSink = stdoutSink, bindings: LogFields = {}): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const emit = (lvl: LogLevel) => {
    if (LOG_LEVELS.indexOf(lvl) < threshold) return () => {};
    return (msg: string, fields?: LogFields) => {
      sink(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...bindings, ...serializeErrors(fields) }));
    };
  };
  return {
    level,
    trace: emit("trace"),
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    fatal: emit("fatal"),
    child: (more) => createLogger(level, sink, { ...bindings, ...more }),
  };
}

/** Errors do not survive JSON.stringify; keep their name, message and cause chain. */
function serializeErrors(fields?: LogFields): LogFields | undefined {
  if (!fields) return fields;
  let out: LogFields | undefined;
  for (const [key, value] of Object.entries(fields)) {
    if (value instanceof Error) {
      out ??= { ...fields };
      out[key] = describeError(value);
    }
  }
  return out ?? fields;
}

function describeError(err: Error): LogFields {
  return {
    name: err.name,
    message: err.message,
    stack: err.stack,
    ...(err.cause instanceof Error ? { cause: describeError(err.cause) } : {}),
  };
}
