// SELECT statements from read nodes, in PostgREST's shape: one query per request, embeds as lateral
// subqueries that build their JSON in the database (row_to_json for to-one, json_agg for to-many),
// so 100 parents with their children are one statement, not 101.
import type { Column } from "../../schema-cache/types.ts";
import type { JsonStep, OpExpr } from "../parse/ast.ts";
import type { ComputedRef, Embed, PlannedCond, PlannedOrder, PlannedSelect, PlannedType, ReadNode } from "../plan/types.ts";
import { filterSql } from "./filter.ts";
import { cached, internal, label as labelIdent, type Ident, type SqlWriter } from "./ident.ts";

export interface NodeSource {
  /** The FROM item, already rendered, e.g. `"public"."films" AS "pgrst_1"`. */
  from: string;
  /** The alias (quoted) that columns are qualified with. */
  alias: string;
}

export interface NodeQueryOptions {
  /** Extra WHERE conditions (join conditions of an embed). */
  extraWhere?: string[];
  /** For count queries: no select list, no order/limit, only the joins that can drop rows. */
  countOnly?: boolean;
  /** Skip LIMIT/OFFSET (count queries, and the range is applied elsewhere). */
  noRange?: boolean;
}

export function tableSource(w: SqlWriter, node: ReadNode, alias: Ident): NodeSource {
  const a = w.id(alias);
  return { from: `${w.qualified(node.from.schema, node.from.name)} AS ${a}`, alias: a };
}

/** The labels a node contributes to its output row (spreads contribute their children's). */
export function outputLabels(node: ReadNode): string[] {
  const out = node.select.map((s) => s.label.name);
  for (const e of node.embeds) {
    if (e.empty) continue;
    if (e.spread) out.push(...outputLabels(e.node));
    else out.push(e.label.name);
  }
  return out;
}

export function nodeQuery(w: SqlWriter, node: ReadNode, src: NodeSource, opts: NodeQueryOptions = {}): string {
  const selects: string[] = [];
  const groupable: number[] = [];
  const joins: string[] = [];
  const embedAliases = new Map<Embed, string>();

  if (!opts.countOnly) {
    for (const s of node.select) {
      selects.push(`${selectExpr(w, src.alias, s)} AS ${w.id(s.label)}`);
      if (!(s.kind === "count" || s.agg)) groupable.push(selects.length);
    }
  }
  const usedInWhere = new Set<Embed>();
  collectEmbedRefs(node.where, usedInWhere);
  for (const o of node.order) if (o.embed) usedInWhere.add(o.embed);
  for (const e of node.embeds) {
    if (opts.countOnly && e.join !== "inner" && !usedInWhere.has(e)) continue;
    const j = embedJoin(w, src.alias, e, node.hasAggregates);
    joins.push(j.join);
    embedAliases.set(e, j.alias);
    if (opts.countOnly) continue;
    for (const s of j.selects) {
      selects.push(s);
      groupable.push(selects.length);
    }
  }
  if (!opts.countOnly && selects.length === 0) selects.push(`1 AS ${w.id(internal("pgrst_empty"))}`);

  const where = node.where.map((c) => condSql(w, src.alias, c, embedAliases));
  where.push(...(opts.extraWhere ?? []));

  let sql = `SELECT ${opts.countOnly ? "1" : selects.join(", ")} FROM ${src.from}`;
  if (joins.length) sql += " " + joins.join(" ");
  if (where.length) sql += ` WHERE ${where.join(" AND ")}`;
  if (!opts.countOnly && node.hasAggregates && groupable.length) sql += ` GROUP BY ${groupable.join(", ")}`;
  if (!opts.countOnly && node.order.length) sql += ` ORDER BY ${node.order.map((o) => orderSql(w, src.alias, o, embedAliases)).join(", ")}`;
  if (!opts.countOnly && !opts.noRange) {
    if (node.limit !== undefined) sql += ` LIMIT ${w.param(node.limit)}::bigint`;
    if (node.offset) sql += ` OFFSET ${w.param(node.offset)}::bigint`;
  }
  return sql;
}

