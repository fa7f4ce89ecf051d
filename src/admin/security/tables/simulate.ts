// POST /admin/v1/security/simulate: what a caller (anon, a user by id, service_role) would see or be
// allowed, run in a transaction that is always rolled back, as that caller's role with its
// request.jwt.claims set transaction-locally — exactly as REST sets them (src/db/pool.ts).
//
// Two forms:
// - {as, table, operation[, row, limit]}: Plinth builds the statement (identifiers quoted, values
//   bound) and runs it on the server's connection: select (the rows and the columns the role may
//   read), insert (a row, the caller's id in the owner column unless given), update (SET c = c on
//   every row the caller may touch), delete.
// - {as, query[, params]}: the admin's own statement. That is an attacker's way in, so it is locked
//   three times over:
//   1. the parse tree: exactly one SELECT/INSERT/UPDATE/DELETE (no SELECT INTO, no CALL, DO, SET,
//      COMMIT…); nothing the SQL console's guard refuses (src/admin/meta/guard.ts: server files,
//      role changes in any form); no call of set_config or of the functions whose effects outlive a
//      transaction (session advisory locks, non-transactional logical messages, signals to backends,
//      configuration reloads, WAL switches);
//   2. the connection: the SQL console's pool, whose SESSION user is plinth_console (no superuser):
//      even a function of the database that resets the role lands there, never on a superuser;
//   3. after the statement, in the same transaction, the role and the claims must still be the ones
//      set: if anything changed them the answer is refused and its rows are never sent.
//   It runs with the extended protocol (one statement per message, never a batch) and a statement
//   timeout, and the transaction is rolled back whatever happens: nothing it did is committed.
//   Sequence values it consumes are not given back (PostgreSQL never does that).
import { z } from "zod";
import type { Principal, Sql } from "../../../db/pool.ts";
import { AdminError, AdminErrors, postgresErrorOf } from "../../errors.ts";
import { CONSOLE_ROLE_IS_SAFE, unsafeConsoleRole, type ConsoleDb } from "../../meta/console-login.ts";
import { inspectBatch, isRefusal } from "../../meta/guard.ts";
import { ident, qualified, splitQualified } from "../../meta/ident.ts";
import { bindParams, nodeKind, parseBatch, walk } from "../../meta/parser.ts";
import type { AuditNote } from "../../route.ts";
import { OPERATIONS } from "./document.ts";
import { readTableState } from "./state.ts";

const As = z.union([
  z.object({ user_id: z.uuid(), email: z.string().max(320).optional(), claims: z.record(z.string(), z.unknown()).optional() }).strict(),
  z.object({ role: z.enum(["anon", "authenticated", "service_role"]) }).strict(),
]);

export const SimulateInput = z
  .object({
    as: As,
    table: z.string().min(1).max(140).optional(),
    operation: z.enum(OPERATIONS).optional(),
    /** insert: the row to try (values as JSON; the owner column defaults to the caller's id). */
    row: z.record(z.string().min(1).max(63), z.unknown()).optional(),
    limit: z.number().int().min(0).max(1000).optional(),
    query: z.string().min(1).max(100_000).optional(),
    params: z
      .array(z.union([z.string(), z.number(), z.boolean(), z.null()]))
      .max(100)
      .optional(),
  })
  .strict()
  .refine((v) => (v.query === undefined) !== (v.table === undefined && v.operation === undefined), {
    message: "give either table and operation, or query",
  })
  .refine((v) => v.query !== undefined || (v.table !== undefined && v.operation !== undefined), { message: "table and operation go together" });
export type SimulateInput = z.infer<typeof SimulateInput>;

export interface SimulationResult {
  as: { role: string; user_id: string | null };
  allowed: boolean;
  row_count: number;
  rows?: Record<string, unknown>[];
  columns?: string[];
  hidden_columns?: string[];
  error?: { code: string; message: string };
  truncated?: boolean;
  rolled_back: true;
}

const TIMEOUT_MS = 5_000;
const DEFAULT_LIMIT = 100;

export function principalOf(as: SimulateInput["as"]): Principal {
  if ("role" in as) return { role: as.role, claims: { role: as.role } };
  return {
    role: "authenticated",
    claims: { aud: "authenticated", ...as.claims, sub: as.user_id, role: "authenticated", ...(as.email ? { email: as.email } : {}) },
  };
}

export async function simulate(sql: Sql, consoleDb: ConsoleDb, audit: AuditNote, input: SimulateInput): Promise<SimulationResult> {
  const principal = principalOf(input.as);
  return input.query !== undefined ? simulateQuery(consoleDb, audit, principal, input) : simulateOperation(sql, audit, principal, input);
}

const who = (p: Principal) => ({ role: p.role, user_id: typeof p.claims.sub === "string" ? p.claims.sub : null });

