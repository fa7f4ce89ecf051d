// POST /admin/v1/sql: a batch of statements, parsed first (a syntax error anywhere runs nothing),
// checked by the guard (server files, role changes and the replication role are refused outright;
// dangerous statements need `confirm`, judged on the parse tree and, for DELETE/UPDATE/MERGE, on
// their plan), then run in one transaction on the console's own connection with a time limit and a
// row cap, one result per statement.
//
// Traps:
// - The console's connections log in as plinth_console, never as the server's role (which may be
//   the superuser): see console-login.ts. The guard's refusals are the readable error; the role's
//   missing privileges are what really stops `pg_read_file`, `COPY … TO '/file'` or `set role postgres`.
// - The console runs arbitrary SQL, so session state (SET, SET ROLE, PREPARE, LISTEN, temp tables,
//   advisory locks) could outlive the request. It therefore has its own small pool without named
//   prepared statements, and every request ends with DISCARD ALL on its connection.
// - COMMIT or ROLLBACK inside the batch would end our transaction and let the rest autocommit past
//   the time limit and read-only mode: transaction control (other than savepoints) is refused.
// - `read_only` must hold against `SET transaction_read_only = off`: PostgreSQL refuses that once a
//   query ran, so the time limit is set with a SELECT before the first user statement.
// - The time limit guards against mistakes, not against the caller: an admin may SET their own
//   statement_timeout inside the batch, as they could in psql.
// - COPY FROM STDIN would wait for data forever (and TO STDOUT streams past the row cap): refused.
// - VACUUM, CREATE INDEX CONCURRENTLY and friends cannot run in a transaction block: such a
//   statement runs alone, outside one, when it is the whole batch.
// - A caller who gives up (the console's Esc, a dropped connection: the request's signal) cancels
//   the statement on the server (src/db/cancel.ts): the batch fails with 57014 and its transaction
//   rolls back, so nothing half-written stays. Before the connection goes back to the pool it is
//   reset even if a late cancel hit the ROLLBACK itself.
import { cancellable, type Cancellable } from "../../db/cancel.ts";
import type { Sql } from "../../db/pool.ts";
import { AdminError, AdminErrors, fromPostgres, postgresErrorOf } from "../errors.ts";
import { CONSOLE_ROLE_IS_SAFE, unsafeConsoleRole, type ConsoleDb } from "./console-login.ts";
import { inspectEffects } from "./effect.ts";
import { inspectBatch, isRefusal, type Finding } from "./guard.ts";
import { estimateImpact, type Impact } from "./impact.ts";
import { bindParams, nodeKind, parseBatch, type ParsedStatement } from "./parser.ts";

export interface SqlRequest {
  query: string;
  params?: unknown[];
  read_only?: boolean;
  confirm?: boolean;
  timeout_ms?: number;
  max_rows?: number;
}

export interface StatementResult {
  command: string;
  row_count: number;
  columns: { name: string; type: string }[];
  rows: Record<string, unknown>[];
  truncated: boolean;
}

export interface SqlResponse {
  results: StatementResult[];
  duration_ms: number;
}

export const SQL_DEFAULTS = { timeoutMs: 30_000, maxRows: 1_000 };

/** What the audit log learns from a run. */
export interface RunRecord {
  statements: string[];
  rowCount: number | null;
}

type Conn = Awaited<ReturnType<Sql["reserve"]>>;

/** `signal`: the request's; when it fires, the running statement is cancelled on the server. */
export async function runSql(consoleDb: ConsoleDb, req: SqlRequest, record: RunRecord, signal?: AbortSignal): Promise<SqlResponse> {
  record.statements.push(req.query);
  const cancel = cancellable(signal);
  try {
    return await runWithLogin(consoleDb, req, record, cancel);
  } finally {
    cancel.dispose();
  }
}

