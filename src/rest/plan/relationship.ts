// Which relationship an embed means, by PostgREST's rules (findRel):
// - A computed relationship (a function taking the origin's row) is matched by its name, and
//   overrides the foreign-key relationships to a table of the same name.
// - Self-relationships: without a hint, `table(*)` is the one-to-many and `fk_column(*)` the
//   many-to-one; with a hint, only `table!fk_column(*)` (the one-to-many through that column).
//   Self many-to-many (and self one-to-one) relationships are never matched.
// - Otherwise, without a hint the target may be the table, or (when the target is not a view) the
//   constraint or the origin's single column of the key; with a hint the target must be the table
//   and the hint names the constraint, either single column of the key, or the junction table.
// Several matches are an ambiguity (PGRST201) listing the candidates in PostgREST's order.
import { tableKey, type ComputedRelationship, type Relationship, type SchemaCache, type Table } from "../../schema-cache/types.ts";
import { ambiguousRelationship, noRelationship } from "../errors.ts";
import { similarity } from "./similar.ts";

const single = (cols: Array<[string, string]>, side: 0 | 1): string | null => (cols.length === 1 ? cols[0]![side] : null);
const isView = (t: Table) => t.kind === "view" || t.kind === "materialized_view";

export function findRelationship(
  cache: SchemaCache,
  origin: Table,
  target: string,
  hint: string | undefined,
  schema: string,
): Relationship | ComputedRelationship {
  const computedAll = cache.computedRelationships?.get(tableKey(origin.schema, origin.name)) ?? [];
  // PostgREST keys computed relationships by function name, replacing the foreign-key ones whose
  // target table has that (schema-qualified) name; the hint is not consulted for them.
  const computed = computedAll.find((r) => r.target.schema === schema && r.constraint === target);
  if (computed) return computed;
  const overridden = new Set(computedAll.map((r) => tableKey(r.routine.schema, r.routine.name)));
  const all = (cache.relationships.get(tableKey(origin.schema, origin.name)) ?? []).filter(
    (r) => r.target.schema === schema && !overridden.has(tableKey(r.target.schema, r.target.name)),
  );
  const matches = all.filter((r) => matches1(r, target, hint));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw noRelationship(origin.name, target, hint, schema, suggestion(cache, origin, target, schema));
  matches.sort(compareRels);
  const details = matches.map((r) => ({
    cardinality: r.kind === "m2m" ? "many-to-many" : r.kind === "m2o" ? "many-to-one" : r.kind === "o2m" ? "one-to-many" : "one-to-one",
    embedding: `${r.origin.name} with ${r.target.name}`,
    relationship:
      r.kind === "m2m"
        ? `${r.junction.name} using ${r.originKey.constraint}(${r.originColumns.map((c) => c[1]).join(", ")}) and ${r.targetKey.constraint}(${r.targetColumns.map((c) => c[1]).join(", ")})`
        : `${r.constraint} using ${r.origin.name}(${r.columns.map((c) => c[0]).join(", ")}) and ${r.target.name}(${r.columns.map((c) => c[1]).join(", ")})`,
  }));
  const hints = matches.map((r) => `'${r.target.name}!${r.kind === "m2m" ? r.junction.name : r.constraint}'`);
  throw ambiguousRelationship(origin.name, target, details, hints);
}

function matches1(r: Relationship, target: string, hint: string | undefined): boolean {
  const fkCol = r.kind === "m2m" ? null : single(r.columns, 0);
  const refCol = r.kind === "m2m" ? null : single(r.columns, 1);
  const constraint = r.kind === "m2m" ? null : r.constraint;
  if (r.isSelf) {
    if (r.kind !== "o2m") return r.kind === "m2o" && !hint && fkCol === target;
    return r.target.name === target && (!hint || refCol === hint);
  }
  if (!hint) return r.target.name === target || (!isView(r.target) && (constraint === target || fkCol === target));
  if (r.target.name !== target) return false;
  if (r.kind === "m2m") return r.junction.name === hint;
  return constraint === hint || fkCol === hint || refCol === hint;
}

