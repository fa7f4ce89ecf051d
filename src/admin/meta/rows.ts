// The rows API (issue 13, "Rows for the console"): browse and edit a table's rows as the database
// owner, like Supabase Studio's table editor — every row, whatever row level security says (the
// admin plane is not a data-API caller; who may reach which table is decided before this, by
// authorizeTable). Request grammar: rows-query.ts; catalog: rows-table.ts; SQL: rows-sql.ts.
//
// Each call is one transaction on the owner connection with, transaction-locally:
// - row_security = off: for a superuser or BYPASSRLS owner a no-op; for an owner that row level
//   security would filter (a FORCE RLS table), an error instead of a silently partial answer;
// - bytea_output = hex, so bytea values read back as `\x…` whatever the server's setting.
// Writes note their statements (placeholders only: values are parameters) and the primary key of
// what they touched in the audit record: target `schema.table#{"id":1}`, as rendered by the
// database (so the same row always reads the same in the log), or `#[{…},…]` for a delete by filter.
import type { Sql, Tx } from "../../db/pool.ts";
import { sanitizeRichText } from "../../lib/sanitize/rich-text.ts";
import type { LogicTree } from "../../rest/parse/ast.ts";
import { parseKey, RowsErrors, type PageQuery, type RowBody } from "./rows-query.ts";
import {
  countUpTo,
  decodeKey,
  decodeRow,
  deleteByKey,
  deleteWhere,
  estimateCount,
  insertRow,
  planColumns,
  planOrder,
  planWhere,
  renderKey,
  selectByKey,
  selectPage,
  updateByKey,
  type Statement,
} from "./rows-sql.ts";
import { columnsInfo, readRowTable, type RowTable } from "./rows-table.ts";

/** What a rows call tells the audit record (structurally the route's AuditNote). */
export interface RowsAudit {
  target: string | null;
  statements: string[];
  rowCount: number | null;
}

/** Up to this many matching rows are counted exactly; beyond, the planner's estimate is given. */
export const EXACT_COUNT_LIMIT = 50_000;
/** A delete by filter lists at most this many keys in its audit target (row_count has the total). */
const AUDIT_KEYS = 100;

export interface RowPage {
  rows: Record<string, unknown>[];
  total: number;
  total_exact: boolean;
  limit: number;
  offset: number;
  columns: Array<{ name: string; type: string; pk: boolean }>;
  primary_key: string[];
}

type Mode = "read" | "write";

async function inRowsTransaction<T>(sql: Sql, mode: Mode, fn: (tx: Tx) => Promise<T>): Promise<T> {
  // Repeatable read for reads: the count and the page see the same rows.
  return (await sql.begin(mode === "read" ? "isolation level repeatable read read only" : "read write", async (tx) => {
    await tx`select set_config('row_security', 'off', true), set_config('bytea_output', 'hex', true)`;
    return fn(tx);
  })) as T;
}

// Safe: every Statement is built by rows-sql.ts from catalog-matched identifiers and $n parameters.
const run = (tx: Tx, s: Statement) => tx.unsafe<Record<string, unknown>[]>(s.text, s.params as never[]);

const target = (t: RowTable, key?: unknown) => `${t.schema}.${t.name}${key === undefined ? "" : `#${JSON.stringify(key)}`}`;

export async function listRows(sql: Sql, audit: RowsAudit, schema: string, name: string, q: PageQuery): Promise<RowPage> {
  return inRowsTransaction(sql, "read", async (tx) => {
    const t = await readRowTable(tx, schema, name);
    const where = planWhere(t, q.where);
    const order = planOrder(t, q.order);
    const [rows, [counted]] = await Promise.all([run(tx, selectPage(t, where, order, q.limit, q.offset)), run(tx, countUpTo(t, where, EXACT_COUNT_LIMIT))]);
    let total = Number(counted!.n);
    let exact = total <= EXACT_COUNT_LIMIT;
    if (!exact) {
      const [plan] = await run(tx, estimateCount(t, where));
      const planned = Number((plan!["QUERY PLAN"] as Array<{ Plan: { "Plan Rows": number } }>)[0]!.Plan["Plan Rows"]);
      // Counting stopped past the limit, so at least that many match whatever the planner thinks.
      total = Math.max(Math.round(planned), EXACT_COUNT_LIMIT + 1);
      exact = false;
    }
    audit.rowCount = rows.length;
    return {
      rows: rows.map((r) => decodeRow(t, r)),
      total,
      total_exact: exact,
      limit: q.limit,
      offset: q.offset,
      columns: columnsInfo(t),
      primary_key: t.pk,
    };
  });
}

