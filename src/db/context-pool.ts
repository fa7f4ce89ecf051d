// Connections that keep a caller's context — role and request.jwt.claims — set at session level, so
// a data API request whose caller matches a connection's context runs as ONE statement in
// autocommit: no BEGIN, no set_config, no COMMIT — close to what the same query costs a bare
// handler. The rules that keep it as safe as a transaction per request:
//
// 1. A context is changed only on an idle connection, and the change is awaited before the
//    caller's statement is sent: nothing is ever pipelined behind an unconfirmed change. (A SET in a
//    statement that fails is rolled back by PostgreSQL, so a failed change leaves the old context.)
// 2. Every statement carries the guard `auth.request_context_is($role, $claims)` (migration 0009),
//    evaluated before any row is read or written: if the session is not that caller for any reason —
//    a reconnect, user SQL that changed the role or claims at session level, a bug here — the
//    statement fails with PLCTX and nothing of it runs to completion or reaches the caller. run()
//    then marks the connection's context unknown, and db.runAs answers from a transaction instead.
// 3. New connections log in with role anon and no claims (least privilege), and the pool never hands
//    a connection to anything but guarded statements.
//
// Requests with the same context share connections the way postgres.js's own pool does: several
// statements in flight on one connection (pipelined), after every connection is busy.
//
// The client is Bun's native PostgreSQL driver (Bun.SQL), not postgres.js: it speaks the protocol
// from native code, where postgres.js runs on the node:net compatibility layer. Measured on the REST
// benchmark's read (bench/RESULTS.md): 22–25 µs of server CPU per request against 33–51 µs for the
// same bare handler on postgres.js. Everything else (transactions, migrations, LISTEN, logical
// replication) stays on postgres.js.
import { CONTEXT_MISMATCH } from "./context-guard.ts";

type Row = Record<string, unknown>;

interface Slot {
  conn: Bun.ReservedSQL;
  /** role + NUL + claims JSON of the session after every statement sent so far; null: unknown. */
  key: string | null;
  inflight: number;
  lastUsed: number;
}

/** Statements in flight on one connection before another caller waits. */
const DEPTH = 8;
/** How long callers skip this pool after it failed to connect. */
const RETRY_CONNECT_MS = 5_000;

export interface ContextPoolOptions {
  max: number;
  /** Seconds an idle connection stays reserved. */
  idleTimeout?: number;
}

/** SQLSTATE (connection_failure) of the error run() throws when the connection itself failed. */
export const CONNECTION_LOST = "08006";

export class ContextPool {
  private sql: Bun.SQL;
  private slots: Slot[] = [];
  private opening = 0;
  private waiters: Array<() => void> = [];
  private sweeper: ReturnType<typeof setInterval>;
  private closed = false;
  private unavailableUntil = 0;

  constructor(
    private readonly url: string,
    private readonly opts: ContextPoolOptions,
  ) {
    this.sql = this.open();
    const idleMs = (opts.idleTimeout ?? 60) * 1000;
    this.sweeper = setInterval(() => this.sweep(idleMs), Math.min(idleMs, 30_000));
    this.sweeper.unref?.();
  }

  private open(): Bun.SQL {
    return new Bun.SQL({
      url: this.url,
      max: this.opts.max,
      // Connections are reserved by this pool for their lifetime (the sweeper releases idle ones,
      // which the driver then closes after a second).
      idleTimeout: 1,
      maxLifetime: 0,
      connectionTimeout: 4, // seconds; pool.ts ACQUIRE_TIMEOUT_MS: a request never waits longer for a connection
      connection: { application_name: "plinth-rest", role: "anon" },
    });
  }

  /**
   * Runs `text` with `params` followed by the guard's two parameters (role, claims): the statement
   * must reference them as $n+1 and $n+2 in its guard (guardSql, context-guard.ts). Rows come back
   * as postgres.js returns them (bigint as text); a write's result carries `count`, the rows it
   * affected.
   */
  async run<R extends Row[]>(role: string, claims: string, text: string, params: readonly unknown[]): Promise<R> {
    const key = `${role}\u0000${claims}`;
    // After a failed connection attempt, callers go their other way at once for a few seconds
    // rather than each waiting on a connection that is not there.
    if (performance.now() < this.unavailableUntil) throw notStarted(connectionLost(new Error("the data API's connections are unavailable")));
    let slot: Slot;
    try {
      slot = await this.acquire(key);
    } catch (err) {
      // No connection (refused, timed out, a URL this client cannot use): nothing was sent.
      this.unavailableUntil = performance.now() + RETRY_CONNECT_MS;
      throw notStarted(asPostgresError(err) ?? connectionLost(err));
    }
    let sent = false;
    try {
      if (slot.key !== key) {
        slot.key = null;
        // Session level (false): the context outlives this statement, which is the point.
        await slot.conn.unsafe("select set_config('role', $1, false), set_config('request.jwt.claims', $2, false)", [role, claims]);
        slot.key = key;
      }
      sent = true;
      return (await slot.conn.unsafe(text, [...params, role, claims])) as unknown as R;
    } catch (err) {
      const pg = asPostgresError(err);
      // A statement that fails is rolled back with every setting it changed, so an ordinary error
      // leaves the session as it was. The guard's refusal, or a failure of the connection itself,
      // leaves it unknown: set it again next time.
      const lost = !pg || connectionGoingAway(pg.code);
      if (lost || pg.code === CONTEXT_MISMATCH) slot.key = null;
      // The connection itself failed, or its backend is going away: start over with fresh ones.
      if (lost) this.recycle();
      const e = pg ?? connectionLost(err);
      // Failing to set the context means the caller's statement never went out.
      throw sent ? e : notStarted(e);
    } finally {
      slot.inflight--;
      slot.lastUsed = performance.now();
      this.wake();
    }
  }

