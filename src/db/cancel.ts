// Stopping a statement on the server when its caller gives up: the admin console's Esc aborts the
// HTTP request, Bun fires that Request's `signal` (in-process, and under Bun.serve when the client
// disconnects), and the query in flight gets PostgreSQL's cancel request (postgres.js `.cancel()`).
// The statement then fails with 57014 query_canceled, and its transaction rolls back like after any
// other error: nothing half-written stays.
//
// Traps:
// - PostgreSQL cancels whatever the backend is running when the cancel arrives, not a named
//   statement: a cancel sent just as a statement finishes can land on the next one (the ROLLBACK,
//   the clean-up). So only a query still pending is cancelled, the signal is checked before each
//   new query is sent, and clean-up after a cancel retries once (one cancel request is sent per
//   abort, so at most one later statement can be hit). A cancel that arrives while the backend is
//   idle is dropped by PostgreSQL.
// - A query postgres.js had not sent yet is rejected by postgres.js itself (code 57014, but not a
//   PostgresError): every cancellation is rethrown as the same PostgresError-shaped 57014.

export const QUERY_CANCELED = "57014";

/** A 57014 as PostgreSQL words it; named PostgresError so the API error renderers recognise it. */
export function queryCanceled(): Error {
  return Object.assign(new Error("canceling statement due to user request"), { name: "PostgresError", code: QUERY_CANCELED, severity: "ERROR" });
}

export const isQueryCanceled = (err: unknown): boolean => !!err && typeof err === "object" && (err as { code?: unknown }).code === QUERY_CANCELED;

/** A postgres.js query (PendingQuery): a promise that can be cancelled on the server. */
export type CancellableQuery = PromiseLike<unknown> & { cancel(): void };

export interface Cancellable {
  /** Sends `query` (unless the signal already fired) and cancels it on the server if the signal fires first. */
  run<Q extends CancellableQuery>(query: Q): Promise<Awaited<Q>>;
  /** The signal fired: stop starting new work. */
  readonly aborted: boolean;
  /** Throws a 57014 when the signal fired (before starting the next piece of work). */
  check(): void;
  dispose(): void;
}

export function cancellable(signal: AbortSignal | undefined): Cancellable {
  let current: CancellableQuery | null = null;
  const onAbort = () => {
    current?.cancel();
    current = null;
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  const check = () => {
    if (signal?.aborted) throw queryCanceled();
  };
  return {
    async run<Q extends CancellableQuery>(query: Q): Promise<Awaited<Q>> {
      check();
      current = query;
      try {
        return (await query) as Awaited<Q>;
      } catch (err) {
        // Cancelled by us (or by a statement_timeout: that one keeps PostgreSQL's own words).
        if (signal?.aborted && isQueryCanceled(err)) throw queryCanceled();
        throw err;
      } finally {
        if (current === query) current = null;
      }
    },
    get aborted() {
      return !!signal?.aborted;
    },
    check,
    dispose: () => signal?.removeEventListener("abort", onAbort),
  };
}

/**
 * Runs `step` (a clean-up statement) again once if it fails, for after a cancel: a cancel request
 * that raced its statement may have hit this one instead (see the header). Throws the second error.
 */
export async function retryOnce<T>(step: () => PromiseLike<T>): Promise<T> {
  try {
    return await step();
  } catch {
    return step();
  }
}
