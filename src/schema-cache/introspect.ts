// Builds the schema cache from the catalog (src/catalog/): what the exposed schemas contain, mapped
// to REST's model. The only input (the exposed schema names) is a bind parameter. Runs as the
// server's own role: privileges are enforced per request by PostgreSQL itself, the cache only says
// what exists.
import type postgres from "postgres";
import {
  listColumns,
  listConstraints,
  listEnumLabels,
  listFunctions,
  listRelations,
  listTypes,
  listViewLineage,
  usesRequestInfo,
  findGeoJsonFunction,
  type ColumnRow,
  type FunctionRow,
} from "../catalog/index.ts";
import {
  tableKey,
  type CastType,
  type Column,
  type ForeignKey,
  type RelationKind,
  type Routine,
  type RoutineParam,
  type SchemaCache,
  type Table,
} from "./types.ts";
import { buildComputed, buildRelationships } from "./relationships.ts";
import { resolveViewSources } from "./view-lineage.ts";

const KIND: Record<string, RelationKind> = {
  r: "table",
  v: "view",
  m: "materialized_view",
  f: "foreign_table",
  p: "partitioned_table",
};

const VOLATILITY = { immutable: "i", stable: "s", volatile: "v" } as const;

export async function loadSchemaCache(sql: postgres.Sql, schemas: string[]): Promise<SchemaCache> {
  const [rels, cols, constraints, functions, types, enums, views, requestInfo, geoJson] = await Promise.all([
    listRelations(sql, { schemas }, ["r", "v", "m", "f", "p"]),
    listColumns(sql, { schemas }),
    listConstraints(sql, { schemas }, ["primary_key", "unique", "foreign_key"]),
    listFunctions(sql, schemas),
    listTypes(sql, { schemas: ["pg_catalog", ...schemas] }),
    listEnumLabels(sql),
    listViewLineage(sql, schemas),
    usesRequestInfo(sql),
    findGeoJsonFunction(sql),
  ]);

  const byOid = new Map<number, Table>();
  const tables = new Map<string, Table>();
  for (const r of rels) {
    if (r.partition) continue; // reached through the partitioned table
    const t: Table = {
      schema: r.schema,
      name: r.name,
      kind: KIND[r.kind] ?? "table",
      description: r.comment,
      columns: new Map(),
      columnList: [],
      pk: [],
      uniqueKeys: [],
      insertable: r.insertable,
      updatable: r.updatable,
      deletable: r.deletable,
    };
    byOid.set(Number(r.oid), t);
    tables.set(tableKey(r.schema, r.name), t);
  }
  const enumLabels = new Map(enums.map((e) => [Number(e.oid), e.labels]));
  // Composite types (relkind 'c') are not exposed as tables but give shapes to function results.
  const colsByRel = new Map<number, Column[]>();
  for (const c of cols) {
    const col = toColumn(c, enumLabels);
    const relid = Number(c.relid);
    let list = colsByRel.get(relid);
    if (!list) colsByRel.set(relid, (list = []));
    list.push(col);
    const t = byOid.get(relid);
    if (t) {
      t.columns.set(col.name, col);
      t.columnList.push(col);
    }
  }
  const foreignKeys: ForeignKey[] = [];
  for (const k of constraints) {
    if (k.type === "foreign_key") {
      // Keys between exposed schemas only; a partition's keys are its parent's, seen again.
      if (k.partition || !schemas.includes(k.ref_schema!)) continue;
      foreignKeys.push({
        constraint: k.name,
        schema: k.schema,
        table: k.table,
        columns: k.columns,
        refSchema: k.ref_schema!,
        refTable: k.ref_table!,
        refColumns: k.ref_columns,
      });
      continue;
    }
    const t = byOid.get(Number(k.relid));
    if (!t) continue;
    if (k.type === "primary_key") t.pk = k.columns;
    t.uniqueKeys.push(k.columns);
  }

  const routines = new Map<string, Routine[]>();
  for (const p of functions) {
    if (p.kind !== "function") continue;
    const routine = toRoutine(p, byOid, colsByRel);
    if (!routine) continue;
    const key = tableKey(p.schema, p.name);
    const list = routines.get(key);
    if (list) list.push(routine);
    else routines.set(key, [routine]);
  }

  const castTypes = new Map<string, CastType>();
  for (const t of types) {
    // Array types (_int4) and PostgreSQL's internal pg_* types are not cast targets by those names.
    if (t.name.startsWith("_") || t.name.startsWith("pg_")) continue;
    const key = t.name.toLowerCase();
    // pg_catalog wins over a same-named user type, as search_path resolution would do.
    if (!castTypes.has(key) || t.schema === "pg_catalog") castTypes.set(key, { schema: t.schema, name: t.name });
  }
  for (const [alias, name] of TYPE_ALIASES) {
    const target = castTypes.get(name);
    if (target) castTypes.set(alias, target);
  }

  const viewSources = resolveViewSources(views, byOid);
  const { computedFields, computedRelationships } = buildComputed(routines);
  return {
    schemas,
    tables,
    routines,
    foreignKeys,
    relationships: buildRelationships(tables, foreignKeys, viewSources),
    castTypes,
    computedFields,
    computedRelationships,
    usesRequestInfo: requestInfo,
    geoJson,
    loadedAt: Date.now(),
  };
}

