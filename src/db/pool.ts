// The postgres.js pool and the one way data-plane work reaches it: withPrincipal, which runs a
// transaction as the caller's role with the caller's JWT claims set transaction-locally, so row
// level security decides what the caller sees, exactly as PostgREST and Supabase Storage do.
import postgres from "postgres";
import { CONTEXT_MISMATCH } from "./context-guard.ts";
import { CONNECTION_LOST, connectionGoingAway, ContextPool, failedBeforeSending } from "./context-pool.ts";

export type Sql = postgres.Sql;
// What withPrincipal hands its callback: a reserved connection inside an explicit transaction. Typed as
// postgres.js's TransactionSql so helpers work with either; savepoint()/prepare() are not available on it.
export type Tx = postgres.TransactionSql;

/** The roles a request may run as. Anything else in a JWT's `role` claim is refused at the gateway. */
export const API_ROLES = ["anon", "authenticated", "service_role"] as const;
export type ApiRole = (typeof API_ROLES)[number];
export const isApiRole = (r: unknown): r is ApiRole => typeof r === "string" && (API_ROLES as readonly string[]).includes(r);

export interface Principal {
  role: ApiRole;
  /** The verified JWT claims ({} for none); exposed to SQL as request.jwt.claims. */
  claims: Record<string, unknown>;
  /** JSON.stringify(claims), when the gateway already has it (its verified-token cache keeps it). */
  claimsJson?: string;
}

export const claimsText = (p: Principal): string => p.claimsJson ?? JSON.stringify(p.claims);

/** What PostgREST also exposes to SQL during a request (request.method, request.path, request.headers). */
export interface RequestInfo {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
}

export interface Database {
  sql: Sql;
  /** Transactions currently open through withPrincipal / inTransaction (for /metrics). */
  readonly active: number;
  readonly max: number;
  withPrincipal<T>(principal: Principal, fn: (tx: Tx) => Promise<T>, request?: RequestInfo): Promise<T>;
  /**
   * One read-only statement as the principal, in a single round trip: BEGIN, the context, the
   * statement and COMMIT are sent back to back. Only for statements that write nothing, since the
   * commit is already on its way when the rows arrive (a failed statement makes it a ROLLBACK).
   */
  readAs<R extends postgres.Row[]>(principal: Principal, build: (tx: Tx) => postgres.PendingQuery<R>, request?: RequestInfo): Promise<R>;
  /**
   * One statement as the principal on a connection that keeps the caller's context at session level
   * (see context-pool.ts): no transaction of its own, so it must be a single statement that is
   * complete on its own, and it must carry `guardSql(params.length)` (context-guard.ts) where it is
   * evaluated before any row is read or written. The fallback is this method's own business: when
   * the guard finds the connection is not the caller's, or the statement was never sent, it runs in
   * a transaction instead (readAs for a read, else withPrincipal), with `request` set there; callers
   * see one answer either way and choose nothing.
   */
  runAs<R extends postgres.Row[]>(principal: Principal, text: string, params: readonly unknown[], opts?: { read?: boolean; request?: RequestInfo }): Promise<R>;
  close(timeoutSeconds?: number): Promise<void>;
}

/**
 * A request never waits longer than this for a connection: with the database down (a restart, a
 * killed postmaster) it gets a "database unavailable" error it can answer with 503, instead of
 * hanging. Also the cap on a new connection's handshake.
 */
export const ACQUIRE_TIMEOUT_MS = 4_000;
const CONNECT_TIMEOUT_S = 4;

/** SQLSTATE of the error a request gets when no connection could be had in time. */
export const DATABASE_UNAVAILABLE = "08001";

/**
 * Whether an error means the database could not be reached or the connection was lost (refused,
 * closed, timed out, the server shutting down or restarting), as opposed to an error of the
 * statement: callers answer these with 503, a state the client may retry.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return false;
  return (
    code.startsWith("08") ||
    code === "57P01" ||
    code === "57P02" ||
    code === "57P03" ||
    code === "ECONNREFUSED" ||
    code === "ECONNRESET" ||
    code === "EPIPE" ||
    code === "ETIMEDOUT" ||
    code === "CONNECTION_CLOSED" ||
    code === "CONNECTION_ENDED" ||
    code === "CONNECTION_DESTROYED" ||
    code === "CONNECT_TIMEOUT"
  );
}

/**
 * sql.reserve() with a deadline. Trap: postgres.js's reserve() waits in the pool's queue, and after
 * every connection failed at once (the server killed), a queued reservation was seen to wait forever
 * even once the server was back (measured: 4 of 4 writers stuck). A late reservation is released at
 * once, so the connection returns to the pool.
 */
