// Structured JSON logs, one line per event. Field names that look secret are redacted here, once,
// so no call site can leak a token or password by accident.
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
const SECRET_KEY = /pass|secret|token|authorization|apikey|api_key|cookie|otp|code_verifier/i;

/** Field name → whether it looks secret (the same few names recur on every line). */
const secretKeys = new Map<string, boolean>();
const isSecretKey = (k: string): boolean => {
  let secret = secretKeys.get(k);
  if (secret === undefined) {
    secret = SECRET_KEY.test(k);
    if (secretKeys.size < 1000) secretKeys.set(k, secret);
  }
  return secret;
};

/** `fields` with secret-looking values replaced, added to `out` (a new object by default). */
export function redact(fields: LogFields, out: LogFields = {}): LogFields {
  for (const k in fields) {
    const v = fields[k];
    if (isSecretKey(k)) out[k] = "[redacted]";
    else if (v instanceof Error) out[k] = { name: v.name, message: v.message };
    else out[k] = v;
  }
  return out;
}

export function createLogger(level: LogLevel = "info", write: (line: string) => void = defaultWrite): Logger {
  const min = ORDER[level];
  const emit = (lvl: Exclude<LogLevel, "silent">, msg: string, fields?: LogFields) => {
    if (ORDER[lvl] < min) return;
    const line: LogFields = { time: new Date().toISOString(), level: lvl, msg };
    write(JSON.stringify(fields ? redact(fields, line) : line));
    // Warnings and errors go out at once (with anything queued before them).
    if (write === defaultWrite && ORDER[lvl] >= ORDER.warn) flushLines();
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

// Lines written in one turn of the event loop leave in one write (one system call instead of one
// per request under load); the queue is flushed at the end of the turn, before a warning or error
// is written, and on exit.
let queued: string[] = [];
let flushScheduled = false;

function defaultWrite(line: string): void {
  queued.push(line);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushLines);
  }
}

function flushLines(): void {
  flushScheduled = false;
  if (queued.length === 0) return;
  const out = queued.join("\n") + "\n";
  queued = [];
  process.stdout.write(out);
}

process.on("exit", flushLines);

export const silentLogger: Logger = createLogger("silent");
