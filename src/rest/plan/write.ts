// Write plans: POST (insert / upsert), PUT (single-row upsert by primary key), PATCH, DELETE.
import type { Column, Table } from "../../schema-cache/types.ts";
import type { Body, Preferences, QueryAst } from "../parse/ast.ts";
import { columnNotFound, invalidBody, invalidFilters, missingWhere, notImplemented, putLimit, putMatchingPk } from "../errors.ts";
import { sanitizeRichText } from "../../lib/sanitize/rich-text.ts";
import { cached, type Ident } from "../sql/ident.ts";
import { attachQuery, computedOf, lookupColumn, planCond, planLogic, planOrder, planSelectTree, tableRef, type PlanContext } from "./read.ts";
import type { InsertPlan, LimitedMutation, MutationPlan, PlannedCond, ReadNode } from "./types.ts";

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

/**
 * What the write path does to values of Plinth's column types before they reach SQL: rich text is
 * sanitised (sanitize/rich-text.ts); file references are collected so execute can check, in the
 * same transaction and as the caller, that each names a storage object the caller may see.
 */
export interface WriteValues {
  rows: Row[];
  fileRefs: Array<{ bucket: string; path: string }>;
}

export function prepareValues(table: Table, rows: Row[], columns: string[]): WriteValues {
  const rich = columns.filter((c) => table.columns.get(c)?.plinthType === "rich_text");
  const files = columns.filter((c) => table.columns.get(c)?.plinthType === "file_ref");
  if (!rich.length && !files.length) return { rows, fileRefs: [] };
  const seen = new Set<string>();
  const fileRefs: WriteValues["fileRefs"] = [];
  const out = rows.map((r) => {
    if (!rich.some((c) => Object.hasOwn(r, c))) return r;
    const copy = { ...r };
    for (const c of rich) if (Object.hasOwn(copy, c)) copy[c] = sanitizeRichText(copy[c]);
    return copy;
  });
  for (const r of out) {
    for (const c of files) {
      const v = r[c];
      // A malformed reference is left to the domain's CHECK (23514); only well-formed ones are looked up.
      if (!isRow(v) || typeof v.bucket !== "string" || typeof v.path !== "string") continue;
      const k = `${v.bucket}\u0000${v.path}`;
      if (seen.has(k)) continue;
      seen.add(k);
      fileRefs.push({ bucket: v.bucket, path: v.path });
    }
  }
  return { rows: out, fileRefs };
}

/**
 * file_ref columns whose object goes when the reference does: the column's comment carries
 * `plinth.file_ref.on_remove=delete` (e.g. `comment on column posts.cover is
 * 'plinth.file_ref.on_remove=delete'`). Without it a removed reference leaves the object alone.
 */
export function ownedFileColumns(table: Table, columns: string[]): Ident[] {
  return columns
    .map((c) => table.columns.get(c))
    .filter((c): c is Column => !!c && c.plinthType === "file_ref" && /\bplinth\.file_ref\.on_remove\s*=\s*delete\b/i.test(c.description ?? ""))
    .map((c) => cached(c.name));
}

export function planInsert(
  ctx: PlanContext,
  table: Table,
  ast: QueryAst,
  prefs: Preferences,
  body: Body,
  put: boolean,
): InsertPlan & { fileRefs: WriteValues["fileRefs"] } {
  const prepared = prepareValues(table, rowsOf(body), [...table.columns.keys()]);
  const rows = prepared.rows;
  let groups: InsertPlan["groups"];
  let updateColumns: InsertPlan["updateColumns"];
  let applyDefaults = false;
  if (ast.columns) {
    const cols = ast.columns.map((c) => writeColumn(table, c));
    groups = [{ columns: cols, rows }];
    if (prefs.missing === "default") {
      // As PostgREST: each row's missing columns take their defaults, evaluated for every row.
      applyDefaults = cols.some((c) => c.column.insertDefault !== undefined);
      updateColumns = cols;
    }
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
  return {
    kind: "insert",
    target: tableRef(table),
    groups,
    onConflict,
    ...(updateColumns ? { updateColumns } : {}),
    ...(applyDefaults ? { applyDefaults } : {}),
    put,
    fileRefs: prepared.fileRefs,
  };
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
  // (the node carries the table's computed fields, so filters may name them)
  const conds: PlannedCond[] = [];
  for (const { path, filter } of ast.filters) if (path.length === 0) conds.push(planCond(node, filter.field, filter.expr));
  for (const { path, tree } of ast.logic) if (path.length === 0) conds.push(planLogic(node, tree));
  return conds;
}

function filterNode(ctx: PlanContext, table: Table): ReadNode {
  return { from: tableRef(table), select: [], embeds: [], where: [], order: [], hasAggregates: false, computed: computedOf(ctx, table) };
}

/**
 * `limit` (with `order`, optionally `offset`) on PATCH/DELETE: PostgREST's limited update/delete,
 * for tables only (rows are picked by ctid, which views do not have).
 */
function limitedOf(ctx: PlanContext, table: Table, node: ReadNode, ast: QueryAst): LimitedMutation | undefined {
  const r = ast.ranges.get("");
  const order = ast.order.filter((o) => o.path.length === 0).flatMap((o) => o.terms);
  if (r?.limit === undefined) {
    if (r?.offset !== undefined) throw notImplemented("offset on PATCH or DELETE needs a limit");
    return undefined; // an order alone changes nothing about which rows are written
  }
  // Partitioned tables are left out too: a ctid is only unique within one partition.
  if (table.kind !== "table") throw notImplemented("limit on PATCH or DELETE is only supported on tables");
  void ctx;
  return { limit: r.limit, offset: r.offset, order: order.map((t) => planOrder(node, t)) };
}

export function planUpdate(
  ctx: PlanContext,
  table: Table,
  ast: QueryAst,
  body: Body,
): { mutation: MutationPlan; noop: boolean; fileRefs: WriteValues["fileRefs"]; owned: Ident[] } {
  if (body.kind === "none" || !isRow(body.value)) throw invalidBody("Empty or invalid json");
  const names = ast.columns ?? Object.keys(body.value);
  const columns = names.map((k) => writeColumn(table, k));
  const prepared = prepareValues(table, [body.value], names);
  const row = prepared.rows[0]!;
  const node = filterNode(ctx, table);
  const where = rootConds(node, ast);
  if (where.length === 0) throw missingWhere("UPDATE");
  const limited = limitedOf(ctx, table, node, ast);
  return {
    mutation: { kind: "update", target: tableRef(table), columns, body: row, where, limited },
    // PATCH {}: PostgREST runs nothing and answers as if no row matched.
    noop: columns.length === 0,
    fileRefs: prepared.fileRefs,
    owned: ownedFileColumns(table, names),
  };
}

export function planDelete(ctx: PlanContext, table: Table, ast: QueryAst): { mutation: MutationPlan; owned: Ident[] } {
  const node = filterNode(ctx, table);
  const where = rootConds(node, ast);
  if (where.length === 0) throw missingWhere("DELETE");
  const limited = limitedOf(ctx, table, node, ast);
  return { mutation: { kind: "delete", target: tableRef(table), where, limited }, owned: ownedFileColumns(table, [...table.columns.keys()]) };
}

/** The representation returned by a write: select= and embeds over the affected rows. */
export function planReturning(ctx: PlanContext, table: Table, ast: QueryAst): ReadNode {
  const node = planSelectTree(ctx, table, ast.select);
  const embedded: QueryAst = { ...ast, filters: ast.filters.filter((f) => f.path.length > 0), logic: ast.logic.filter((l) => l.path.length > 0) };
  attachQuery(node, embedded);
  return node;
}
