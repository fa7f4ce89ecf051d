// Whole statements from plans. Each returns the SQL text, its parameters and the identifiers it
// quoted. The text contains only: fixed SQL, identifiers through SqlWriter.id (schema-cache names,
// internal aliases, quoted labels), `$n` placeholders, catalog-provided type names (format_type
// output read from the catalogs) and, for missing=default, the columns' default expressions as
// pg_get_expr prints them — never request text. That is why executing it
// with sql.unsafe(text, params) is safe.
import type { MediaType } from "../parse/headers.ts";
import type { CallPlan, InsertPlan, ReadNode, ReadPlan, WritePlan } from "../plan/types.ts";
import { cached, internal, SqlWriter, type Ident } from "./ident.ts";
import { condSql, nodeQuery, orderSql, tableSource } from "./read.ts";
import { guardSql } from "../../db/context-guard.ts";

export interface Statement {
  text: string;
  params: unknown[];
  idents: Ident[];
}

const T = internal("pgrst_t");

function bodyExpr(w: SqlWriter, media: MediaType, strip: boolean, head: boolean, shape: "rows" | "scalar" | "setofScalar" | "single" = "rows"): string {
  if (head) return "''";
  const t = w.id(T);
  if (media.kind === "csv") {
    return `coalesce(string_agg(substring(${t}::text, 2, length(${t}::text) - 2), E'\\n'), '')`;
  }
  if (media.kind === "geojson" && media.fn) {
    // PostgREST's: one Feature per row (PostGIS takes the first geometry column, the rest are properties).
    const fn = w.qualified(cached(media.fn.schema), cached(media.fn.name));
    return `json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(${fn}(${t})::json), '[]'::json))::text`;
  }
  const value = shape === "scalar" || shape === "setofScalar" ? `${t}.${w.id(internal("pgrst_scalar"))}` : t;
  const agg = `json_agg(${value})`;
  const one = media.kind === "object" || shape === "scalar" || shape === "single";
  if (one) return `coalesce((${strip ? `json_strip_nulls(${agg}->0)` : `${agg}->0`})::text, 'null')`;
  return `coalesce(${strip ? `json_strip_nulls(${agg})` : agg}::text, '[]')`;
}

/** A count of the root's rows ignoring limit/offset: only the joins that can drop rows are kept. */
function countQuery(w: SqlWriter, root: ReadNode, from?: { from: string; alias: string }): string {
  const src = from ?? tableSource(w, root, w.alias());
  return nodeQuery(w, root, src, { countOnly: true, noRange: true });
}

export interface ReadStatement extends Statement {
  /** The total is computed in SQL (exact count with a range). */
  totalInSql: boolean;
}

export interface StatementOptions {
  /**
   * For db.runAs: end with the request-context guard, evaluated before any row (a condition without
   * column references on the outermost query), taking the two parameters after the statement's own.
   */
  guard?: boolean;
}

/** ` WHERE <guard>` for the outermost query, or nothing. */
const guardClause = (w: SqlWriter, opts: StatementOptions): string => (opts.guard ? ` WHERE ${guardSql(w.params.length)}` : "");

export function readStatement(plan: ReadPlan, opts: StatementOptions = {}): ReadStatement {
  const w = new SqlWriter();
  const root = plan.root;
  root.limit = plan.range.limit;
  root.offset = plan.range.offset || undefined;
  const ranged = plan.range.limit !== undefined || plan.range.offset > 0;
  const exact = plan.count === "exact" || plan.count === "estimated";
  const totalInSql = exact && ranged;
  const total = totalInSql ? `(SELECT pg_catalog.count(*) FROM (${countQuery(w, root)}) AS ${w.id(internal("pgrst_c"))})` : "NULL::bigint";
  const main = nodeQuery(w, root, tableSource(w, root, w.alias()));
  const text = `SELECT ${total} AS total, pg_catalog.count(*) AS page_total, ${bodyExpr(w, plan.media, plan.stripNulls, plan.head)} AS body FROM (${main}) AS ${w.id(T)}${guardClause(w, opts)}`;
  return { text, params: w.params, idents: w.idents, totalInSql };
}