function collectEmbedRefs(conds: PlannedCond[], out: Set<Embed>): void {
  for (const c of conds) {
    if (c.kind === "embedNull") out.add(c.embed);
    else if (c.kind === "logic") collectEmbedRefs(c.children, out);
  }
}

function embedJoin(w: SqlWriter, parentAlias: string, e: Embed, parentAggregates: boolean): { join: string; alias: string; selects: string[] } {
  const childAlias = w.alias();
  const agg = w.id(w.alias());
  const src = tableSource(w, e.node, childAlias);
  const conds: string[] = [];
  let from = src.from;
  const rel = e.rel;
  if (rel.kind === "m2m") {
    const jAlias = w.id(w.alias());
    from += `, ${w.qualified(e.junction!.schema, e.junction!.name)} AS ${jAlias}`;
    for (const [targetCol, jCol] of rel.targetColumns) conds.push(`${jAlias}.${w.id(col(jCol))} = ${src.alias}.${w.id(col(targetCol))}`);
    for (const [originCol, jCol] of rel.originColumns) conds.push(`${jAlias}.${w.id(col(jCol))} = ${parentAlias}.${w.id(col(originCol))}`);
  } else if (rel.kind === "computed") {
    // A computed relationship: the function of the parent's row is the source; no join condition.
    from = `${w.qualified(e.fn!.schema, e.fn!.name)}(${w.rowOf(parentAlias)}) AS ${src.alias}`;
  } else {
    for (const [originCol, targetCol] of rel.columns) conds.push(`${src.alias}.${w.id(col(targetCol))} = ${parentAlias}.${w.id(col(originCol))}`);
  }
  let sub = nodeQuery(w, e.node, { from, alias: src.alias }, { extraWhere: conds });
  const kind = e.join === "inner" ? "INNER" : "LEFT";
  const asJsonb = parentAggregates ? "::jsonb" : "";
  if (!e.toMany) {
    const join = `${kind} JOIN LATERAL (${sub}) AS ${agg} ON TRUE`;
    if (e.empty) return { join, alias: agg, selects: [] };
    if (e.spread) return { join, alias: agg, selects: outputLabels(e.node).map((l) => `${agg}.${w.id(labelIdent(l))} AS ${w.id(labelIdent(l))}`) };
    return { join, alias: agg, selects: [`row_to_json(${agg}.*)${asJsonb} AS ${w.id(e.label)}`] };
  }
  const labels = e.spread ? outputLabels(e.node) : [];
  const spreadAggs = labels.map((l) => `json_agg(${agg}.${w.id(labelIdent(l))}) AS ${w.id(labelIdent(l))}`);
  sub = `SELECT json_agg(${agg}) AS ${agg}${spreadAggs.length ? ", " + spreadAggs.join(", ") : ""} FROM (${sub}) AS ${agg}`;
  const join = `${kind} JOIN LATERAL (${sub}) AS ${agg} ON ${e.join === "inner" ? `${agg}.${agg} IS NOT NULL` : "TRUE"}`;
  if (e.empty) return { join, alias: agg, selects: [] };
  if (e.spread) {
    return { join, alias: agg, selects: labels.map((l) => `COALESCE(${agg}.${w.id(labelIdent(l))}, '[]')${asJsonb} AS ${w.id(labelIdent(l))}`) };
  }
  return { join, alias: agg, selects: [`COALESCE(${agg}.${agg}, '[]')${asJsonb} AS ${w.id(e.label)}`] };
}

// Column names inside relationships come from the schema cache's foreign keys.
const col = (name: string) => cached(name);

function jsonSteps(w: SqlWriter, steps: JsonStep[]): string {
  return steps.map((s) => `${s.arrow}${s.index ? `(${w.param(s.key)})::int` : w.param(s.key)}`).join("");
}

function columnExpr(w: SqlWriter, alias: string, c: Ident, json: JsonStep[], fn?: ComputedRef): string {
  // A computed field is a function of the row, called with the FROM item's whole row.
  const base = fn ? `${w.qualified(fn.schema, fn.name)}(${w.rowOf(alias)})` : `${alias}.${w.id(c)}`;
  return json.length ? `(${base}${jsonSteps(w, json)})` : base;
}