function toColumn(c: ColumnRow, enumLabels: Map<number, string[]>): Column {
  const col: Column = {
    name: c.name,
    type: c.type,
    castType: c.cast_type,
    baseType: c.base_type,
    category: c.base_category,
    nullable: c.nullable,
    default: c.default_expr,
    ...(c.insert_default !== null ? { insertDefault: c.insert_default } : {}),
    generated: c.generated,
    position: c.position,
    enumValues: enumLabels.get(Number(c.base_type_oid)) ?? [],
    description: c.comment,
    elementType: c.base_element_type,
  };
  if (c.type_schema === "plinth" && (c.type_name === "rich_text" || c.type_name === "file_ref")) col.plinthType = c.type_name;
  return col;
}

/** SQL spellings of built-in types that differ from their pg_type names. */
const TYPE_ALIASES: Array<[string, string]> = [
  ["integer", "int4"],
  ["int", "int4"],
  ["smallint", "int2"],
  ["bigint", "int8"],
  ["real", "float4"],
  ["double precision", "float8"],
  ["float", "float8"],
  ["boolean", "bool"],
  ["character varying", "varchar"],
  ["character", "bpchar"],
  ["char", "bpchar"],
  ["decimal", "numeric"],
  ["timestamp without time zone", "timestamp"],
  ["timestamp with time zone", "timestamptz"],
  ["time without time zone", "time"],
  ["time with time zone", "timetz"],
  ["bit varying", "varbit"],
];

function toRoutine(p: FunctionRow, byOid: Map<number, Table>, colsByRel: Map<number, Column[]>): Routine | null {
  const modes = p.arg_modes ?? p.arg_types.map(() => "i");
  const names = p.arg_names ?? [];
  const params: RoutineParam[] = [];
  const outColumns: Column[] = [];
  const inCount = p.in_types.length;
  let inIndex = 0;
  for (let i = 0; i < modes.length; i++) {
    const mode = modes[i];
    const name = names[i] ?? "";
    const type = p.arg_types[i] ?? "unknown";
    const baseType = p.arg_base_types[i] ?? type;
    if (mode === "i" || mode === "b" || mode === "v") {
      params.push({ name, type, baseType, hasDefault: inIndex >= inCount - p.n_defaults, variadic: mode === "v" });
      inIndex++;
    }
    if (mode === "o" || mode === "b" || mode === "t") {
      outColumns.push({
        name,
        type,
        castType: type,
        baseType,
        category: baseType.startsWith("_") ? "A" : "U",
        nullable: true,
        default: null,
        generated: false,
        position: outColumns.length + 1,
        enumValues: [],
        description: null,
        elementType: null,
      });
    }
  }
  const relid = Number(p.return_relid);
  const resultRelation = relid ? (byOid.get(relid) ?? null) : null;
  let result: Table | null = null;
  if (resultRelation) result = resultRelation;
  else if (relid && colsByRel.has(relid)) result = syntheticResult(p, colsByRel.get(relid)!);
  else if (p.return_typname === "record" && outColumns.length > 0) result = syntheticResult(p, outColumns);
  const returnsVoid = p.return_typname === "void";
  const returnsScalar = !result && !returnsVoid && p.return_typname !== "record" && p.return_typtype !== "p";
  // Functions with unnamed parameters (other than a single one) cannot be called with named arguments.
  return {
    schema: p.schema,
    name: p.name,
    oid: Number(p.oid),
    params,
    volatility: VOLATILITY[p.volatility],
    returnsSet: p.returns_set,
    returnType: p.return_type,
    returnsVoid,
    returnsScalar: returnsScalar || (p.return_typtype === "p" && !returnsVoid && p.return_typname !== "record"),
    result,
    resultRelation,
    description: p.comment,
    returnBaseType: p.return_base_type,
    rows: Number(p.rows),
    rowParamRelation: params.length === 1 && Number(p.first_arg_relid) ? (byOid.get(Number(p.first_arg_relid)) ?? null) : null,
  };
}

function syntheticResult(p: FunctionRow, columns: Column[]): Table {
  const t: Table = {
    schema: p.schema,
    name: p.name,
    kind: "function_result",
    description: null,
    columns: new Map(columns.map((c) => [c.name, c])),
    columnList: columns,
    pk: [],
    uniqueKeys: [],
    insertable: false,
    updatable: false,
    deletable: false,
  };
  return t;
}
