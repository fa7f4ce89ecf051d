// Which relationship an embed means: PostgREST's rules for the target name (table, constraint or
// column) and the `!hint` (constraint, column on either side, or junction table).
import { tableKey, type ComputedRelationship, type Relationship, type SchemaCache, type Table } from "../../schema-cache/types.ts";
import { ambiguousRelationship, noRelationship } from "../errors.ts";

const single = (cols: Array<[string, string]>, side: 0 | 1): string | null => (cols.length === 1 ? cols[0]![side] : null);

export function findRelationship(cache: SchemaCache, origin: Table, target: string, hint: string | undefined, schema: string): Relationship | ComputedRelationship {
  // A computed relationship is named by its function and wins over a foreign key of the same name,
  // as in PostgREST; overloads differ by the row type they take, so at most one fits `origin`.
  const computed = (cache.computedRelationships?.get(tableKey(origin.schema, origin.name)) ?? []).find(
    (r) => r.constraint === target && (!hint || hint === r.target.name),
  );
  if (computed) return computed;
  const all = (cache.relationships.get(tableKey(origin.schema, origin.name)) ?? []).filter((r) => r.target.schema === schema);
  const matches = all.filter((r) => {
    if (r.kind === "m2m") {
      if (r.target.name !== target) return false;
      if (!hint) return !r.isSelf;
      return r.junction.name === hint || r.constraint.split(",").includes(hint);
    }
    const fkCol = single(r.columns, r.originHoldsKey ? 0 : 1);
    const refCol = single(r.columns, r.originHoldsKey ? 1 : 0);
    if (r.isSelf) {
      if (!hint) {
        // children:family(*) → the one-to-many; parent_id(*) → the many-to-one through that column.
        return (r.target.name === target && r.kind === "o2m") || (r.kind === "m2o" && single(r.columns, 0) === target);
      }
      return r.target.name === target && r.kind === "o2m" && (fkCol === hint || r.constraint === hint);
    }
    const targetIsView = r.target.kind === "view";
    if (!hint) {
      return (
        r.target.name === target ||
        (r.constraint === target && !targetIsView) ||
        (r.originHoldsKey && single(r.columns, 0) === target && !targetIsView)
      );
    }
    if (r.target.name !== target) return false;
    // The hint may name the constraint, the foreign-key column, or the referenced column.
    return r.constraint === hint || single(r.columns, 0) === hint || single(r.columns, 1) === hint || fkCol === hint || refCol === hint;
  });
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw noRelationship(origin.name, target, hint, schema);
  const details = matches.map((r) => ({
    cardinality: r.kind === "m2m" ? "many-to-many" : r.kind === "m2o" ? "many-to-one" : r.kind === "o2m" ? "one-to-many" : "one-to-one",
    embedding: `${origin.name} with ${r.target.name}`,
    relationship:
      r.kind === "m2m"
        ? `${r.junction.name} using ${r.originKey.constraint}(${r.originKey.columns.join(", ")}) and ${r.targetKey.constraint}(${r.targetKey.columns.join(", ")})`
        : `${r.constraint} using ${origin.name}(${r.columns.map((c) => c[0]).join(", ")}) and ${r.target.name}(${r.columns.map((c) => c[1]).join(", ")})`,
  }));
  const hints = matches.map((r) => `'${r.target.name}!${r.kind === "m2m" ? r.junction.name : r.constraint}'`);
  throw ambiguousRelationship(origin.name, target, details, hints);
}

export const isToMany = (r: Relationship | ComputedRelationship): boolean => (r.kind === "computed" ? !r.toOne : r.kind === "o2m" || r.kind === "m2m");
