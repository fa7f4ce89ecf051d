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
    const line: LogFields = { time: isoNow(), level: lvl, msg };
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

/** The current time as ISO 8601, formatted once per millisecond however many lines share it. */
let lastMs = 0;
let lastIso = "";
function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

// Lines leave in batches: at most FLUSH_MS after the first of them, or at once when FLUSH_LINES
// are waiting (one system call per batch instead of one per request under load). A warning or an
// error flushes everything queued before it and itself; exit flushes the rest.
const FLUSH_MS = 25;
const FLUSH_LINES = 256;
let queued: string[] = [];
let flushTimer: ReturnType<typeof setTimeout> | null = null;

function defaultWrite(line: string): void {
  queued.push(line);
  if (queued.length >= FLUSH_LINES) flushLines();
  else if (!flushTimer) {
    flushTimer = setTimeout(flushLines, FLUSH_MS);
    flushTimer.unref?.();
  }
}

function flushLines(): void {
  if (flushTimer) {
    clearTimeout(flushTimer);
    flushTimer = null;
  }
  if (queued.length === 0) return;
  const out = queued.join("\n") + "\n";
  queued = [];
  process.stdout.write(out);
}

process.on("exit", flushLines);

export const silentLogger: Logger = createLogger("silent");