async function runWithLogin(consoleDb: ConsoleDb, req: SqlRequest, record: RunRecord, cancel: Cancellable): Promise<SqlResponse> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await runChecked(consoleDb, req, record, cancel);
    } catch (err) {
      // A login refused (class 28: the role's password was changed by another database since the
      // pool checked it). Nothing of the batch ran: it runs on one connection, which was never
      // opened. Log in afresh (console-login.ts sets the password again) and try once more.
      if (!postgresErrorOf(err)?.code.startsWith("28")) throw err;
      consoleDb.loginFailed();
      if (attempt > 0) throw new AdminError(503, "console_unavailable", "The SQL console cannot log in to the database; try again");
    }
  }
}

async function runChecked(consoleDb: ConsoleDb, req: SqlRequest, record: RunRecord, cancel: Cancellable): Promise<SqlResponse> {
  const started = performance.now();
  const stmts = await parseBatch(req.query);
  if (!stmts.length) throw AdminErrors.validation("query has no statements");
  const params = req.params ?? [];
  const needed = Math.max(0, ...stmts.map((s) => s.paramCount));
  if (needed > params.length) throw AdminErrors.validation(`query uses $${needed} but ${params.length} params were given`);
  refuseUnsupported(stmts);

  const findings = await inspectBatch(stmts);
  const refusals = findings.filter(isRefusal);
  if (refusals.length) throw notAllowed(refusals);
  await consoleDb.ready();
  const consoleSql = consoleDb.sql;
  if (!req.confirm) {
    findings.push(...(await inspectEffects(consoleSql, stmts, params, findings)));
    findings.sort((a, b) => a.index - b.index);
    if (findings.length) throw await dangerous(consoleSql, findings, stmts, params);
  }

  const timeoutMs = req.timeout_ms ?? SQL_DEFAULTS.timeoutMs;
  const maxRows = req.max_rows ?? SQL_DEFAULTS.maxRows;
  const alone = stmts.length === 1 && needsNoTransaction(stmts[0]!);
  if (alone && req.read_only) throw AdminErrors.validation(`${nodeKind(stmts[0]!.node)[0]} cannot run read-only`);
  if (!alone && stmts.some(needsNoTransaction)) {
    throw AdminErrors.validation("VACUUM, CONCURRENTLY and database-level statements must be sent alone, not in a batch");
  }

  cancel.check();
  const conn = await consoleSql.reserve();
  try {
    const results = alone
      ? [await runOutsideTransaction(conn, cancel, stmts[0]!, params, timeoutMs, maxRows)]
      : await runInTransaction(conn, cancel, stmts, params, !!req.read_only, timeoutMs, maxRows);
    await nameTypes(conn, results);
    record.rowCount = results.reduce((n, r) => n + r.row_count, 0);
    return { results: results.map(({ typeOids: _, ...r }) => r), duration_ms: Math.round((performance.now() - started) * 1000) / 1000 };
  } finally {
    await reset(conn);
    conn.release();
  }
}

/**
 * The connection as the pool should get it back: outside any transaction, session state wiped.
 * DISCARD ALL fails inside a transaction block, which is where a ROLLBACK that a late cancel hit
 * leaves it (cancel.ts): then roll back and discard again.
 */
async function reset(conn: Conn): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await conn.unsafe("discard all");
      return;
    } catch {
      await conn.unsafe("rollback").catch(() => {});
    }
  }
}

/** A result before its column types are named. */
interface RawResult extends StatementResult {
  typeOids: number[];
}

async function runInTransaction(
  conn: Conn,
  cancel: Cancellable,
  stmts: ParsedStatement[],
  params: unknown[],
  readOnly: boolean,
  timeoutMs: number,
  maxRows: number,
): Promise<RawResult[]> {
  await cancel.run(conn.unsafe(readOnly ? "begin read only" : "begin"));
  try {
    await setUp(conn, cancel, timeoutMs, true);
    const results: RawResult[] = [];
    for (const [i, s] of stmts.entries()) results.push(await runStatement(conn, cancel, s, i, params, maxRows));
    // A caller gone by now gets no commit either: a cancelled batch is never half-kept or kept.
    // (The COMMIT itself is not cancelled: once sent, its outcome is the batch's.)
    cancel.check();
    await conn.unsafe("commit");
    return results;
  } catch (err) {
    await conn.unsafe("rollback").catch(() => {});
    throw err;
  }
}