  /** Statements currently in flight. */
  get active(): number {
    let n = 0;
    for (const s of this.slots) n += s.inflight;
    return n;
  }

  private async acquire(key: string): Promise<Slot> {
    for (;;) {
      if (this.closed) throw new Error("the database pool is closed");
      let match: Slot | null = null;
      let idle: Slot | null = null;
      for (const s of this.slots) {
        if (s.key === key && s.inflight < DEPTH && (!match || s.inflight < match.inflight)) match = s;
        else if (s.inflight === 0 && !idle) idle = s;
      }
      // An idle connection of this context first, then an idle one to switch, then a new one, and
      // only then a statement pipelined behind others of the same context.
      const pick = match && match.inflight === 0 ? match : (idle ?? (this.slots.length + this.opening < this.opts.max ? null : match));
      if (pick) {
        pick.inflight++;
        return pick;
      }
      if (this.slots.length + this.opening < this.opts.max) {
        this.opening++;
        const sql = this.sql;
        try {
          const conn = await sql.reserve();
          if (sql !== this.sql || this.closed) {
            void conn.release().catch(() => {});
            continue;
          }
          const slot: Slot = { conn, key: null, inflight: 1, lastUsed: performance.now() };
          this.slots.push(slot);
          return slot;
        } finally {
          this.opening--;
        }
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private wake() {
    const w = this.waiters.shift();
    if (w) w();
  }

  /** A connection failed (server restart, terminated backend): start over with fresh connections. */
  private recycle() {
    const old = this.sql;
    const oldSlots = this.slots;
    this.sql = this.open();
    this.slots = [];
    // In-flight statements on the old connections finish or fail on their own; then they close.
    void Promise.allSettled(oldSlots.map((s) => s.conn.release())).then(() => old.close({ timeout: 5 }).catch(() => {}));
    for (const w of this.waiters.splice(0)) w();
  }

  private sweep(idleMs: number) {
    const now = performance.now();
    const keep: Slot[] = [];
    for (const s of this.slots) {
      if (s.inflight === 0 && now - s.lastUsed > idleMs) void s.conn.release().catch(() => {});
      else keep.push(s);
    }
    this.slots = keep;
  }

  async close(timeoutSeconds = 5): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const w of this.waiters.splice(0)) w();
    await Promise.allSettled(this.slots.map((s) => s.conn.release()));
    this.slots = [];
    await this.sql.close({ timeout: timeoutSeconds });
  }
}

/**
 * A server error (it has a SQLSTATE) in the shape postgres.js gives its errors, which the services'
 * error mapping reads; null for errors of the connection or the driver itself.
 */
function asPostgresError(err: unknown): (Error & { code: string }) | null {
  const e = err as {
    errno?: unknown;
    message?: string;
    detail?: string;
    hint?: string;
    severity?: string;
    constraint?: string;
    table?: string;
    schema?: string;
    column?: string;
  };
  if (typeof e?.errno !== "string" || !/^[0-9A-Z]{5}$/.test(e.errno)) return null;
  return Object.assign(new Error(e.message ?? ""), {
    name: "PostgresError",
    code: e.errno,
    detail: e.detail,
    hint: e.hint,
    severity: e.severity,
    constraint_name: e.constraint,
    table_name: e.table,
    schema_name: e.schema,
    column_name: e.column,
  });
}

/** SQLSTATE classes 08 (connection exception) and 57P (the backend is shutting down or was terminated). */
export const connectionGoingAway = (code: unknown): boolean => typeof code === "string" && (code.startsWith("08") || code.startsWith("57P"));

/**
 * Marks an error that happened before the caller's statement was sent: the caller may run it
 * another way (db.runAs answers from a transaction), write or not.
 */
function notStarted<E extends Error>(e: E): E & { notStarted: true } {
  return Object.assign(e, { notStarted: true as const });
}

/** Whether run() failed before sending the caller's statement. */
export const failedBeforeSending = (err: unknown): boolean => (err as { notStarted?: unknown })?.notStarted === true;

/** A driver-level failure (closed socket, refused connection) as a connection_failure error. */
function connectionLost(err: unknown): Error {
  return Object.assign(new Error("The database connection was lost"), {
    name: "PostgresError",
    code: CONNECTION_LOST,
    detail: (err as Error)?.message,
    cause: err,
  });
}