/**
 * The table, the key as the request gave it (JSON text), and the audit target set to the key as
 * the database renders it — before the statement, so that a failing write is still logged against
 * its row. A key value of the wrong type fails here (22P02, a 400).
 */
async function keyed(tx: Tx, audit: RowsAudit, schema: string, name: string, segment: string) {
  const t = await readRowTable(tx, schema, name);
  const keyJson = parseKey(segment, t.pk);
  const [k] = await run(tx, renderKey(t, keyJson));
  audit.target = target(t, decodeKey(t, k!));
  return { t, keyJson };
}

export async function getRow(sql: Sql, audit: RowsAudit, schema: string, name: string, segment: string) {
  return inRowsTransaction(sql, "read", async (tx) => {
    const { t, keyJson } = await keyed(tx, audit, schema, name, segment);
    const [row] = await run(tx, selectByKey(t, keyJson));
    audit.rowCount = row ? 1 : 0;
    if (!row) throw RowsErrors.rowNotFound();
    return decodeRow(t, row);
  });
}

/** Rich-text values sanitised as the REST write path does them (lib/sanitize/rich-text.ts). */
function richTextOverrides(columns: ReturnType<typeof planColumns>, body: RowBody): Record<string, unknown> | null {
  const rich = columns.filter((c) => c.plinthType === "rich_text");
  if (!rich.length) return null;
  return Object.fromEntries(rich.map((c) => [c.name, sanitizeRichText(body.value[c.name])]));
}

function note(audit: RowsAudit, s: Statement): Statement {
  audit.statements.push(s.text);
  return s;
}

export async function insertOne(sql: Sql, audit: RowsAudit, schema: string, name: string, body: RowBody) {
  return inRowsTransaction(sql, "write", async (tx) => {
    const t = await readRowTable(tx, schema, name);
    const columns = planColumns(t, body.value);
    const [row] = await run(tx, note(audit, insertRow(t, columns, body.text, richTextOverrides(columns, body))));
    const out = decodeRow(t, row!);
    audit.rowCount = 1;
    audit.target = t.pk.length ? target(t, Object.fromEntries(t.pk.map((k) => [k, out[k]]))) : target(t);
    return out;
  });
}

export async function updateOne(sql: Sql, audit: RowsAudit, schema: string, name: string, segment: string, body: RowBody) {
  return inRowsTransaction(sql, "write", async (tx) => {
    const { t, keyJson } = await keyed(tx, audit, schema, name, segment);
    const columns = planColumns(t, body.value);
    if (!columns.length) throw RowsErrors.nothingToChange();
    const [row] = await run(tx, note(audit, updateByKey(t, keyJson, columns, body.text, richTextOverrides(columns, body))));
    audit.rowCount = row ? 1 : 0;
    if (!row) throw RowsErrors.rowNotFound();
    return decodeRow(t, row);
  });
}

export async function deleteOne(sql: Sql, audit: RowsAudit, schema: string, name: string, segment: string) {
  return inRowsTransaction(sql, "write", async (tx) => {
    const { t, keyJson } = await keyed(tx, audit, schema, name, segment);
    const [row] = await run(tx, note(audit, deleteByKey(t, keyJson)));
    audit.rowCount = row ? 1 : 0;
    if (!row) throw RowsErrors.rowNotFound();
    return decodeRow(t, row);
  });
}

/**
 * Deletes the rows matching the filters (at least one). Beyond one row it needs `confirm`: asked
 * first by a count (no write made just to learn it), then held exactly by the delete itself — if
 * more rows match by the time it runs than the caller may delete unconfirmed, it rolls back and
 * answers 409 with the new count.
 */
export async function deleteMany(sql: Sql, audit: RowsAudit, schema: string, name: string, filters: LogicTree[], confirm: boolean) {
  if (!filters.length) throw RowsErrors.filterRequired();
  return inRowsTransaction(sql, "write", async (tx) => {
    const t = await readRowTable(tx, schema, name);
    const where = planWhere(t, filters);
    if (!confirm) {
      const [c] = await run(tx, countUpTo(t, where, null));
      if (Number(c!.n) > 1) throw RowsErrors.confirmationRequired(Number(c!.n));
    }
    const deleted = await run(tx, note(audit, deleteWhere(t, where)));
    if (!confirm && deleted.length > 1) throw RowsErrors.confirmationRequired(deleted.length);
    audit.rowCount = deleted.length;
    if (t.pk.length && deleted.length) {
      const keys = deleted.slice(0, AUDIT_KEYS).map((r) => decodeKey(t, r));
      audit.target = `${target(t, keys)}${deleted.length > AUDIT_KEYS ? ` (+${deleted.length - AUDIT_KEYS} more)` : ""}`;
    }
    return { deleted: deleted.length };
  });
}