// PostgREST sorts each table's relationships (Haskell's derived Ord on its Relationship type) and
// lists ambiguous candidates in that order: by target, self, cardinality (one-to-many, many-to-one,
// one-to-one, many-to-many), then constraint and columns (junction, constraints, columns for m2m).
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const cmpList = <T>(a: T[], b: T[], f: (x: T, y: T) => number): number => {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = f(a[i]!, b[i]!);
    if (c) return c;
  }
  return a.length - b.length;
};
const cmpPairs = (a: Array<[string, string]>, b: Array<[string, string]>) => cmpList(a, b, (x, y) => cmp(x[0], y[0]) || cmp(x[1], y[1]));
const rank = (r: Relationship) => (r.kind === "o2m" ? 0 : r.kind === "m2o" ? 1 : r.kind === "o2o" ? 2 : 3);

function compareRels(a: Relationship, b: Relationship): number {
  const c = cmp(a.target.schema, b.target.schema) || cmp(a.target.name, b.target.name) || Number(a.isSelf) - Number(b.isSelf) || rank(a) - rank(b);
  if (c) return c;
  if (a.kind === "m2m" && b.kind === "m2m") {
    // Junction columns are (junction column, origin/target column) pairs in PostgREST.
    const swap = (cols: Array<[string, string]>) => cols.map(([x, y]): [string, string] => [y, x]);
    return (
      cmp(a.junction.schema, b.junction.schema) ||
      cmp(a.junction.name, b.junction.name) ||
      cmp(a.originKey.constraint, b.originKey.constraint) ||
      cmp(a.targetKey.constraint, b.targetKey.constraint) ||
      cmpPairs(swap(a.originColumns), swap(b.originColumns)) ||
      cmpPairs(swap(a.targetColumns), swap(b.targetColumns))
    );
  }
  if (a.kind !== "m2m" && b.kind !== "m2m") {
    // one-to-one carries isParent (the origin is the referenced side) after the columns.
    return cmp(a.constraint, b.constraint) || cmpPairs(a.columns, b.columns) || Number(!a.originHoldsKey) - Number(!b.originHoldsKey);
  }
  return 0;
}

/**
 * PostgREST's "Perhaps you meant …" for PGRST200: when the origin has relationships, the closest
 * other target name; when it has none, the closest table that has some. Null when nothing is close
 * or the target itself is a known target (then the hint was what failed). PostgREST ranks with a
 * fuzzy set rescored by Levenshtein distance (minimum 0.33); this uses the Levenshtein score.
 */
function suggestion(cache: SchemaCache, origin: Table, target: string, schema: string): string | null {
  const rels = cache.relationships.get(tableKey(origin.schema, origin.name)) ?? [];
  if (rels.length) {
    const names = [...new Set(rels.filter((r) => r.target.schema === schema).map((r) => r.target.name))];
    if (names.includes(target)) return null;
    const best = closest(names, target);
    return best ? `Perhaps you meant '${best}' instead of '${target}'.` : null;
  }
  const parents: string[] = [];
  for (const list of cache.relationships.values()) {
    const o = list.find((r) => r.origin.schema === schema)?.origin;
    if (o) parents.push(o.name);
  }
  const best = closest(parents, origin.name);
  return best ? `Perhaps you meant '${best}' instead of '${origin.name}'.` : null;
}

function closest(names: string[], word: string): string | null {
  let best: string | null = null;
  let bestScore = 0.33;
  for (const n of names) {
    const s = similarity(word.toLowerCase(), n.toLowerCase());
    if (s > bestScore) {
      bestScore = s;
      best = n;
    }
  }
  return best;
}

export const isToMany = (r: Relationship | ComputedRelationship): boolean => (r.kind === "computed" ? !r.toOne : r.kind === "o2m" || r.kind === "m2m");
