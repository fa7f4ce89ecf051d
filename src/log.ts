// Structured JSON logs, one line per event. Field names that look secret are redacted here, once,
// so no call site can leak a token or password by accident.
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** The last lines logged (already redacted), for the admin API's /logs; absent on loggers that keep none. */
  recent?: LogRing;
}

/**
 * A bounded ring of recent lines, each with a sequence number to follow from. Lines at info and
 * above are kept even when the output level is higher, so the console shows what happened on a
 * quiet logger; debug lines only when debug is on. What is kept is what the call site passed (its
 * time, level, message and fields object); the line is built — time formatted, secrets redacted —
 * only when someone reads it: keeping a request's line then costs a few stores, not the ~15 µs of
 * formatting it (measured on the REST hot path with the output level above info, 2026-12-04).
 */
export class LogRing {
  private readonly entries: (RawLine | undefined)[];
  private readonly seqs: number[];
  private next = 0;
  /** The sequence number of the newest line (0: none yet). */
  seq = 0;
  constructor(readonly size = 1000) {
    this.entries = new Array(size);
    this.seqs = new Array(size).fill(0);
  }
  push(ms: number, level: Exclude<LogLevel, "silent">, msg: string, fields?: LogFields): void {
    this.entries[this.next] = { ms, level, msg, fields };
    this.seqs[this.next] = ++this.seq;
    this.next = (this.next + 1) % this.size;
  }
  /** Lines after sequence number `after`, oldest first, as they are (or would have been) written. */
  since(after: number): { seq: number; line: LogFields }[] {
    const out: { seq: number; line: LogFields }[] = [];
    for (let i = 0; i < this.size; i++) {
      const at = (this.next + i) % this.size;
      const e = this.entries[at];
      if (e && this.seqs[at]! > after) out.push({ seq: this.seqs[at]!, line: lineOf(e.ms, e.level, e.msg, e.fields) });
    }
    return out;
  }
}

interface RawLine {
  ms: number;
  level: Exclude<LogLevel, "silent">;
  msg: string;
  fields: LogFields | undefined;
}

function lineOf(ms: number, level: string, msg: string, fields?: LogFields): LogFields {
  const line: LogFields = { time: ms === lastMs ? lastIso : new Date(ms).toISOString(), level, msg };
  return fields ? redact(fields, line) : line;
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

export function createLogger(level: LogLevel = "info", write: (line: string) => void = defaultWrite, ring: LogRing | null = new LogRing()): Logger {
  const min = ORDER[level];
  const keep = Math.min(min, ORDER.info);
  const emit = (lvl: Exclude<LogLevel, "silent">, msg: string, fields?: LogFields) => {
    if (ORDER[lvl] < keep || (ORDER[lvl] < min && !ring)) return;
    if (ORDER[lvl] < min) return ring!.push(Date.now(), lvl, msg, fields);
    const line: LogFields = { time: isoNow(), level: lvl, msg };
    if (fields) redact(fields, line);
    ring?.push(lastMs, lvl, msg, fields);
    write(JSON.stringify(line));
    // Warnings and errors go out at once (with anything queued before them).
    if (write === defaultWrite && ORDER[lvl] >= ORDER.warn) flushLines();
  };
  return {
    ...(ring ? { recent: ring } : {}),
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

export const silentLogger: Logger = createLogger("silent", defaultWrite, null);
