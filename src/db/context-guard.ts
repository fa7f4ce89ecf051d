// The request-context guard (migration 0009, auth.request_context_is): the condition every statement
// sent to a context-pool connection (context-pool.ts) carries, and the SQLSTATE it raises. A leaf, so
// the SQL builders that write the guard into their statements (rest/sql/statements.ts) need nothing
// of the pool that runs them.
//
// Trap: the guard must be evaluated before any row is read or written — a condition without column
// references on the outermost query, which PostgreSQL runs once, first ("One-Time Filter"). Put
// anywhere else it could run after rows were produced, or once per row.

/**
 * The guard for a statement with `paramCount` parameters of its own: it takes the two after them,
 * the caller's role and claims JSON, which ContextPool.run appends (and db.runAs, when it falls back
 * to a transaction).
 */
export function guardSql(paramCount: number): string {
  return `auth.request_context_is($${paramCount + 1}, $${paramCount + 2})`;
}

/** SQLSTATE raised by the guard when a connection's context is not the statement's caller. */
export const CONTEXT_MISMATCH = "PLCTX";
