// Relationships derived from foreign keys, as PostgREST sees them: each key gives a many-to-one
// from the referencing table and a one-to-many back (one-to-one when the key's columns are unique),
// and a table holding two keys inside its primary key is a junction for many-to-many.
import { tableKey, type ForeignKey, type Relationship, type Table } from "./types.ts";

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));
const covers = (outer: string[], inner: string[]) => inner.every((x) => outer.includes(x));

export function buildRelationships(tables: Map<string, Table>, fks: ForeignKey[]): Map<string, Relationship[]> {
  const out = new Map<string, Relationship[]>();
  const add = (origin: Table, rel: Relationship) => {
    const key = tableKey(origin.schema, origin.name);
    const list = out.get(key);
    if (list) list.push(rel);
    else out.set(key, [rel]);
  };
  for (const fk of fks) {
    const origin = tables.get(tableKey(fk.schema, fk.table));
    const target = tables.get(tableKey(fk.refSchema, fk.refTable));
    if (!origin || !target) continue;
    const unique = origin.uniqueKeys.some((k) => sameSet(k, fk.columns));
    const pairs = fk.columns.map((c, i): [string, string] => [c, fk.refColumns[i]!]);
    const isSelf = origin === target;
    add(origin, { kind: unique ? "o2o" : "m2o", originHoldsKey: true, constraint: fk.constraint, origin, target, columns: pairs, isSelf });
    add(target, {
      kind: unique ? "o2o" : "o2m",
      originHoldsKey: false,
      constraint: fk.constraint,
      origin: target,
      target: origin,
      columns: pairs.map(([a, b]): [string, string] => [b, a]),
      isSelf,
    });
  }
  // Many-to-many through junction tables.
  const byTable = new Map<string, ForeignKey[]>();
  for (const fk of fks) {
    const k = tableKey(fk.schema, fk.table);
    const list = byTable.get(k);
    if (list) list.push(fk);
    else byTable.set(k, [fk]);
  }
  for (const [k, list] of byTable) {
    if (list.length < 2) continue;
    const junction = tables.get(k);
    if (!junction || junction.pk.length === 0) continue;
    for (const a of list) {
      for (const b of list) {
        if (a === b) continue;
        if (!covers(junction.pk, a.columns) || !covers(junction.pk, b.columns)) continue;
        const origin = tables.get(tableKey(a.refSchema, a.refTable));
        const target = tables.get(tableKey(b.refSchema, b.refTable));
        if (!origin || !target) continue;
        add(origin, {
          kind: "m2m",
          origin,
          target,
          junction,
          originKey: a,
          targetKey: b,
          originColumns: a.refColumns.map((c, i): [string, string] => [c, a.columns[i]!]),
          targetColumns: b.refColumns.map((c, i): [string, string] => [c, b.columns[i]!]),
          constraint: `${a.constraint},${b.constraint}`,
          isSelf: origin === target,
        });
      }
    }
  }
  return out;
}
