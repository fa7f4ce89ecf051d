// Relationships derived from foreign keys, as PostgREST sees them: each key gives a many-to-one
// from the referencing table and a one-to-many back (one-to-one when the key's columns are unique),
// and a table holding two keys inside its primary key is a junction for many-to-many.
import { tableKey, type Column, type ComputedField, type ComputedRelationship, type ForeignKey, type Relationship, type Routine, type Table } from "./types.ts";
import type { ViewColumnSource } from "./view-lineage.ts";

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));
const covers = (outer: string[], inner: string[]) => inner.every((x) => outer.includes(x));

export function buildRelationships(
  tables: Map<string, Table>,
  fks: ForeignKey[],
  viewSources: Map<Table, ViewColumnSource[]> = new Map(),
): Map<string, Relationship[]> {
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
    // The same key seen through views that show all its columns unchanged (PostgREST infers these
    // from the views' column lineage): view → table, table → view and view → view.
    const origins = [{ rel: origin, cols: fk.columns }, ...throughViews(viewSources, origin, fk.columns)];
    const targets = [{ rel: target, cols: fk.refColumns }, ...throughViews(viewSources, target, fk.refColumns)];
    for (const o of origins) {
      for (const t of targets) {
        if (o.rel === origin && t.rel === target) continue;
        const viaPairs = o.cols.map((c, i): [string, string] => [c, t.cols[i]!]);
        const self = o.rel === t.rel;
        add(o.rel, {
          kind: unique ? "o2o" : "m2o",
          originHoldsKey: true,
          constraint: fk.constraint,
          origin: o.rel,
          target: t.rel,
          columns: viaPairs,
          isSelf: self,
        });
        add(t.rel, {
          kind: unique ? "o2o" : "o2m",
          originHoldsKey: false,
          constraint: fk.constraint,
          origin: t.rel,
          target: o.rel,
          columns: viaPairs.map(([a, b]): [string, string] => [b, a]),
          isSelf: self,
        });
      }
    }
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

/** Views showing every one of `cols` of `table`, with the view's names for them. */
function throughViews(viewSources: Map<Table, ViewColumnSource[]>, table: Table, cols: string[]): Array<{ rel: Table; cols: string[] }> {
  const out: Array<{ rel: Table; cols: string[] }> = [];
  for (const [view, sources] of viewSources) {
    const mapped = cols.map((c) => sources.find((s) => s.base === table && s.baseColumn === c)?.column);
    if (mapped.every((m): m is string => m !== undefined)) out.push({ rel: view, cols: mapped });
  }
  return out;
}

/**
 * Computed fields and computed relationships: functions whose only parameter is a row of an exposed
 * table or view. A scalar result is a field; rows of a table or view make a relationship, to-one
 * unless it is SETOF without ROWS 1.
 */
export function buildComputed(routines: Map<string, Routine[]>): {
  computedFields: Map<string, Map<string, ComputedField>>;
  computedRelationships: Map<string, ComputedRelationship[]>;
} {
  const computedFields = new Map<string, Map<string, ComputedField>>();
  const computedRelationships = new Map<string, ComputedRelationship[]>();
  for (const list of routines.values()) {
    for (const r of list) {
      const origin = r.rowParamRelation;
      if (!origin || r.schema !== origin.schema) continue;
      const key = tableKey(origin.schema, origin.name);
      if (r.resultRelation) {
        const rel: ComputedRelationship = {
          kind: "computed",
          routine: r,
          origin,
          target: r.resultRelation,
          toOne: !r.returnsSet || r.rows === 1,
          constraint: r.name,
          isSelf: r.resultRelation === origin,
        };
        const l = computedRelationships.get(key);
        if (l) l.push(rel);
        else computedRelationships.set(key, [rel]);
      } else if (r.returnsScalar && !r.returnsSet && !r.returnsVoid) {
        const column: Column = {
          name: r.name,
          type: r.returnType,
          castType: r.returnType,
          baseType: r.returnBaseType ?? r.returnType,
          category: "U",
          nullable: true,
          default: null,
          generated: true,
          position: 0,
          enumValues: [],
          description: r.description,
          elementType: null,
        };
        let m = computedFields.get(key);
        if (!m) computedFields.set(key, (m = new Map()));
        m.set(r.name, { routine: r, origin, column });
      }
    }
  }
  return { computedFields, computedRelationships };
}
