// Whole statements from plans. Each returns the SQL text, its parameters and the identifiers it
// quoted. The text contains only: fixed SQL, identifiers through SqlWriter.id (schema-cache names,
// internal aliases, quoted labels), `$n` placeholders, and catalog-provided type names for RPC
// arguments (format_type output read from pg_proc, never request text). That is why executing it
// with sql.unsafe(text, params) is safe.
import type { MediaType } from "../parse/headers.ts";
import type { CallPlan, InsertPlan, ReadNode, ReadPlan, WritePlan } from "../plan/types.ts";
import { cached, internal, SqlWriter, type Ident } from "./ident.ts";
import { condSql, nodeQuery, tableSource } from "./read.ts";

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

export function readStatement(plan: ReadPlan): ReadStatement {
  const w = new SqlWriter();
  const root = plan.root;
  root.limit = plan.range.limit;
  root.offset = plan.range.offset || undefined;
  const ranged = plan.range.limit !== undefined || plan.range.offset > 0;
  const exact = plan.count === "exact" || plan.count === "estimated";
  const totalInSql = exact && ranged;
  const total = totalInSql ? `(SELECT pg_catalog.count(*) FROM (${countQuery(w, root)}) AS ${w.id(internal("pgrst_c"))})` : "NULL::bigint";
  const main = nodeQuery(w, root, tableSource(w, root, w.alias()));
  const text = `SELECT ${total} AS total, pg_catalog.count(*) AS page_total, ${bodyExpr(w, plan.media, plan.stripNulls, plan.head)} AS body FROM (${main}) AS ${w.id(T)}`;
  return { text, params: w.params, idents: w.idents, totalInSql };
}

/** EXPLAIN of the count query, for Prefer: count=planned|estimated. */
export function plannedCountStatement(root: ReadNode): Statement {
  const w = new SqlWriter();
  const text = `EXPLAIN (FORMAT JSON) ${countQuery(w, root)}`;
  return { text, params: w.params, idents: w.idents };
}

