// Read plans: the select tree resolved against the schema cache (columns, casts, relationships), with
// filters, logic trees, orders and ranges attached to the node they address.
import { tableKey, type Column, type SchemaCache, type Table } from "../../schema-cache/types.ts";
import type { EmbedPath, FieldRef, LogicTree, OpExpr, OrderTerm, QueryAst, SelectItem } from "../parse/ast.ts";
import { aggregatesNotAllowed, notEmbedded, relatedOrderNotToOne, tableNotFound, unacceptableFilter, undefinedColumn, undefinedType } from "../errors.ts";
import { cached, label } from "../sql/ident.ts";
import { findRelationship, isToMany } from "./relationship.ts";
import { similarity } from "./similar.ts";
import type { ComputedRef, Embed, PlannedCond, PlannedOrder, PlannedSelect, PlannedType, ReadNode, TableRef } from "./types.ts";
import { PlinthError } from "../../errors.ts";

export interface PlanContext {
  cache: SchemaCache;
  schema: string;
  aggregatesEnabled: boolean;
}

export function tableRef(table: Table): TableRef {
  return { table, schema: cached(table.schema), name: cached(table.name) };
}

export function lookupTable(ctx: PlanContext, name: string): Table {
  const t = ctx.cache.tables.get(tableKey(ctx.schema, name));
  if (!t) throw tableNotFound(ctx.schema, name, suggestTable(ctx, name));
  return t;
}

function suggestTable(ctx: PlanContext, name: string): string | undefined {
  let best: string | undefined;
  let bestScore = 0.75;
  for (const t of ctx.cache.tables.values()) {
    if (t.schema !== ctx.schema) continue;
    const s = similarity(name.toLowerCase(), t.name.toLowerCase());
    if (s >= bestScore) {
      bestScore = s;
      best = t.name;
    }
  }
  return best;
}

export function lookupColumn(table: Table, name: string, sqlName = table.name): Column {
  const c = table.columns.get(name);
  if (!c) throw undefinedColumn(sqlName, name);
  return c;
}

export function planCast(ctx: PlanContext, name: string | undefined): PlannedType | undefined {
  if (name === undefined) return undefined;
  const t = ctx.cache.castTypes.get(name.toLowerCase().replace(/\s+/g, " "));
  if (!t) throw undefinedType(name);
  return { type: t, schema: cached(t.schema), name: cached(t.name) };
}

/**
 * Builds the node tree for a select list over `table`. `depth` is 0 for the root; an embedded node's
 * relation is named as PostgREST aliases it (`<table>_<depth>`, the table itself for many-to-many),
 * which is what PostgreSQL's errors about its columns say.
 */
export function planSelectTree(ctx: PlanContext, table: Table, items: SelectItem[], depth = 0, sqlName = table.name): ReadNode {
  // PostgREST resolves every relationship of the tree before PostgreSQL sees any column, so a
  // relationship error anywhere wins over a missing column anywhere.
  if (depth === 0) checkEmbeds(ctx, table, items, 0);
  const node: ReadNode = {
    from: tableRef(table),
    select: [],
    embeds: [],
    where: [],
    order: [],
    hasAggregates: false,
    computed: computedOf(ctx, table),
    sqlName,
  };
  for (const item of items) {
    switch (item.kind) {
      case "star":
        for (const c of table.columnList) node.select.push({ kind: "column", column: c, col: cached(c.name), json: [], label: label(c.name) });
        break;
      case "count":
        if (!ctx.aggregatesEnabled) throw aggregatesNotAllowed();
        node.hasAggregates = true;
        node.select.push({ kind: "count", aggCast: planCast(ctx, item.aggCast), label: label(item.alias ?? "count") });
        break;
      case "field": {
        // `select=count` / `rel(count)` with no such column: PostgREST's backwards-compatible count().
        if (item.field.name === "count" && !table.columns.has("count") && !item.field.json.length && !item.cast && !item.agg) {
          if (!ctx.aggregatesEnabled) throw aggregatesNotAllowed();
          node.hasAggregates = true;
          node.select.push({ kind: "count", aggCast: planCast(ctx, item.aggCast), label: label(item.alias ?? "count") });
          break;
        }
        const computed = !table.columns.has(item.field.name) ? computedField(ctx, table, item.field.name) : undefined;
        const column = computed?.column ?? lookupColumn(table, item.field.name, sqlName);
        if (item.agg) {
          if (!ctx.aggregatesEnabled) throw aggregatesNotAllowed();
          node.hasAggregates = true;
        }
        node.select.push({
          kind: "column",
          column,
          col: cached(column.name),
          fn: computed?.fn,
          json: item.field.json,
          cast: planCast(ctx, item.cast),
          agg: item.agg,
          aggCast: planCast(ctx, item.aggCast),
          label: label(item.alias ?? (item.agg ? item.agg : defaultLabel(item.field))),
        });
        break;
      }
      case "embed":
        node.embeds.push(planEmbed(ctx, table, item, depth + 1));
        break;
    }
  }
  return node;
}