export async function reserveWithin(sql: Sql, ms: number): Promise<postgres.ReservedSql> {
  const pending = sql.reserve();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(unavailable(`no database connection within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([pending, deadline]);
  } catch (err) {
    pending.then(
      (c) => c.release(),
      () => {},
    );
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Guards one reserved postgres.js connection against its traps when the connection dies mid-request
 * (measured with kill -9 of the postmaster under a write load: requests hung for good):
 * - queries queued behind a pipelined one on a reserved connection are neither sent nor rejected
 *   once it closes, so everything awaited is raced against the first connection-level failure;
 * - release() puts a closed connection back into the pool's open list, where the next request would
 *   hang on it, so a lost connection is not released (the pool already counts it as closed and
 *   reconnects it when needed), and no ROLLBACK is sent on it.
 */
class ConnectionWatch {
  lost = false;
  private fail!: (err: unknown) => void;
  private readonly failed = new Promise<never>((_, reject) => (this.fail = reject));

  constructor() {
    this.failed.catch(() => {});
  }

  /** Watches a query sent on the connection: a connection-level failure marks it lost. */
  track<T>(p: Promise<T>): Promise<T> {
    p.catch((err: unknown) => {
      if (isDatabaseUnavailable(err)) {
        this.lost = true;
        this.fail(err);
      }
    });
    return p;
  }

  /** p, or the connection's failure if that comes first. */
  race<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.failed]);
  }

  release(conn: postgres.ReservedSql): void {
    if (!this.lost) conn.release();
  }
}

function unavailable(detail: string): Error {
  return Object.assign(new Error("The database is unavailable"), { name: "PostgresError", code: DATABASE_UNAVAILABLE, detail });
}

export interface PoolOptions {
  max?: number;
  /** Seconds an idle connection stays open. */
  idleTimeout?: number;
  onnotice?: (notice: postgres.Notice) => void;
}

export function connect(url: string, opts: PoolOptions = {}): Database {
  const sql = postgres(url, {
    max: opts.max ?? 10,
    idle_timeout: opts.idleTimeout ?? 60,
    connect_timeout: CONNECT_TIMEOUT_S,
    // postgres.js waits before reconnecting a connection that closed with an error, growing with
    // every error the pool has seen (up to 20 s): after a database restart that kept requests
    // waiting for seconds once the server was back. A short fixed pause is enough against a busy loop.
    backoff: () => 0.05,
    // Notices (e.g. "relation already exists, skipping") are not errors; keep them out of stdout.
    onnotice: opts.onnotice ?? (() => {}),
    connection: { application_name: "plinth" },
    // Bigints and numerics beyond 2^53 must not lose precision: postgres.js returns them as strings.
  });
  let active = 0;
  let contexts: ContextPool | null = null;
  /** A reserved connection within the deadline, counted in `active` until released (the caller's finally). */
  const acquire = async (): Promise<postgres.ReservedSql> => {
    active++;
    try {
      return await reserveWithin(sql, ACQUIRE_TIMEOUT_MS);
    } catch (err) {
      active--;
      throw err;
    }
  };
  const db: Database = {
    sql,
    get active() {
      return active + (contexts?.active ?? 0);
    },
    max: opts.max ?? 10,
    async withPrincipal(principal, fn, request) {
      const conn = await acquire();
      const watch = new ConnectionWatch();
      try {
        // Pipelined: BEGIN and the context setup are sent together with the callback's first query,
        // so a one-statement request costs two round trips (that batch, then COMMIT) instead of the
        // four of sql.begin(). postgres.js sends a connection's queries in the order they are started.
        const setup = watch.track(Promise.all([watch.track(conn.unsafe("begin")), watch.track(setRequestContext(conn, principal, request))]));
        setup.catch(() => {}); // observed below; a failed setup also fails the callback's queries
        let result: Awaited<ReturnType<typeof fn>>;
        try {
          result = await watch.race(fn(conn as unknown as Tx));
          await setup;
        } catch (err) {
          if (!watch.lost) await watch.race(conn.unsafe("rollback")).catch(() => {});
          // A refused role or claims makes every later query fail with "transaction is aborted":
          // report the cause, not the symptom.
          throw (
            (await setup.then(
              () => null,
              (e: unknown) => e,
            )) ?? err
          );
        }
        await watch.race(watch.track(conn.unsafe("commit")));
        return result;
      } finally {
        watch.release(conn);
        active--;
      }
    },
    async readAs(principal, build, request) {
      const conn = await acquire();
      const watch = new ConnectionWatch();
      try {
        const begin = watch.track(conn.unsafe("begin"));
        const setup = watch.track(setRequestContext(conn, principal, request));
        const query = watch.track(build(conn as unknown as Tx));
        const commit = watch.track(conn.unsafe("commit"));
        // allSettled starts them in this order, and postgres.js sends a connection's queries in order.
        const [b, s, q, c] = await watch.race(Promise.allSettled([begin, setup, query, commit]));
        for (const r of [b, s, q, c]) if (r.status === "rejected") throw r.reason;
        return (q as PromiseFulfilledResult<Awaited<typeof query>>).value;
      } catch (err) {
        if (!watch.lost) await watch.race(conn.unsafe("rollback")).catch(() => {});
        throw err;
      } finally {
        watch.release(conn);
        active--;
      }
    },
    async runAs(principal, text, params, runOpts = {}) {
      contexts ??= new ContextPool(url, { max: opts.max ?? 10, idleTimeout: opts.idleTimeout ?? 60 });
      const claims = claimsText(principal);
      try {
        return await contexts.run(principal.role, claims, text, params);
      } catch (err) {
        // PLCTX: the guard refused to run as anyone but the caller. 42501: a privilege error, which a
        // wrong role could also cause before the guard runs. Either way nothing was done: ask again
        // the slow, certain way (a transaction that sets the context itself). So is a statement
        // that was never sent (no connection, or the context could not be set). A read may also be
        // asked again when its connection was lost (a write might have committed: not retried).
        const code = (err as { code?: unknown })?.code;
        const retry =
          code === CONTEXT_MISMATCH ||
          code === "42501" ||
          failedBeforeSending(err) ||
          (runOpts.read && (code === CONNECTION_LOST || connectionGoingAway(code)));
        if (!retry) throw err;
        // The guard's parameters follow the statement's own; in the transaction the context is set.
        const all = [...params, principal.role, claims] as string[];
        const run = (tx: Tx) => tx.unsafe(text, all, { prepare: true }) as unknown as postgres.PendingQuery<never>;
        return runOpts.read ? db.readAs(principal, run, runOpts.request) : db.withPrincipal(principal, run, runOpts.request);
      }
    },
    async close(timeout = 5) {
      await Promise.all([sql.end({ timeout }), contexts?.close(timeout)]);
    },
  };
  return db;
}

/**
 * One round trip sets everything transaction-locally (the third argument `true` of set_config), so
 * nothing leaks to the next transaction on the same pooled connection. `set_config('role', …)` is
 * what `SET LOCAL ROLE` does, but takes a bind parameter.
 */
function setRequestContext(tx: postgres.ReservedSql, principal: Principal, request: RequestInfo = {}): postgres.PendingQuery<postgres.Row[]> {
  // Only request.jwt.claims, as PostgREST 10+ and Supabase do: the per-claim settings
  // (request.jwt.claim.sub, …) are gone there too, and auth.uid()/role()/email() fall back to it.
  return tx`select
    set_config('role', ${principal.role}, true),
    set_config('request.jwt.claims', ${claimsText(principal)}, true),
    set_config('request.method', ${request.method ?? ""}, true),
    set_config('request.path', ${request.path ?? ""}, true),
    set_config('request.headers', ${JSON.stringify(request.headers ?? {})}, true)`;
}