/** EXPLAIN of the count query, for Prefer: count=planned|estimated. */
export function plannedCountStatement(root: ReadNode): Statement {
  const w = new SqlWriter();
  const text = `EXPLAIN (FORMAT JSON) ${countQuery(w, root)}`;
  return { text, params: w.params, idents: w.idents };
}

/** Whether the representation calls a function of the whole row (computed field or relationship). */
function needsWholeRow(node: ReadNode): boolean {
  const condUses = (cs: ReadNode["where"]): boolean => cs.some((c) => (c.kind === "filter" && !!c.fn) || (c.kind === "logic" && condUses(c.children)));
  return (
    node.select.some((s) => s.kind === "column" && !!s.fn) ||
    node.order.some((o) => !!o.fn) ||
    node.embeds.some((e) => e.rel.kind === "computed") ||
    condUses(node.where)
  );
}

const ROW = internal("pgrst_row");

/** Column names the representation needs from the affected rows (RETURNING only those). */
function returningColumns(node: ReadNode): string[] {
  const cols = new Set<string>();
  for (const s of node.select) if (s.kind === "column") cols.add(s.column.name);
  for (const e of node.embeds) {
    if (e.rel.kind === "m2m") for (const [c] of e.rel.originColumns) cols.add(c);
    else if (e.rel.kind !== "computed") for (const [c] of e.rel.columns) cols.add(c);
  }
  for (const o of node.order) if (!o.embed) cols.add(o.col.name);
  return [...cols];
}

export interface WriteStatements {
  /** Statements run first, each reporting its affected count (minimal: no RETURNING at all). */
  plain: Statement[];
  /** Or one statement returning total/page_total/body/location. */
  shaped: Statement | null;
}

/**
 * With `guard`: one statement — plain (the guard gates the rows the mutation reads) or shaped (the
 * mutations are CTEs of a query the guard gates).
 */
