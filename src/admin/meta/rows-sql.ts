// The rows API's SQL: its requests planned against the catalog's table (names → RowColumn, or a 400
// before any database work), then rendered as statements. Pure: nothing here touches a connection.
//
// Safety, in one place:
// - Identifiers are columns and tables that matched the catalog (rows-table.ts) or the builder's own
//   aliases, and reach SQL only through SqlWriter.id → lib/sql-text.ts's quoteIdentifier.
// - Every value is a bind parameter, sent as text (`$n::text`). Filter and key values are then cast
//   to the column's type by its catalog name (RowColumn.castType, format_type's own SQL text, as
//   REST does); row bodies go through jsonb_to_record($n) AS v(col type, …) over the columns the
//   body names, which reads JSON by those types (as PostgREST's json_populate_recordset does),
//   arrays and jsonb included. Bodies and composite keys are sent as the client's JSON text, so PostgreSQL, not
//   JSON.parse, reads their numbers: a bigint beyond 2^53 keeps its digits.
// - Values come back as JSON: each column through to_jsonb, except that numeric is always a string
//   and bigint a string beyond ±(2^53 − 1) (JSON readers would round it), and bytea is `\x…` hex
//   (bytea_output is set to hex by the caller's transaction).
// Filters are PostgREST's operators with PostgREST's meaning, built by the same function REST uses
// (src/rest/sql/filter.ts).
// Trap: not jsonb_populate_record(NULL::<table>, …): it gives every column the body leaves out a
// NULL of the column's type, which a NOT NULL domain refuses even when the column has a default.
import type { JsonStep, LogicTree, OpExpr, OrderTerm } from "../../rest/parse/ast.ts";
import { filterSql } from "../../rest/sql/filter.ts";
import { cached, internal, SqlWriter, type Ident } from "../../rest/sql/ident.ts";
import { RowsErrors } from "./rows-query.ts";
import type { RowColumn, RowTable } from "./rows-table.ts";

export interface Statement {
  text: string;
  params: unknown[];
}

// ——— plan ———

export type RowCond =
  | { kind: "filter"; column: RowColumn; json: JsonStep[]; expr: OpExpr }
  | { kind: "logic"; not: boolean; op: "and" | "or"; children: RowCond[] };

export interface RowOrder {
  column: RowColumn;
  json: JsonStep[];
  direction?: "asc" | "desc";
  nulls?: "first" | "last";
}

const columnOf = (t: RowTable, name: string): RowColumn => {
  const c = t.byName.get(name);
  if (!c) throw RowsErrors.unknownColumn(name);
  return c;
};

export function planWhere(t: RowTable, where: LogicTree[]): RowCond[] {
  const plan = (tree: LogicTree): RowCond =>
    tree.kind === "filter"
      ? { kind: "filter", column: columnOf(t, tree.filter.field.name), json: tree.filter.field.json, expr: tree.filter.expr }
      : { kind: "logic", not: tree.not, op: tree.op, children: tree.children.map(plan) };
  return where.map(plan);
}

/**
 * The order asked for, then the primary-key columns it did not name: pages of a changing order
 * never repeat or skip rows that tie. Without an order, the key alone; a keyless table unordered.
 */
export function planOrder(t: RowTable, order: OrderTerm[]): RowOrder[] {
  const planned: RowOrder[] = order.map((o) => ({ column: columnOf(t, o.field.name), json: o.field.json, direction: o.direction, nulls: o.nulls }));
  for (const k of t.pk) {
    if (!planned.some((o) => o.column.name === k && o.json.length === 0)) planned.push({ column: t.byName.get(k)!, json: [] });
  }
  return planned;
}

/** The body's columns, each checked: it exists and may be written. */
export function planColumns(t: RowTable, body: Record<string, unknown>): RowColumn[] {
  return Object.keys(body).map((name) => {
    const c = columnOf(t, name);
    if (c.readOnly) throw RowsErrors.columnNotWritable(name, c.readOnly);
    return c;
  });
}

// ——— statements ———

const ROW = internal("r");
const VALUES = internal("v");
const col = (c: RowColumn): Ident => cached(c.name);
const rowAlias = (i: number) => internal(`c${i}`);
const keyAlias = (i: number) => internal(`k${i}`);

function table(w: SqlWriter, t: RowTable): string {
  return w.qualified(cached(t.schema), cached(t.name));
}