/**
 * Runs `fn` in a transaction on a reserved connection and always rolls it back (postgres.js has no
 * begin() on a reserved connection: BEGIN and ROLLBACK are sent on it directly).
 */
async function rolledBack(conn: Reserved, fn: (tx: Sql) => Promise<SimulationResult>): Promise<SimulationResult> {
  await conn.unsafe("begin");
  try {
    return await fn(conn as unknown as Sql);
  } finally {
    await conn.unsafe("rollback").catch(() => {});
  }
}

type Reserved = Awaited<ReturnType<Sql["reserve"]>>;

const setContext = (tx: Sql, p: Principal) =>
  tx`select set_config('statement_timeout', ${String(TIMEOUT_MS)}, true), set_config('request.jwt.claims', ${JSON.stringify(p.claims)}, true),
            set_config('role', ${p.role}, true)`;

/** A statement's failure as the simulation's answer: denied (42501) or failed, never a 500. */
function failed(p: Principal, err: unknown): SimulationResult {
  const pg = postgresErrorOf(err);
  if (!pg) throw err;
  if (/^(08|53|58|XX|57P)/.test(pg.code)) throw err;
  return { as: who(p), allowed: false, row_count: 0, error: { code: pg.code, message: pg.message }, rolled_back: true };
}

async function simulateOperation(sql: Sql, audit: AuditNote, p: Principal, input: SimulateInput): Promise<SimulationResult> {
  const { schema, name: table } = splitQualified(input.table!, "public");
  audit.target = `${schema}.${table}`;
  const state = await readTableState(sql, schema, table);
  if (!state) throw AdminErrors.notFound(`Table ${schema}.${table}`);
  const target = qualified(schema, table);
  const privileged = await sql<{ name: string; can_read: boolean; can_update: boolean }[]>`
    select attname::text as name, has_column_privilege(${p.role}, attrelid, attnum, 'SELECT') as can_read,
           has_column_privilege(${p.role}, attrelid, attnum, 'UPDATE') as can_update
    from pg_attribute where attrelid = ${state.oid}::oid and attnum > 0 and not attisdropped order by attnum`;
  const readable = privileged.filter((c) => c.can_read).map((c) => c.name);
  const hidden = privileged.filter((c) => !c.can_read).map((c) => c.name);
  const limit = input.limit ?? DEFAULT_LIMIT;

  const conn = await sql.reserve();
  try {
    return await rolledBack(conn, async (tx) => {
      await setContext(tx, p);
      try {
        switch (input.operation!) {
          case "select": {
            if (!readable.length) {
              // Nothing readable: ask anyway, so the answer is PostgreSQL's own refusal.
              await tx.unsafe(`SELECT FROM ${target} LIMIT 0`);
            }
            // Safe: identifiers quoted; the limit is a bound parameter.
            const rows = await tx.unsafe(`SELECT ${readable.map(ident).join(", ")} FROM ${target} LIMIT $1`, [limit + 1]);
            const truncated = rows.length > limit;
            const kept = (truncated ? rows.slice(0, limit) : rows).map((r) => ({ ...r }));
            audit.statements.push(`SELECT … FROM ${target}`);
            return { as: who(p), allowed: true, row_count: kept.length, rows: kept, columns: readable, hidden_columns: hidden, truncated, rolled_back: true };
          }
          case "insert": {
            const row: Record<string, unknown> = { ...input.row };
            const owner = state.stored?.document.owner_column;
            const sub = who(p).user_id;
            if (owner && sub && !(owner in row)) row[owner] = sub;
            const cols = Object.keys(row);
            for (const c of cols) if (!state.columns.some((s) => s.name === c)) throw AdminErrors.validation(`row.${c}: no such column in ${schema}.${table}`);
            const values = cols.map((c) => (row[c] !== null && typeof row[c] === "object" ? JSON.stringify(row[c]) : row[c]));
            // Safe: identifiers quoted, values bound.
            const text = cols.length
              ? `INSERT INTO ${target} (${cols.map(ident).join(", ")}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(", ")})`
              : `INSERT INTO ${target} DEFAULT VALUES`;
            audit.statements.push(text);
            const res = await tx.unsafe(text, values as never[]);
            return { as: who(p), allowed: true, row_count: res.count ?? 1, rolled_back: true };
          }
          case "update": {
            const column = privileged.find((c) => c.can_update && c.can_read) ?? privileged.find((c) => c.can_update);
            if (!column) {
              await tx.unsafe(`UPDATE ${target} SET ${ident(privileged[0]!.name)} = ${ident(privileged[0]!.name)}`);
              throw new Error("unreachable: an update without the privilege succeeded");
            }
            const text = `UPDATE ${target} SET ${ident(column.name)} = ${ident(column.name)}`;
            audit.statements.push(text);
            const res = await tx.unsafe(text);
            return { as: who(p), allowed: (res.count ?? 0) > 0, row_count: res.count ?? 0, rolled_back: true };
          }
          case "delete": {
            const text = `DELETE FROM ${target}`;
            audit.statements.push(text);
            const res = await tx.unsafe(text);
            return { as: who(p), allowed: (res.count ?? 0) > 0, row_count: res.count ?? 0, rolled_back: true };
          }
        }
      } catch (err) {
        if (err instanceof AdminError) throw err;
        return failed(p, err);
      }
    });
  } finally {
    conn.release();
  }
}