export function writeStatements(plan: WritePlan, opts: StatementOptions = {}): WriteStatements {
  const m = plan.mutation;
  const wantsBody = plan.representation === "representation";
  const wantsLocation = plan.representation === "headers-only" && m.kind === "insert" && m.target.table.pk.length > 0;
  const owned = m.kind !== "insert" ? (plan.ownedFileColumns ?? []) : [];
  // Guarded, a plain statement must be the only one, and an upsert's inserted count needs the shape.
  const plainGuardable = m.kind !== "insert" || (m.groups.length === 1 && !tracksInserted(m));
  if (!wantsBody && !wantsLocation && owned.length === 0 && (!opts.guard || plainGuardable)) {
    if (m.kind === "insert") return { plain: m.groups.map((g, i) => mutationOnly(plan, i, opts)), shaped: null };
    return { plain: [mutationOnly(plan, 0, opts)], shaped: null };
  }
  const w = new SqlWriter();
  const alias = w.alias();
  const returning = wantsLocation ? m.target.table.pk : wantsBody ? returningColumns(plan.returning) : [];
  const ctes: string[] = [];
  const groups = m.kind === "insert" ? m.groups.length : 1;
  const wholeRow = wantsBody && needsWholeRow(plan.returning);
  // Owned file references: the value before and after the write (PostgreSQL 18's RETURNING OLD/NEW;
  // NEW is null for a DELETE), so the references a write removed can be found afterwards.
  const oldNew = owned.map((c, i) => ({ c, old: internal(`pgrst_old_${i}`), new: internal(`pgrst_new_${i}`) }));
  for (let i = 0; i < groups; i++) {
    const cols = returning.map((c) => `${w.id(alias)}.${w.id(cached(c))}`);
    if (wholeRow) cols.push(`${w.id(alias)} AS ${w.id(ROW)}`);
    for (const x of oldNew) cols.push(`old.${w.id(x.c)} AS ${w.id(x.old)}`, `new.${w.id(x.c)} AS ${w.id(x.new)}`);
    const ret = cols.length ? cols.join(", ") : "1";
    ctes.push(`${w.id(internal(`pgrst_source_${i}`))} AS (${mutationSql(w, plan, i, alias)} RETURNING ${ret})`);
  }
  const src = w.id(internal("pgrst_source"));
  const union = Array.from({ length: groups }, (_, i) => `SELECT * FROM ${w.id(internal(`pgrst_source_${i}`))}`).join(" UNION ALL ");
  ctes.push(`${src} AS (${union})`);
  const rowAlias = w.id(w.alias());
  let body = "''";
  let location = "NULL";
  let inner = `SELECT 1 FROM ${src}`;
  if (wantsBody) {
    if (wholeRow) w.rowExprs.set(rowAlias, `${rowAlias}.${w.id(ROW)}`);
    inner = nodeQuery(w, plan.returning, { from: `${src} AS ${rowAlias}`, alias: rowAlias });
    body = bodyExpr(w, plan.media, plan.stripNulls, false);
  } else if (wantsLocation) {
    // Location: /table?pk=eq.value — the values come back from the database, keys from the cache.
    const pairs = m.target.table.pk.map((c) => `${w.param(c)} || '=eq.' || ${w.id(T)}.${w.id(cached(c))}::text`).join(" || '&' || ");
    inner = `SELECT * FROM ${src}`;
    location = `CASE WHEN pg_catalog.count(*) = 1 THEN max(${pairs}) END`;
  }
  let removed = "NULL::jsonb";
  if (oldNew.length) {
    const r = w.id(internal("pgrst_removed"));
    const parts = oldNew.map(
      (x) =>
        `SELECT ${w.id(x.old)}::jsonb AS ${r} FROM ${src} WHERE ${w.id(x.old)} IS NOT NULL AND ${w.id(x.old)}::jsonb IS DISTINCT FROM ${w.id(x.new)}::jsonb`,
    );
    removed = `(SELECT jsonb_agg(DISTINCT ${r}) FROM (${parts.join(" UNION ALL ")}) AS ${r})`;
  }
  const text = `WITH ${ctes.join(", ")} SELECT pg_catalog.count(*) AS page_total, ${body} AS body, ${location} AS location, ${INSERTED} AS inserted, ${removed} AS removed_refs FROM (${inner}) AS ${w.id(T)}${guardClause(w, opts)}`;
  return { plain: [], shaped: { text, params: w.params, idents: w.idents } };
}

/**
 * Written file references that are not a storage object the caller can see (RLS on
 * storage.objects applies: this runs in the write's transaction, as the caller). Returns at most one.
 */
export function missingFileRefStatement(refs: Array<{ bucket: string; path: string }>): Statement {
  const w = new SqlWriter();
  const r = w.id(internal("pgrst_ref"));
  const o = w.id(internal("pgrst_obj"));
  const text =
    `SELECT ${r}->>'bucket' AS bucket, ${r}->>'path' AS path FROM jsonb_array_elements(${w.param(JSON.stringify(refs))}::jsonb) AS ${r} ` +
    `WHERE NOT EXISTS (SELECT 1 FROM "storage"."objects" AS ${o} WHERE ${o}."bucket_id" = ${r}->>'bucket' AND ${o}."name" = ${r}->>'path') LIMIT 1`;
  return { text, params: w.params, idents: w.idents };
}

/**
 * Deletes the storage objects of references a write removed, unless a row of the table still
 * points at them (in any owned column). As the caller, so storage's DELETE policies decide; the
 * object's bytes are reclaimed by the storage sweeper once no row refers to their version.
 */
export function deleteRemovedFilesStatement(plan: WritePlan, removed: unknown): Statement {
  const w = new SqlWriter();
  const m = plan.mutation;
  const r = w.id(internal("pgrst_ref"));
  const o = w.id(internal("pgrst_obj"));
  const t = w.id(internal("pgrst_row"));
  const target = w.qualified(m.target.schema, m.target.name);
  const stillUsed = (plan.ownedFileColumns ?? [])
    .map((c) => `(${t}.${w.id(c)}->>'bucket' = ${r}->>'bucket' AND ${t}.${w.id(c)}->>'path' = ${r}->>'path')`)
    .join(" OR ");
  const text =
    `DELETE FROM "storage"."objects" AS ${o} USING jsonb_array_elements(${w.param(JSON.stringify(removed))}::jsonb) AS ${r} ` +
    `WHERE ${o}."bucket_id" = ${r}->>'bucket' AND ${o}."name" = ${r}->>'path' AND NOT EXISTS (SELECT 1 FROM ${target} AS ${t} WHERE ${stillUsed})`;
  return { text, params: w.params, idents: w.idents };
}