/** A value of `c`'s type as JSON (see the header for the exceptions). */
function jsonValue(expr: string, c: RowColumn): string {
  switch (c.baseType) {
    case "int8":
      return `CASE WHEN ${expr} BETWEEN -9007199254740991 AND 9007199254740991 THEN to_jsonb(${expr}) ELSE to_jsonb(${expr}::text) END`;
    case "numeric":
      return `to_jsonb(${expr}::text)`;
    case "_int8":
    case "_numeric":
      return `to_jsonb(${expr}::text[])`;
    default:
      return `to_jsonb(${expr})`;
  }
}

/** Every column of the row, as JSON, aliased c0…cn (decodeRow puts the names back). */
function rowOutputs(w: SqlWriter, t: RowTable): string {
  const r = w.id(ROW);
  if (!t.columns.length) return "1";
  return t.columns.map((c, i) => `${jsonValue(`${r}.${w.id(col(c))}`, c)} AS ${w.id(rowAlias(i))}`).join(", ");
}

/** Column names are the keys of the answer; defineProperty, so a column named `__proto__` is just a key. */
function put(out: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(out, key, { value: value ?? null, enumerable: true, writable: true, configurable: true });
}

export function decodeRow(t: RowTable, row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  t.columns.forEach((c, i) => put(out, c.name, row[`c${i}`]));
  return out;
}

/** The key values of a row aliased k0…kn, as JSON. */
export function decodeKey(t: RowTable, row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  t.pk.forEach((name, i) => put(out, name, row[`k${i}`]));
  return out;
}

/** `r.col`, or `(r.col->'a'->>'b')` with the path's keys as parameters. */
function columnExpr(w: SqlWriter, c: RowColumn, json: JsonStep[]): string {
  const base = `${w.id(ROW)}.${w.id(col(c))}`;
  if (!json.length) return base;
  return `(${base}${json.map((s) => `${s.arrow}${s.index ? `(${w.param(s.key)})::int` : w.param(s.key)}`).join("")})`;
}

function whereSql(w: SqlWriter, conds: RowCond[]): string {
  return conds.length ? ` WHERE ${conds.map((c) => condSql(w, c)).join(" AND ")}` : "";
}

function condSql(w: SqlWriter, c: RowCond): string {
  if (c.kind === "logic") {
    const inner = c.children.map((x) => condSql(w, x)).join(c.op === "and" ? " AND " : " OR ");
    return `${c.not ? "NOT " : ""}(${inner || (c.op === "and" ? "TRUE" : "FALSE")})`;
  }
  const type = c.json.length === 0 ? c.column.castType : c.json[c.json.length - 1]!.arrow === "->>" ? "text" : c.column.baseType === "json" ? "json" : "jsonb";
  return filterSql(w, columnExpr(w, c.column, c.json), type, c.column.baseType, c.json.length > 0, c.expr);
}

function orderSql(w: SqlWriter, order: RowOrder[]): string {
  if (!order.length) return "";
  const terms = order.map((o) => {
    const dir = o.direction === "desc" ? " DESC" : o.direction === "asc" ? " ASC" : "";
    const nulls = o.nulls === "first" ? " NULLS FIRST" : o.nulls === "last" ? " NULLS LAST" : "";
    return `${columnExpr(w, o.column, o.json)}${dir}${nulls}`;
  });
  return ` ORDER BY ${terms.join(", ")}`;
}

/** One key column's value from the key object (JSON text), read as text and cast to the column's type. */
function keyValue(w: SqlWriter, keyParam: string, c: RowColumn): string {
  return `(${keyParam}::jsonb ->> ${w.param(c.name)})::${c.castType}`;
}

function keyWhere(w: SqlWriter, t: RowTable, keyJson: string): string {
  const k = w.param(keyJson);
  return ` WHERE ${t.pk.map((name) => `${w.id(ROW)}.${w.id(cached(name))} = ${keyValue(w, k, t.byName.get(name)!)}`).join(" AND ")}`;
}

const done = (w: SqlWriter, text: string): Statement => ({ text, params: w.params });

export function selectPage(t: RowTable, where: RowCond[], order: RowOrder[], limit: number, offset: number): Statement {
  const w = new SqlWriter();
  let text = `SELECT ${rowOutputs(w, t)} FROM ${table(w, t)} AS ${w.id(ROW)}${whereSql(w, where)}${orderSql(w, order)}`;
  text += ` LIMIT ${w.param(limit)}::bigint`;
  if (offset) text += ` OFFSET ${w.param(offset)}::bigint`;
  return done(w, text);
}