async function runOutsideTransaction(
  conn: Conn,
  cancel: Cancellable,
  s: ParsedStatement,
  params: unknown[],
  timeoutMs: number,
  maxRows: number,
): Promise<RawResult> {
  await setUp(conn, cancel, timeoutMs, false);
  return runStatement(conn, cancel, s, 0, params, maxRows); // DISCARD ALL afterwards resets the timeout
}

/** The time limit, and the role check on this very connection, in the request's first query. */
async function setUp(conn: Conn, cancel: Cancellable, timeoutMs: number, local: boolean): Promise<void> {
  // Safe: a constant condition of our own; the values are parameters.
  const [row] = await cancel.run(conn.unsafe(`select set_config('statement_timeout', $1, $2), ${CONSOLE_ROLE_IS_SAFE} as safe`, [String(timeoutMs), local]));
  if (row?.safe !== true) throw unsafeConsoleRole();
}

async function runStatement(conn: Conn, cancel: Cancellable, s: ParsedStatement, index: number, params: unknown[], maxRows: number): Promise<RawResult> {
  const bound = bindParams(conn, s, params);
  let prefix = "";
  try {
    if (isPlainQuery(s)) {
      // A cursor, so a huge SELECT never crosses the wire beyond the cap (+1 to detect more).
      const cursor = `plinth_console_${crypto.randomUUID().replace(/-/g, "")}`;
      prefix = `DECLARE ${cursor} NO SCROLL CURSOR FOR `;
      // Safe: the statement is the caller's own SQL (the console's purpose); the cursor name is ours.
      await cancel.run(conn.unsafe(prefix + s.text, bound));
      const rows = await cancel.run(conn.unsafe(`FETCH ${maxRows + 1} FROM ${cursor}`));
      await cancel.run(conn.unsafe(`CLOSE ${cursor}`));
      return shape("SELECT", rows, maxRows);
    }
    const rows = await cancel.run(conn.unsafe(s.text, bound));
    return shape(rows.command ?? "", rows, maxRows);
  } catch (err) {
    const pg = postgresErrorOf(err);
    if (!pg) throw err;
    const extra: Record<string, unknown> = { statement_index: index };
    const e = fromPostgres(pg, extra);
    // PostgreSQL's position counts in the statement we sent; the caller counts in the batch.
    const details = e.data as Record<string, unknown> | undefined;
    if (details && typeof details.position === "number") details.position += s.offset - prefix.length;
    throw e;
  }
}

type Rows = Record<string, unknown>[] & { count?: number | null; columns?: { name: string; type: number }[] };

function shape(command: string, rows: Rows, maxRows: number): RawResult {
  const columns = rows.columns ?? [];
  const truncated = rows.length > maxRows;
  const kept = truncated ? rows.slice(0, maxRows) : rows;
  return {
    command,
    row_count: command === "SELECT" ? kept.length : typeof rows.count === "number" ? rows.count : kept.length,
    columns: columns.map((c) => ({ name: c.name, type: String(c.type) })),
    typeOids: columns.map((c) => c.type),
    rows: kept.map(toJson),
    truncated,
  };
}

/** Values as JSON can carry them: bytea as PostgreSQL's hex text, everything else as parsed. */
function toJson(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) out[k] = v instanceof Uint8Array ? `\\x${Buffer.from(v).toString("hex")}` : v;
  return out;
}

async function nameTypes(conn: Conn, results: RawResult[]): Promise<void> {
  const oids = [...new Set(results.flatMap((r) => r.typeOids))];
  if (!oids.length) return;
  const names = new Map(
    (
      await conn<{ oid: number; name: string }[]>`
      select oid::int8::float8 as oid, format_type(oid, null) as name from pg_type where oid = any(${oids}::oid[])`
    ).map((r) => [r.oid, r.name]),
  );
  for (const r of results) r.columns = r.columns.map((c, i) => ({ name: c.name, type: names.get(r.typeOids[i]!) ?? c.type }));
}