/** Stands for the guard until the statement's parameters are all known (NUL never occurs in SQL text here). */
const GUARD_MARK = "\u0000guard\u0000";

function mutationOnly(plan: WritePlan, group: number, opts: StatementOptions): Statement {
  const w = new SqlWriter();
  const text = mutationSql(w, plan, group, w.alias(), opts.guard ? GUARD_MARK : undefined);
  return { text: opts.guard ? text.replace(GUARD_MARK, guardSql(w.params.length)) : text, params: w.params, idents: w.idents };
}

/**
 * `guard`: a condition without column references for the rows the mutation reads; PostgreSQL
 * evaluates such a condition once, before the first row, so no row is written unless it holds.
 */
function mutationSql(w: SqlWriter, plan: WritePlan, group: number, alias: Ident, guard?: string): string {
  const m = plan.mutation;
  const target = w.qualified(m.target.schema, m.target.name);
  const a = w.id(alias);
  if (m.kind === "insert") return insertSql(w, m, group, target, a, guard);
  let where: string[];
  if (!m.limited) where = m.where.map((c) => condSql(w, a, c, new Map()));
  else {
    // Limited update/delete: the first rows (by the order given) among those the filters match,
    // picked by ctid in a subquery over the same table.
    const l = m.limited;
    const sub = w.id(w.alias());
    const subWhere = m.where.map((c) => condSql(w, sub, c, new Map()));
    const order = l.order.length ? ` ORDER BY ${l.order.map((o) => orderSql(w, sub, o, new Map())).join(", ")}` : "";
    const range = ` LIMIT ${w.param(l.limit)}::bigint${l.offset ? ` OFFSET ${w.param(l.offset)}::bigint` : ""}`;
    where = [`${a}.ctid = ANY(ARRAY(SELECT ${sub}.ctid FROM ${target} AS ${sub}${subWhere.length ? ` WHERE ${subWhere.join(" AND ")}` : ""}${order}${range}))`];
  }
  if (guard) where.unshift(guard);
  const whereSql = where.length ? ` WHERE ${where.join(" AND ")}` : "";
  if (m.kind === "delete") return `DELETE FROM ${target} AS ${a}${whereSql}`;
  const body = w.id(internal("pgrst_body"));
  const sets = m.columns.map((c) => `${w.id(c.col)} = ${body}.${w.id(c.col)}`).join(", ");
  return `UPDATE ${target} AS ${a} SET ${sets} FROM (SELECT * FROM json_populate_record(NULL::${target}, ${w.param(JSON.stringify(m.body))}::json)) AS ${body}${whereSql}`;
}

/**
 * Merging upserts count the rows they insert in a transaction-local setting (PostgREST's trick):
 * +1 per candidate row, −1 per row that took the DO UPDATE path. 201 if any row was inserted.
 */
export const INSERTED = "nullif(current_setting('pgrst.inserted', true), '')::int";
const COUNT_CANDIDATE = "set_config('pgrst.inserted', (coalesce(nullif(current_setting('pgrst.inserted', true), '')::int, 0) + 1)::text, true) IS NOT NULL";
const COUNT_UPDATED = "set_config('pgrst.inserted', (coalesce(nullif(current_setting('pgrst.inserted', true), '')::int, 0) - 1)::text, true) IS NOT NULL";

/** Column categories whose text form is what json_populate_recordset makes of a JSON scalar. */
const SCALAR_CATEGORIES = new Set(["N", "S", "B", "D", "T", "E", "I"]);