/** Functions whose effect outlives the transaction, or that act on other sessions or the server. */
const NON_TRANSACTIONAL =
  /^(set_config|pg_advisory_lock(_shared)?|pg_advisory_unlock(_shared|_all)?|pg_try_advisory_lock(_shared)?|pg_logical_emit_message|pg_terminate_backend|pg_cancel_backend|pg_reload_conf|pg_rotate_logfile|pg_switch_wal|pg_create_.*|pg_drop_replication_slot|pg_replication_.*|pg_promote|pg_wal_replay_.*|pg_log_backend_memory_contexts|dblink.*)$/;

const ALLOWED_KINDS = new Set(["SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt"]);

const notAllowed = (reason: string) => new AdminError(400, "statement_not_allowed", `This query cannot be simulated: ${reason}`);

/** The parse-tree lock (1. above); throws with the reason, or returns the one statement. */
export async function checkSimulatedQuery(query: string) {
  const stmts = await parseBatch(query);
  if (stmts.length !== 1) throw notAllowed(`exactly one statement is simulated (got ${stmts.length})`);
  const s = stmts[0]!;
  const [kind, body] = nodeKind(s.node);
  if (!ALLOWED_KINDS.has(kind)) throw notAllowed(`${kind.replace(/Stmt$/, "").toUpperCase() || "this statement"} is not SELECT, INSERT, UPDATE or DELETE`);
  if (kind === "SelectStmt" && body.intoClause) throw notAllowed("SELECT INTO creates a table");
  const refusals = (await inspectBatch(stmts)).filter(isRefusal);
  if (refusals.length) throw notAllowed(refusals.map((f) => f.reason).join("; "));
  walk(s.node, (key, value) => {
    if (key === "FuncCall") {
      const parts = ((value as { funcname?: unknown[] }).funcname ?? []).map((p) => String((p as { String?: { sval?: string } }).String?.sval ?? ""));
      const fn = (parts[parts.length - 1] ?? "").toLowerCase();
      if (NON_TRANSACTIONAL.test(fn)) throw notAllowed(`${fn}() acts outside the transaction or changes the session`);
    }
    if (key === "SelectStmt" && (value as { intoClause?: unknown }).intoClause) throw notAllowed("SELECT INTO creates a table");
    return true;
  });
  return s;
}

async function simulateQuery(consoleDb: ConsoleDb, audit: AuditNote, p: Principal, input: SimulateInput): Promise<SimulationResult> {
  const s = await checkSimulatedQuery(input.query!);
  const params = input.params ?? [];
  if (s.paramCount > params.length) throw AdminErrors.validation(`query uses $${s.paramCount} but ${params.length} params were given`);
  audit.statements.push(s.text);
  await consoleDb.ready();
  const limit = input.limit ?? DEFAULT_LIMIT;
  const conn = await consoleDb.sql.reserve();
  try {
    return await rolledBack(conn, async (tx) => {
      const [safe] = await tx.unsafe(`select ${CONSOLE_ROLE_IS_SAFE} as safe`);
      if (safe?.safe !== true) throw unsafeConsoleRole();
      await setContext(tx, p);
      let rows: Record<string, unknown>[] & { count?: number | null; columns?: { name: string }[] };
      try {
        // Safe to send: the caller's own statement, checked above; extended protocol (simple: false),
        // so the server itself refuses anything but one statement.
        rows = await tx.unsafe(s.text, bindParams(tx as never, s, params), { simple: false } as never);
      } catch (err) {
        return failed(p, err);
      }
      const [after] = await tx<{ role: string; claims: string | null }[]>`
        select current_user::text as role, current_setting('request.jwt.claims', true) as claims`;
      if (after?.role !== p.role || after?.claims !== JSON.stringify(p.claims)) {
        throw new AdminError(400, "simulation_escaped", "The query changed the role or the claims it ran with: its answer is withheld");
      }
      const truncated = rows.length > limit;
      const kept = (truncated ? rows.slice(0, limit) : rows).map((r) => ({ ...r }));
      const command = nodeKind(s.node)[0];
      const count = command === "SelectStmt" ? rows.length : (rows.count ?? rows.length);
      return {
        as: who(p),
        allowed: true,
        row_count: count,
        rows: kept,
        columns: (rows.columns ?? []).map((c) => c.name),
        truncated,
        rolled_back: true,
      };
    });
  } finally {
    await conn.unsafe("discard all").catch(() => {});
    conn.release();
  }
}