export const computedOf = (ctx: { cache: SchemaCache }, table: Table) => ctx.cache.computedFields?.get(tableKey(table.schema, table.name));

/** A column of the node's relation, or else one of its computed fields. */
function nodeField(node: ReadNode, name: string): { column: Column; fn?: ComputedRef } {
  const c = node.from.table.columns.get(name);
  if (c) return { column: c };
  const f = node.computed?.get(name);
  if (f) return { column: f.column, fn: { schema: cached(f.routine.schema), name: cached(f.routine.name) } };
  throw undefinedColumn(node.sqlName ?? node.from.table.name, name);
}

/** A computed field of `table` (a function taking its row), planned as `fn(row)`. */
export function computedField(ctx: { cache: SchemaCache }, table: Table, name: string): { column: Column; fn: ComputedRef } | undefined {
  const f = ctx.cache.computedFields?.get(tableKey(table.schema, table.name))?.get(name);
  if (!f) return undefined;
  return { column: f.column, fn: { schema: cached(f.routine.schema), name: cached(f.routine.name) } };
}

function defaultLabel(f: FieldRef): string {
  for (let i = f.json.length - 1; i >= 0; i--) if (!f.json[i]!.index) return f.json[i]!.key;
  return f.name;
}

type EmbedItem = Extract<SelectItem, { kind: "embed" }>;

/**
 * Resolves the relationships of the whole select tree, depth first as PostgREST does, then rejects
 * sibling embeds that share a name: PostgREST joins each embed as `<parent>_<alias or name>_<depth>`,
 * so two of them fail in PostgreSQL with 42712, which is what it answers.
 */
function checkEmbeds(ctx: PlanContext, table: Table, items: SelectItem[], depth: number): void {
  for (const item of items) {
    if (item.kind !== "embed") continue;
    const rel = findRelationship(ctx.cache, table, item.name, item.hint, ctx.schema);
    checkEmbeds(ctx, rel.target, item.children, depth + 1);
  }
  if (depth === 0) checkDuplicateEmbeds(ctx, table, items, 1);
}

function checkDuplicateEmbeds(ctx: PlanContext, table: Table, items: SelectItem[], depth: number): void {
  const seen = new Set<string>();
  for (const item of items) {
    if (item.kind !== "embed") continue;
    const alias = `${table.name}_${item.alias ?? item.name}_${depth}`;
    if (seen.has(alias)) throw new PlinthError(400, "42712", `table name "${alias}" specified more than once`);
    seen.add(alias);
  }
  for (const item of items) {
    if (item.kind !== "embed") continue;
    const rel = findRelationship(ctx.cache, table, item.name, item.hint, ctx.schema);
    checkDuplicateEmbeds(ctx, rel.target, item.children, depth + 1);
  }
}

