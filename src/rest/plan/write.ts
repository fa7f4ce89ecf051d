// Write plans: POST (insert / upsert), PUT (single-row upsert by primary key), PATCH, DELETE.
import type { Column, Table } from "../../schema-cache/types.ts";
import type { Preferences, QueryAst } from "../parse/ast.ts";
import { columnNotFound, invalidBody, invalidFilters, missingWhere, putLimit, putMatchingPk } from "../errors.ts";
import { cached, type Ident } from "../sql/ident.ts";
import { attachQuery, lookupColumn, planCond, planLogic, planSelectTree, tableRef, type PlanContext } from "./read.ts";
import type { InsertPlan, MutationPlan, PlannedCond, ReadNode } from "./types.ts";

export type Body = { kind: "json"; value: unknown } | { kind: "none" };

type Row = Record<string, unknown>;
const isRow = (v: unknown): v is Row => typeof v === "object" && v !== null && !Array.isArray(v);

function writeColumn(table: Table, name: string): { column: Column; col: Ident } {
  const column = table.columns.get(name);
  if (!column) throw columnNotFound(table.name, name);
  return { column, col: cached(column.name) };
}

function rowsOf(body: Body): Row[] {
  if (body.kind === "none") return [{}];
  const v = body.value;
  if (Array.isArray(v)) {
    if (!v.every(isRow)) throw invalidBody("All object keys must match");
    return v;
  }
  if (isRow(v)) return [v];
  throw invalidBody("Empty or invalid json");
}

export function planInsert(ctx: PlanContext, table: Table, ast: QueryAst, prefs: Preferences, body: Body, put: boolean): InsertPlan {
  const rows = rowsOf(body);
  let groups: InsertPlan["groups"];
  if (ast.columns) {
    const cols = ast.columns.map((c) => writeColumn(table, c));
    if (prefs.missing === "default") groups = groupByKeys(table, rows, cols.map((c) => c.column.name));
    else groups = [{ columns: cols, rows }];
  } else {
    const keys = Object.keys(rows[0] ?? {});
    const same = (r: Row) => {
      const k = Object.keys(r);
      return k.length === keys.length && k.every((x) => keys.includes(x));
    };
    if (!rows.every(same)) throw invalidBody("All object keys must match");
    groups = [{ columns: keys.map((k) => writeColumn(table, k)), rows }];
  }
  let onConflict: InsertPlan["onConflict"];
  if (put) {
    if (table.pk.length === 0) throw invalidFilters();
    onConflict = { columns: table.pk.map(cached), action: "merge" };
  } else if (prefs.resolution) {
    const keyCols = ast.onConflict ?? table.pk;
    for (const c of keyCols) lookupColumn(table, c);
    if (keyCols.length) onConflict = { columns: keyCols.map(cached), action: prefs.resolution === "merge-duplicates" ? "merge" : "ignore" };
  }
  return { kind: "insert", target: tableRef(table), groups, onConflict, put };
}

/** missing=default: rows that leave out a column get its default, so rows are grouped by key set. */
function groupByKeys(table: Table, rows: Row[], allowed: string[]): InsertPlan["groups"] {
  const byKey = new Map<string, { columns: Array<{ column: Column; col: Ident }>; rows: Row[] }>();
  for (const r of rows) {
    const keys = allowed.filter((c) => Object.hasOwn(r, c));
    const k = keys.join("\u0000");
    let g = byKey.get(k);
    if (!g) byKey.set(k, (g = { columns: keys.map((c) => writeColumn(table, c)), rows: [] }));
    g.rows.push(r);
  }
  return [...byKey.values()];
}

/** PUT: filters must be exactly `pk=eq.value` for each primary-key column, matching the body. */
export function checkPut(table: Table, ast: QueryAst, body: Body): void {
  if (ast.ranges.get("")?.limit !== undefined || ast.ranges.get("")?.offset !== undefined) throw putLimit();
  const root = ast.filters.filter((f) => f.path.length === 0);
  const eqs = new Map<string, string>();
  for (const { filter } of root) {
    const o = filter.expr.operation;
    if (filter.expr.not || o.op !== "eq" || ("quant" in o && o.quant) || filter.field.json.length) throw invalidFilters();
    eqs.set(filter.field.name, o.value);
  }
  if (ast.logic.length || eqs.size !== table.pk.length || !table.pk.every((c) => eqs.has(c))) throw invalidFilters();
  const rows = rowsOf(body);
  if (rows.length !== 1) throw invalidBody("PUT payload must contain a single row");
  for (const c of table.pk) {
    const v = rows[0]![c];
    if (v === undefined || String(v) !== eqs.get(c)) throw putMatchingPk();
  }
}

function rootConds(node: ReadNode, ast: QueryAst): PlannedCond[] {
  const conds: PlannedCond[] = [];
  for (const { path, filter } of ast.filters) if (path.length === 0) conds.push(planCond(node, filter.field, filter.expr));
  for (const { path, tree } of ast.logic) if (path.length === 0) conds.push(planLogic(node, tree));
  return conds;
}

export function planUpdate(table: Table, ast: QueryAst, body: Body): MutationPlan {
  if (body.kind === "none" || !isRow(body.value)) throw invalidBody("Empty or invalid json");
  const row = body.value;
  const names = ast.columns ?? Object.keys(row);
  const columns = names.map((k) => writeColumn(table, k));
  const node: ReadNode = { from: tableRef(table), select: [], embeds: [], where: [], order: [], hasAggregates: false };
  const where = rootConds(node, ast);
  if (where.length === 0) throw missingWhere("UPDATE");
  return { kind: "update", target: tableRef(table), columns, body: row, where };
}

export function planDelete(table: Table, ast: QueryAst): MutationPlan {
  const node: ReadNode = { from: tableRef(table), select: [], embeds: [], where: [], order: [], hasAggregates: false };
  const where = rootConds(node, ast);
  if (where.length === 0) throw missingWhere("DELETE");
  return { kind: "delete", target: tableRef(table), where };
}

/** The representation returned by a write: select= and embeds over the affected rows. */
export function planReturning(ctx: PlanContext, table: Table, ast: QueryAst): ReadNode {
  const node = planSelectTree(ctx, table, ast.select);
  const embedded: QueryAst = { ...ast, filters: ast.filters.filter((f) => f.path.length > 0), logic: ast.logic.filter((l) => l.path.length > 0) };
  attachQuery(node, embedded);
  return node;
}