/** Column names the representation needs from the affected rows (RETURNING only those). */
function returningColumns(node: ReadNode): string[] {
  const cols = new Set<string>();
  for (const s of node.select) if (s.kind === "column") cols.add(s.column.name);
  for (const e of node.embeds) {
    if (e.rel.kind === "m2m") for (const [c] of e.rel.originColumns) cols.add(c);
    else for (const [c] of e.rel.columns) cols.add(c);
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

export function writeStatements(plan: WritePlan): WriteStatements {
  const m = plan.mutation;
  const wantsBody = plan.representation === "representation";
  const wantsLocation = plan.representation === "headers-only" && m.kind === "insert" && m.target.table.pk.length > 0;
  if (!wantsBody && !wantsLocation) {
    if (m.kind === "insert") return { plain: m.groups.map((g, i) => mutationOnly(plan, i, null)), shaped: null };
    return { plain: [mutationOnly(plan, 0, null)], shaped: null };
  }
  const w = new SqlWriter();
  const alias = w.alias();
  const returning = wantsLocation ? m.target.table.pk : returningColumns(plan.returning);
  const ctes: string[] = [];
  const groups = m.kind === "insert" ? m.groups.length : 1;
  for (let i = 0; i < groups; i++) {
    const ret = returning.length ? returning.map((c) => `${w.id(alias)}.${w.id(cached(c))}`).join(", ") : "1";
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
    inner = nodeQuery(w, plan.returning, { from: `${src} AS ${rowAlias}`, alias: rowAlias });
    body = bodyExpr(w, plan.media, plan.stripNulls, false);
  } else if (wantsLocation) {
    // Location: /table?pk=eq.value — the values come back from the database, keys from the cache.
    const pairs = m.target.table.pk.map((c) => `${w.param(c)} || '=eq.' || ${w.id(T)}.${w.id(cached(c))}::text`).join(" || '&' || ");
    inner = `SELECT * FROM ${src}`;
    location = `CASE WHEN pg_catalog.count(*) = 1 THEN max(${pairs}) END`;
  }
  const text = `WITH ${ctes.join(", ")} SELECT pg_catalog.count(*) AS page_total, ${body} AS body, ${location} AS location, ${INSERTED} AS inserted FROM (${inner}) AS ${w.id(T)}`;
  return { plain: [], shaped: { text, params: w.params, idents: w.idents } };
}

function mutationOnly(plan: WritePlan, group: number, _unused: null): Statement {
  const w = new SqlWriter();
  const text = mutationSql(w, plan, group, w.alias());
  return { text, params: w.params, idents: w.idents };
}

function mutationSql(w: SqlWriter, plan: WritePlan, group: number, alias: Ident): string {
  const m = plan.mutation;
  const target = w.qualified(m.target.schema, m.target.name);
  const a = w.id(alias);
  if (m.kind === "insert") return insertSql(w, m, group, target, a);
  const where = m.where.map((c) => condSql(w, a, c, new Map()));
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

export const tracksInserted = (m: InsertPlan) => m.onConflict?.action === "merge" && m.groups.some((g) => g.columns.length > 0);

function insertSql(w: SqlWriter, m: InsertPlan, group: number, target: string, a: string): string {
  const g = m.groups[group]!;
  const body = w.id(internal("pgrst_body"));
  const rows = w.param(JSON.stringify(g.rows));
  const merge = m.onConflict?.action === "merge" && g.columns.length > 0;
  const where = merge ? ` WHERE ${COUNT_CANDIDATE}` : "";
  let sql: string;
  if (g.columns.length === 0) {
    sql = `INSERT INTO ${target} AS ${a} SELECT FROM json_array_elements(${rows}::json)${where}`;
  } else {
    const cols = g.columns.map((c) => w.id(c.col)).join(", ");
    const vals = g.columns.map((c) => `${body}.${w.id(c.col)}`).join(", ");
    sql = `INSERT INTO ${target} AS ${a} (${cols}) SELECT ${vals} FROM json_populate_recordset(NULL::${target}, ${rows}::json) AS ${body}${where}`;
  }
  if (m.onConflict && m.onConflict.columns.length) {
    const keys = m.onConflict.columns.map((c) => w.id(c)).join(", ");
    if (!merge) sql += ` ON CONFLICT (${keys}) DO NOTHING`;
    else sql += ` ON CONFLICT (${keys}) DO UPDATE SET ${g.columns.map((c) => `${w.id(c.col)} = EXCLUDED.${w.id(c.col)}`).join(", ")} WHERE ${COUNT_UPDATED}`;
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
    const obj: Record<string, unknown> = {};
    for (const v of plan.args.values) obj[v.param.name] = v.value;
    // json_to_record converts JSON values to the parameters' types (arrays, json, composites…);
    // the column definition list uses the parameter types exactly as pg_proc reports them.
    const defs = plan.args.values.map((v) => `${w.id(v.param)} ${v.type}`).join(", ");
    from = `json_to_record(${w.param(JSON.stringify(obj))}::json) AS ${argsAlias}(${defs})`;
    call = `${fn}(${plan.args.values.map((v) => `${v.variadic ? "VARIADIC " : ""}${w.id(v.param)} := ${argsAlias}.${w.id(v.param)}`).join(", ")})`;
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
    plan.count && ranged ? `(SELECT pg_catalog.count(*) FROM (${nodeQuery(w, node, source, { countOnly: true, noRange: true })}) AS ${w.id(internal("pgrst_c"))})` : "NULL::bigint";
  const main = nodeQuery(w, node, source);
  const text = `SELECT ${total} AS total, pg_catalog.count(*) AS page_total, ${bodyExpr(w, plan.media, plan.stripNulls, plan.head, shape)} AS body FROM (${main}) AS ${w.id(T)}`;
  return { text, params: w.params, idents: w.idents, shape };
}
