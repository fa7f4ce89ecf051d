// What TypeScript generation needs to know about some schemas, read through the one catalog reader
// (src/catalog/) plus the schema cache's relationships (src/schema-cache/), so that the
// `Relationships` a client is typed with are exactly the ones Plinth's REST API embeds along —
// views included, through their lineage.
import { listColumns, listEnumLabels, listFunctions, listRelations, listTypes, type ColumnRow, type FunctionRow, type RelKind } from "../catalog/index.ts";
import type { Sql } from "../db/pool.ts";
import { loadSchemaCache } from "../schema-cache/introspect.ts";
import { tableKey } from "../schema-cache/types.ts";

export interface TsColumn {
  name: string;
  /** pg_type.typname after one level of domain ("int4", "_text", "mood"). */
  typname: string;
  nullable: boolean;
  hasDefault: boolean;
  identityAlways: boolean;
  /** View columns: whether the view writes through to a base column. */
  updatable: boolean;
}

export interface TsRelationship {
  foreignKeyName: string;
  columns: string[];
  isOneToOne: boolean;
  referencedRelation: string;
  referencedColumns: string[];
}

export interface TsRelation {
  oid: number;
  schema: string;
  name: string;
  kind: RelKind;
  /** Views: whether INSERT/UPDATE reach a base table. */
  updatable: boolean;
  columns: TsColumn[];
  relationships: TsRelationship[];
}

export interface TsArg {
  name: string;
  mode: "in" | "out" | "inout" | "variadic" | "table";
  typname: string;
  hasDefault: boolean;
}

export interface TsFunction {
  schema: string;
  name: string;
  args: TsArg[];
  returnTypname: string;
  returnRelid: number;
  returnsSet: boolean;
  rows: number;
  /** The signature as printed, for a stable order of overloads. */
  signature: string;
}

export interface TsType {
  schema: string;
  name: string;
  /** Enums: labels in order. */
  labels: string[];
  /** Composite types: attributes. */
  attributes: TsColumn[];
  kind: "enum" | "composite";
}

export interface TsModel {
  schemas: string[];
  relations: TsRelation[];
  functions: TsFunction[];
  types: TsType[];
  /** Relations by OID (functions returning a row type name them so). */
  relationByOid: Map<number, TsRelation>;
}

const MODE: Record<string, TsArg["mode"]> = { i: "in", o: "out", b: "inout", v: "variadic", t: "table" };

const column = (c: ColumnRow, updatable = true): TsColumn => ({
  name: c.name,
  typname: c.base_type,
  nullable: c.nullable,
  hasDefault: c.default_expr !== null || c.identity !== null,
  identityAlways: c.identity === "always",
  updatable,
});

export async function loadTsModel(sql: Sql, schemas: string[]): Promise<TsModel> {
  const [rels, cols, fns, types, labels, composite, cache] = await Promise.all([
    listRelations(sql, { schemas }, ["r", "p", "v", "m", "f"]),
    listColumns(sql, { schemas }),
    listFunctions(sql, schemas),
    listTypes(sql, { schemas }),
    listEnumLabels(sql),
    listRelations(sql, { schemas }, ["c"]),
    loadSchemaCache(sql, schemas),
  ]);
  const colsByRel = new Map<number, ColumnRow[]>();
  for (const c of cols) colsByRel.set(c.relid, [...(colsByRel.get(c.relid) ?? []), c]);

  const relations: TsRelation[] = [];
  const relationByOid = new Map<number, TsRelation>();
  for (const r of rels) {
    if (r.partition) continue; // reached through the partitioned table, as REST does
    const isView = r.kind === "v" || r.kind === "m";
    const updatable = isView && r.kind === "v" && (r.insertable || r.updatable);
    const rel: TsRelation = {
      oid: r.oid,
      schema: r.schema,
      name: r.name,
      kind: r.kind,
      updatable,
      columns: (colsByRel.get(r.oid) ?? []).map((c) => column(c, !isView || updatable)),
      relationships: relationshipsOf(cache, r.schema, r.name),
    };
    relations.push(rel);
    relationByOid.set(r.oid, rel);
  }

  const labelsByOid = new Map(labels.map((l) => [Number(l.oid), l.labels]));
  const compositeByName = new Map(composite.map((c) => [`${c.schema}.${c.name}`, c.oid]));
  const tsTypes: TsType[] = [];
  for (const t of types) {
    if (t.kind === "enum") tsTypes.push({ schema: t.schema, name: t.name, labels: labelsByOid.get(t.oid) ?? [], attributes: [], kind: "enum" });
    if (t.kind === "composite") {
      const relid = compositeByName.get(`${t.schema}.${t.name}`);
      tsTypes.push({ schema: t.schema, name: t.name, labels: [], attributes: (colsByRel.get(relid ?? -1) ?? []).map((c) => column(c)), kind: "composite" });
    }
  }

  return { schemas, relations, functions: fns.filter(callable).map(functionOf), types: tsTypes, relationByOid };
}

/** Functions a client may call through /rpc: plain functions, not triggers or aggregates. */
const callable = (f: FunctionRow) => f.kind === "function" && !["trigger", "event_trigger"].includes(f.return_typname) && !f.extension_member;

function functionOf(f: FunctionRow): TsFunction {
  const n = f.arg_types.length;
  const modes = f.arg_modes ?? Array(n).fill("i");
  const names = f.arg_names ?? Array(n).fill("");
  const inCount = modes.filter((m) => m === "i" || m === "b" || m === "v").length;
  let inIndex = 0;
  const args = f.arg_types.map((_, i): TsArg => {
    const mode = MODE[modes[i]!] ?? "in";
    const isIn = mode === "in" || mode === "inout" || mode === "variadic";
    const hasDefault = isIn && inIndex++ >= inCount - f.n_defaults;
    return { name: names[i] ?? "", mode, typname: f.arg_base_types[i]!, hasDefault };
  });
  return {
    schema: f.schema,
    name: f.name,
    args,
    returnTypname: f.return_base_type,
    returnRelid: f.return_relid,
    returnsSet: f.returns_set,
    rows: f.rows,
    signature: f.arguments,
  };
}

/** The relationships REST embeds along from this relation (it holds the key), same schema only. */
function relationshipsOf(cache: Awaited<ReturnType<typeof loadSchemaCache>>, schema: string, name: string): TsRelationship[] {
  const out: TsRelationship[] = [];
  for (const r of cache.relationships.get(tableKey(schema, name)) ?? []) {
    if (r.kind === "m2m" || r.kind === "o2m" || (r.kind === "o2o" && !r.originHoldsKey)) continue;
    if (r.target.schema !== schema) continue;
    out.push({
      foreignKeyName: r.constraint,
      columns: r.columns.map(([o]) => o),
      isOneToOne: r.kind === "o2o",
      referencedRelation: r.target.name,
      referencedColumns: r.columns.map(([, t]) => t),
    });
  }
  return out.sort(
    (a, b) =>
      a.foreignKeyName.localeCompare(b.foreignKeyName) ||
      a.referencedRelation.localeCompare(b.referencedRelation) ||
      JSON.stringify(a.referencedColumns).localeCompare(JSON.stringify(b.referencedColumns)),
  );
}