/** The group's only row, when it is one object of strings, numbers, booleans and nulls for plain scalar columns. */
function singleScalarRow(g: InsertPlan["groups"][number]): Record<string, unknown> | null {
  if (g.rows.length !== 1 || g.columns.length === 0) return null;
  const row = g.rows[0];
  if (!row || typeof row !== "object" || Array.isArray(row)) return null;
  const r = row as Record<string, unknown>;
  for (const { column } of g.columns) {
    if (column.plinthType || !(SCALAR_CATEGORIES.has(column.category) || column.baseType === "uuid")) return null;
    const v = r[column.name];
    if (v !== null && v !== undefined && typeof v !== "string" && typeof v !== "boolean" && !(typeof v === "number" && Number.isFinite(v))) return null;
  }
  return r;
}

export const tracksInserted = (m: InsertPlan) => m.onConflict?.action === "merge" && m.groups.some((g) => g.columns.length > 0);

function insertSql(w: SqlWriter, m: InsertPlan, group: number, target: string, a: string, guard?: string): string {
  const g = m.groups[group]!;
  const merge = m.onConflict?.action === "merge" && g.columns.length > 0;
  const conds = [...(guard ? [guard] : []), ...(merge ? [COUNT_CANDIDATE] : [])];
  const where = conds.length ? ` WHERE ${conds.join(" AND ")}` : "";
  let sql: string;
  const single = m.applyDefaults ? null : singleScalarRow(g);
  if (m.applyDefaults) {
    // PostgREST's missing=default: every row is merged over an object of the listed columns'
    // defaults (evaluated once per row, so a sequence advances for every row, as there), then read
    // back as the table's row type, in the rows' order.
    const body = w.id(internal("pgrst_body"));
    const e = w.id(internal("pgrst_elem"));
    const ord = w.id(internal("pgrst_ord"));
    const defs = g.columns
      .filter((c) => c.column.insertDefault !== undefined)
      .map((c) => `${w.param(c.column.name)}, ${c.column.insertDefault}`)
      .join(", ");
    const merged = `(SELECT jsonb_agg(jsonb_build_object(${defs}) || ${e} ORDER BY ${ord}) FROM jsonb_array_elements(${w.param(JSON.stringify(g.rows))}::jsonb) WITH ORDINALITY AS ${w.id(internal("pgrst_rows"))}(${e}, ${ord}))`;
    const cols = g.columns.map((c) => w.id(c.col)).join(", ");
    const vals = g.columns.map((c) => `${body}.${w.id(c.col)}`).join(", ");
    sql = `INSERT INTO ${target} AS ${a} (${cols}) SELECT ${vals} FROM jsonb_populate_recordset(NULL::${target}, ${merged}) AS ${body}${where}`;
  } else if (single) {
    // One row of plain scalars: each value its own parameter, cast from text to the column's type
    // exactly as json_populate_recordset would convert it (the column's typmod applies on
    // assignment), without building and parsing a JSON document.
    const cols = g.columns.map((c) => w.id(c.col)).join(", ");
    const vals = g.columns.map((c) => {
      const v = single[c.column.name];
      return v === null || v === undefined ? `NULL::${c.column.castType}` : `${w.param(typeof v === "string" ? v : String(v))}::${c.column.castType}`;
    });
    sql = `INSERT INTO ${target} AS ${a} (${cols}) SELECT ${vals.join(", ")}${where}`;
  } else if (g.columns.length === 0) {
    sql = `INSERT INTO ${target} AS ${a} SELECT FROM json_array_elements(${w.param(JSON.stringify(g.rows))}::json)${where}`;
  } else {
    const body = w.id(internal("pgrst_body"));
    const rows = w.param(JSON.stringify(g.rows));
    const cols = g.columns.map((c) => w.id(c.col)).join(", ");
    const vals = g.columns.map((c) => `${body}.${w.id(c.col)}`).join(", ");
    sql = `INSERT INTO ${target} AS ${a} (${cols}) SELECT ${vals} FROM json_populate_recordset(NULL::${target}, ${rows}::json) AS ${body}${where}`;
  }
  if (m.onConflict && m.onConflict.columns.length) {
    const keys = m.onConflict.columns.map((c) => w.id(c)).join(", ");
    if (!merge) sql += ` ON CONFLICT (${keys}) DO NOTHING`;
    else
      sql += ` ON CONFLICT (${keys}) DO UPDATE SET ${(m.updateColumns ?? g.columns).map((c) => `${w.id(c.col)} = EXCLUDED.${w.id(c.col)}`).join(", ")} WHERE ${COUNT_UPDATED}`;
  }
  return sql;
}