function planEmbed(ctx: PlanContext, parent: Table, item: EmbedItem, depth: number): Embed {
  const rel = findRelationship(ctx.cache, parent, item.name, item.hint, ctx.schema);
  const node = planSelectTree(ctx, rel.target, item.children, depth, rel.kind === "m2m" ? rel.target.name : `${rel.target.name}_${depth}`);
  const toMany = isToMany(rel);
  const outName = item.alias ?? item.name;
  return {
    label: label(outName),
    pathName: outName,
    rel,
    fn: rel.kind === "computed" ? { schema: cached(rel.routine.schema), name: cached(rel.routine.name) } : undefined,
    junction: rel.kind === "m2m" ? tableRef(rel.junction) : undefined,
    join: item.join ?? "left",
    spread: item.spread,
    toMany,
    empty: item.children.length === 0,
    node,
  };
}

/** The node at an embed path, by alias (or name when no alias was given). */
export function nodeAt(root: ReadNode, path: EmbedPath): ReadNode {
  let node = root;
  for (const name of path) {
    const e = node.embeds.find((x) => x.pathName === name);
    if (!e) throw notEmbedded(name);
    node = e.node;
  }
  return node;
}

export function planCond(node: ReadNode, field: FieldRef, expr: OpExpr): PlannedCond {
  const embed = field.json.length === 0 ? node.embeds.find((e) => e.pathName === field.name) : undefined;
  if (embed && !node.from.table.columns.has(field.name)) {
    if (expr.operation.op === "is" && (expr.operation.value === "null" || expr.operation.value === "not_null")) {
      const isNull = (expr.operation.value === "null") !== expr.not;
      return { kind: "embedNull", embed, isNull };
    }
    throw unacceptableFilter(field.name);
  }
  const { column, fn } = nodeField(node, field.name);
  return { kind: "filter", column, col: cached(column.name), fn, json: field.json, expr };
}

export function planLogic(node: ReadNode, tree: LogicTree): PlannedCond {
  if (tree.kind === "filter") return planCond(node, tree.filter.field, tree.filter.expr);
  return { kind: "logic", not: tree.not, op: tree.op, children: tree.children.map((c) => planLogic(node, c)) };
}

export function planOrder(node: ReadNode, term: OrderTerm): PlannedOrder {
  if (term.relation) {
    const embed = node.embeds.find((e) => e.pathName === term.relation);
    if (!embed) throw notEmbedded(term.relation);
    if (embed.toMany) throw relatedOrderNotToOne(node.from.table.name, term.relation);
    const column = lookupColumn(embed.node.from.table, term.field.name, embed.node.sqlName);
    return { col: cached(column.name), json: term.field.json, direction: term.direction, nulls: term.nulls, embed };
  }
  const { column, fn } = nodeField(node, term.field.name);
  return { col: cached(column.name), fn, json: term.field.json, direction: term.direction, nulls: term.nulls };
}

/** Attaches the query's filters, logic, orders and embedded ranges to the tree. */
export function attachQuery(root: ReadNode, ast: QueryAst, opts: { skipRootFilters?: Set<string> } = {}): void {
  for (const { path, filter } of ast.filters) {
    if (path.length === 0 && filter.field.json.length === 0 && opts.skipRootFilters?.has(filter.field.name)) continue;
    const node = nodeAt(root, path);
    node.where.push(planCond(node, filter.field, filter.expr));
  }
  for (const { path, tree } of ast.logic) {
    const node = nodeAt(root, path);
    node.where.push(planLogic(node, tree));
  }
  for (const { path, terms } of ast.order) {
    const node = nodeAt(root, path);
    node.order.push(...terms.map((t) => planOrder(node, t)));
  }
  for (const [key, r] of ast.ranges) {
    if (key === "") continue;
    const node = nodeAt(root, key.split("."));
    node.limit = r.limit;
    node.offset = r.offset;
  }
}

/** Whether any embed (at any depth) was requested with !inner: then the count must honour it. */
export function assertPlainColumnsOnly(node: ReadNode, what: string): void {
  if (node.hasAggregates) throw new PlinthError(400, "PGRST123", `Aggregates are not allowed in ${what}`);
}