/** A SELECT that DECLARE CURSOR accepts: no INTO, no data-modifying WITH. */
function isPlainQuery(s: ParsedStatement): boolean {
  const [kind, body] = nodeKind(s.node);
  if (kind !== "SelectStmt" || body.intoClause) return false;
  const ctes = ((body.withClause as { ctes?: unknown[] } | undefined)?.ctes ?? []) as Record<string, { ctequery?: unknown }>[];
  return ctes.every((c) => nodeKind(c.CommonTableExpr?.ctequery)[0] === "SelectStmt");
}

const NO_TRANSACTION = new Set(["VacuumStmt", "CreatedbStmt", "DropdbStmt", "AlterSystemStmt", "CreateTableSpaceStmt", "DropTableSpaceStmt"]);

function needsNoTransaction(s: ParsedStatement): boolean {
  const [kind, body] = nodeKind(s.node);
  if (NO_TRANSACTION.has(kind)) return true;
  if ((kind === "IndexStmt" || kind === "DropStmt") && body.concurrent) return true;
  if (kind === "ReindexStmt") {
    return ((body.params ?? []) as { DefElem?: { defname?: string } }[]).some((p) => p.DefElem?.defname === "concurrently");
  }
  return false;
}

const REFUSED_TRANSACTION_KINDS = new Set([
  "TRANS_STMT_BEGIN",
  "TRANS_STMT_START",
  "TRANS_STMT_COMMIT",
  "TRANS_STMT_ROLLBACK",
  "TRANS_STMT_PREPARE",
  "TRANS_STMT_COMMIT_PREPARED",
  "TRANS_STMT_ROLLBACK_PREPARED",
]);

/** Statements the console cannot carry: transaction control, and COPY over the client connection. */
function refuseUnsupported(stmts: ParsedStatement[]): void {
  for (const [i, s] of stmts.entries()) {
    const [kind, body] = nodeKind(s.node);
    const where = { statement_index: i, statement: s.text };
    if (kind === "TransactionStmt" && REFUSED_TRANSACTION_KINDS.has(String(body.kind))) {
      throw new AdminError(
        400,
        "transaction_control",
        "Each request already runs in one transaction; BEGIN, COMMIT and ROLLBACK are not accepted (savepoints are)",
        where,
      );
    }
    // COPY FROM STDIN would wait forever for data this API has no way to send.
    if (kind === "CopyStmt" && !body.filename && !body.is_program) {
      throw new AdminError(400, "copy_stdio", "COPY to or from the client (STDIN/STDOUT) is not supported here; use the REST API or psql", where);
    }
  }
}

/** Refused whatever the caller confirms: the console never reaches server files or another role. */
function notAllowed(refusals: Finding[]): AdminError {
  return new AdminError(
    403,
    "statement_not_allowed",
    `${refusals.length === 1 ? "A statement reaches" : `${refusals.length} statements reach`} outside what the SQL console may do (server files, programs, other roles, the replication role); not run`,
    refusals.map((f) => ({ statement_index: f.index, statement: f.statement, kind: f.kind, reason: f.reason })),
  );
}

async function dangerous(consoleSql: Sql, findings: Finding[], stmts: ParsedStatement[], params: unknown[]): Promise<AdminError> {
  const details: { statement_index: number; statement: string; kind: string; reason: string; impact?: Impact }[] = [];
  for (const f of findings) {
    const impact = await estimateImpact(consoleSql, f, stmts[f.index]!, params);
    details.push({ statement_index: f.index, statement: f.statement, kind: f.kind, reason: f.reason, ...(impact ? { impact } : {}) });
  }
  return AdminErrors.conflict(
    "dangerous_statement",
    `${findings.length === 1 ? "A statement" : `${findings.length} statements`} would destroy data or open access; send again with "confirm": true to run`,
    details,
  );
}