/** Counts rows a write would return for representation (max-affected with minimal uses the command count). */
export function callStatement(plan: CallPlan): Statement & { shape: "rows" | "scalar" | "setofScalar" | "single" | "void" } {
  const w = new SqlWriter();
  const r = plan.routine;
  const fn = w.qualified(plan.fn.schema, plan.fn.name);
  const argsAlias = w.id(internal("pgrst_args"));
  let from = "";
  let call: string;
  if (plan.args.kind === "single") {
    // The whole body is the one unnamed json/jsonb argument; its type comes from pg_proc.
    call = `${fn}(${w.param(JSON.stringify(plan.args.body ?? null))}::${plan.args.type})`;
  } else if (plan.args.values.length === 0) {
    call = `${fn}()`;
  } else {
    // The one unnamed parameter a function may have (key "") travels as pgrst_arg and is passed by
    // position: it is then the only parameter.
    const col = (v: { param: Ident }) => (v.param.name === "" ? internal("pgrst_arg") : v.param);
    const obj: Record<string, unknown> = {};
    for (const v of plan.args.values) obj[col(v).name] = v.value;
    // json_to_record converts JSON values to the parameters' types (arrays, json, composites…);
    // the column definition list uses the parameter types exactly as pg_proc reports them.
    const defs = plan.args.values.map((v) => `${w.id(col(v))} ${v.type}`).join(", ");
    from = `json_to_record(${w.param(JSON.stringify(obj))}::json) AS ${argsAlias}(${defs})`;
    call = `${fn}(${plan.args.values
      .map((v) => `${v.variadic ? "VARIADIC " : ""}${v.param.name === "" ? "" : `${w.id(v.param)} := `}${argsAlias}.${w.id(col(v))}`)
      .join(", ")})`;
  }
  const scalar = w.id(internal("pgrst_scalar"));
  if (r.returnsVoid || r.returnsScalar || !plan.read) {
    const shape = r.returnsVoid ? "void" : r.returnsSet ? "setofScalar" : "scalar";
    const inner = `SELECT ${call} AS ${scalar}${from ? ` FROM ${from}` : ""}`;
    const body = shape === "void" ? "''" : bodyExpr(w, plan.media, plan.stripNulls, plan.head, shape === "setofScalar" ? "setofScalar" : "scalar");
    const text = `SELECT NULL::bigint AS total, pg_catalog.count(*) AS page_total, ${body} AS body FROM (${inner}) AS ${w.id(T)}`;
    return { text, params: w.params, idents: w.idents, shape };
  }
  const node = plan.read;
  node.limit = plan.range.limit;
  node.offset = plan.range.offset || undefined;
  const callAlias = w.id(w.alias());
  const source = { from: `${from ? `${from}, LATERAL ` : ""}${call} AS ${callAlias}`, alias: callAlias };
  const shape = r.returnsSet ? "rows" : "single";
  const ranged = plan.range.limit !== undefined || plan.range.offset > 0;
  const total =
    plan.count && ranged
      ? `(SELECT pg_catalog.count(*) FROM (${nodeQuery(w, node, source, { countOnly: true, noRange: true })}) AS ${w.id(internal("pgrst_c"))})`
      : "NULL::bigint";
  const main = nodeQuery(w, node, source);
  const text = `SELECT ${total} AS total, pg_catalog.count(*) AS page_total, ${bodyExpr(w, plan.media, plan.stripNulls, plan.head, shape)} AS body FROM (${main}) AS ${w.id(T)}`;
  return { text, params: w.params, idents: w.idents, shape };
}