/** How many rows match, counting no further than `cap` + 1 (so a big table is not scanned to count). */
export function countUpTo(t: RowTable, where: RowCond[], cap: number | null): Statement {
  const w = new SqlWriter();
  const inner = `SELECT 1 FROM ${table(w, t)} AS ${w.id(ROW)}${whereSql(w, where)}${cap === null ? "" : ` LIMIT ${w.param(cap + 1)}::bigint`}`;
  return done(w, `SELECT count(*)::float8 AS n FROM (${inner}) AS ${w.id(internal("s"))}`);
}

/** The planner's guess of the number of matching rows (EXPLAIN, nothing runs). */
export function estimateCount(t: RowTable, where: RowCond[]): Statement {
  const w = new SqlWriter();
  return done(w, `EXPLAIN (FORMAT JSON) SELECT 1 FROM ${table(w, t)} AS ${w.id(ROW)}${whereSql(w, where)}`);
}

/** The requested key, cast to the key's types and shown as JSON (k0…kn): the audit log's form of it. */
export function renderKey(t: RowTable, keyJson: string): Statement {
  const w = new SqlWriter();
  const k = w.param(keyJson);
  const outs = t.pk.map((name, i) => `${jsonValue(keyValue(w, k, t.byName.get(name)!), t.byName.get(name)!)} AS ${w.id(keyAlias(i))}`);
  return done(w, `SELECT ${outs.join(", ")}`);
}

export function selectByKey(t: RowTable, keyJson: string): Statement {
  const w = new SqlWriter();
  return done(w, `SELECT ${rowOutputs(w, t)} FROM ${table(w, t)} AS ${w.id(ROW)}${keyWhere(w, t, keyJson)}`);
}

/**
 * The body's columns as one record, each of its column's type. Rich-text values, sanitised by the
 * caller, are merged over the body as sent (`||` replaces those keys), so every other value keeps
 * its exact text.
 */
function valuesRecord(w: SqlWriter, columns: RowColumn[], bodyText: string, overrides: Record<string, unknown> | null): string {
  const merged = overrides ? `${w.param(bodyText)}::jsonb || ${w.param(JSON.stringify(overrides))}::jsonb` : `${w.param(bodyText)}::jsonb`;
  return `jsonb_to_record(${merged}) AS ${w.id(VALUES)}(${columns.map((c) => `${w.id(col(c))} ${c.castType}`).join(", ")})`;
}

export function insertRow(t: RowTable, columns: RowColumn[], bodyText: string, overrides: Record<string, unknown> | null): Statement {
  const w = new SqlWriter();
  const into = `INSERT INTO ${table(w, t)} AS ${w.id(ROW)}`;
  if (!columns.length) return done(w, `${into} DEFAULT VALUES RETURNING ${rowOutputs(w, t)}`);
  const names = columns.map((c) => w.id(col(c)));
  const values = columns.map((c) => `${w.id(VALUES)}.${w.id(col(c))}`);
  return done(
    w,
    `${into} (${names.join(", ")}) SELECT ${values.join(", ")} FROM ${valuesRecord(w, columns, bodyText, overrides)} RETURNING ${rowOutputs(w, t)}`,
  );
}

export function updateByKey(t: RowTable, keyJson: string, columns: RowColumn[], bodyText: string, overrides: Record<string, unknown> | null): Statement {
  const w = new SqlWriter();
  const sets = columns.map((c) => `${w.id(col(c))} = ${w.id(VALUES)}.${w.id(col(c))}`);
  const text = `UPDATE ${table(w, t)} AS ${w.id(ROW)} SET ${sets.join(", ")} FROM ${valuesRecord(w, columns, bodyText, overrides)}`;
  return done(w, `${text}${keyWhere(w, t, keyJson)} RETURNING ${rowOutputs(w, t)}`);
}

export function deleteByKey(t: RowTable, keyJson: string): Statement {
  const w = new SqlWriter();
  return done(w, `DELETE FROM ${table(w, t)} AS ${w.id(ROW)}${keyWhere(w, t, keyJson)} RETURNING ${rowOutputs(w, t)}`);
}

/** Deletes what matches; returns each deleted row's key (k0…kn), or one column for a keyless table. */
export function deleteWhere(t: RowTable, where: RowCond[]): Statement {
  const w = new SqlWriter();
  const r = w.id(ROW);
  const keys = t.pk.length ? t.pk.map((name, i) => `${jsonValue(`${r}.${w.id(cached(name))}`, t.byName.get(name)!)} AS ${w.id(keyAlias(i))}`).join(", ") : "1";
  return done(w, `DELETE FROM ${table(w, t)} AS ${r}${whereSql(w, where)} RETURNING ${keys}`);
}