function castSql(w: SqlWriter, t: PlannedType | undefined): string {
  return t ? `::${w.qualified(t.schema, t.name)}` : "";
}

/**
 * A file reference with its object: the stored {bucket, path} plus size, mimetype and a URL, read
 * from storage.objects as the caller (so storage RLS decides; an object the caller may not see, or
 * one that is gone, gives nulls). The URL is /object/public/… when the caller can see that the
 * bucket is public, else /object/authenticated/… (which needs the caller's token).
 */
function fileRefExpr(w: SqlWriter, ref: string, base: string): string {
  const o = w.id(w.alias());
  const b = w.id(w.alias());
  const url =
    `${w.param(base + "/storage/v1/object/")} || CASE WHEN EXISTS (SELECT 1 FROM "storage"."buckets" AS ${b} WHERE ${b}."id" = ${o}."bucket_id" AND ${b}."public") ` +
    `THEN 'public/' ELSE 'authenticated/' END || ${o}."bucket_id" || '/' || ${o}."name"`;
  const meta =
    `(SELECT jsonb_build_object('size', (${o}."metadata"->>'size')::bigint, 'mimetype', ${o}."metadata"->>'mimetype', 'url', ${url}) ` +
    `FROM "storage"."objects" AS ${o} WHERE ${o}."bucket_id" = ${ref}->>'bucket' AND ${o}."name" = ${ref}->>'path')`;
  return `CASE WHEN ${ref} IS NULL THEN NULL ELSE ${ref}::jsonb || coalesce(${meta}, '{"size": null, "mimetype": null, "url": null}'::jsonb) END`;
}

function selectExpr(w: SqlWriter, alias: string, s: PlannedSelect): string {
  if (s.kind === "count") return `pg_catalog.count(*)${castSql(w, s.aggCast)}`;
  if (s.expandFile) return fileRefExpr(w, columnExpr(w, alias, s.col, [], s.fn), s.expandFile.base);
  let e = columnExpr(w, alias, s.col, s.json, s.fn);
  if (s.cast) e = `(${e})${castSql(w, s.cast)}`;
  if (s.agg) e = `pg_catalog.${s.agg}(${e})${castSql(w, s.aggCast)}`;
  return e;
}

export function orderSql(w: SqlWriter, alias: string, o: PlannedOrder, embeds: Map<Embed, string>): string {
  const target = o.embed ? embeds.get(o.embed)! : alias;
  const e = o.embed ? `${target}.${w.id(o.col)}` : columnExpr(w, alias, o.col, o.json, o.fn);
  const dir = o.direction === "desc" ? " DESC" : o.direction === "asc" ? " ASC" : "";
  const nulls = o.nulls === "first" ? " NULLS FIRST" : o.nulls === "last" ? " NULLS LAST" : "";
  return `${e}${dir}${nulls}`;
}

export function condSql(w: SqlWriter, alias: string, c: PlannedCond, embeds: Map<Embed, string>): string {
  switch (c.kind) {
    case "logic": {
      const inner = c.children.map((x) => condSql(w, alias, x, embeds)).join(c.op === "and" ? " AND " : " OR ");
      return `${c.not ? "NOT " : ""}(${inner || (c.op === "and" ? "TRUE" : "FALSE")})`;
    }
    case "embedNull": {
      const a = embeds.get(c.embed);
      if (!a) return "TRUE";
      const target = c.embed.toMany ? `${a}.${a}` : a;
      return `${target} IS ${c.isNull ? "NOT " : ""}DISTINCT FROM NULL`;
    }
    case "filter":
      return filterSql(w, columnExpr(w, alias, c.col, c.json, c.fn), lhsType(c.column, c.json), c.column.baseType, c.json.length > 0, c.expr);
  }
}

/**
 * The type a filter value is cast to: the column's own type (format_type without typmod, from the
 * catalog, so varchar(3) does not truncate the value), or what a JSON path yields.
 */
function lhsType(column: Column, json: JsonStep[]): string {
  if (json.length === 0) return column.castType;
  return json[json.length - 1]!.arrow === "->>" ? "text" : column.baseType === "json" ? "json" : "jsonb";
}
