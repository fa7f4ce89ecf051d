// Catalog queries that build the schema cache. Static SQL; the only input (the exposed schema
// names) is a bind parameter. Runs as the server's own role: privileges are enforced per request
// by PostgreSQL itself, the cache only says what exists.
import type postgres from "postgres";
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

interface RelRow {
  oid: number;
  schema: string;
  name: string;
  kind: string;
  description: string | null;
  insertable: boolean;
  updatable: boolean;
  deletable: boolean;
}

interface ColRow {
  relid: number;
  name: string;
  type: string;
  cast_type: string;
  base_type: string;
  category: string;
  not_null: boolean;
  default: string | null;
  insert_default: string | null;
  generated: boolean;
  position: number;
  enum_values: string[] | null;
  description: string | null;
  element_type: string | null;
  type_schema: string;
  type_name: string;
}

interface KeyRow {
  relid: number;
  contype: string;
  conname: string;
  cols: string[];
}

interface FkRow {
  conname: string;
  schema: string;
  table: string;
  cols: string[];
  ref_schema: string;
  ref_table: string;
  ref_cols: string[];
}

interface ProcRow {
  oid: number;
  schema: string;
  name: string;
  volatility: "i" | "s" | "v";
  returns_set: boolean;
  return_type: string;
  ret_typtype: string;
  ret_typname: string;
  ret_relid: number;
  arg_names: string[] | null;
  arg_modes: string[] | null;
  arg_types: string[];
  arg_base_types: string[];
  in_types: string[];
  in_base_types: string[];
  n_defaults: number;
  description: string | null;
  ret_base_type: string;
  /** prorows: an estimate of 1 marks a set-returning function as returning one row (to-one). */
  rows: number;
  /** The relation whose row type the first input parameter is (0 when it is not a row type). */
  first_arg_relid: number;
}

export async function loadSchemaCache(sql: postgres.Sql, schemas: string[]): Promise<SchemaCache> {
  const [rels, cols, keys, fks, procs, types, views, [requestInfo]] = await Promise.all([
    sql<RelRow[]>`
      select c.oid::int8::float8 as oid, n.nspname as schema, c.relname as name, c.relkind as kind,
        obj_description(c.oid, 'pg_class') as description,
        (c.relkind in ('r','p') or (pg_relation_is_updatable(c.oid::regclass, true) & 8) = 8) as insertable,
        (c.relkind in ('r','p') or (pg_relation_is_updatable(c.oid::regclass, true) & 4) = 4) as updatable,
        (c.relkind in ('r','p') or (pg_relation_is_updatable(c.oid::regclass, true) & 16) = 16) as deletable
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = any(${schemas}) and c.relkind in ('r','v','m','f','p')
        and not c.relispartition`,
    sql<ColRow[]>`
      select a.attrelid::int8::float8 as relid, a.attname as name,
        format_type(a.atttypid, a.atttypmod) as type,
        format_type(a.atttypid, null) as cast_type,
        coalesce(bt.typname, t.typname) as base_type,
        coalesce(bt.typcategory, t.typcategory) as category,
        a.attnotnull as not_null,
        pg_get_expr(d.adbin, d.adrelid) as default,
        coalesce(pg_get_expr(d.adbin, d.adrelid), case when a.attidentity <> '' then
          format('nextval(%L::regclass)', pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname)) end) as insert_default,
        a.attgenerated <> '' as generated,
        a.attnum::int as position,
        (select array_agg(e.enumlabel::text order by e.enumsortorder) from pg_enum e
          where e.enumtypid = coalesce(bt.oid, t.oid)) as enum_values,
        col_description(a.attrelid, a.attnum) as description,
        format_type(nullif(coalesce(bt.typelem, t.typelem), 0), null) as element_type,
        tn.nspname as type_schema, t.typname as type_name
      from pg_attribute a
        join pg_class c on c.oid = a.attrelid
        join pg_namespace n on n.oid = c.relnamespace
        join pg_type t on t.oid = a.atttypid
        join pg_namespace tn on tn.oid = t.typnamespace
        left join pg_type bt on t.typtype = 'd' and bt.oid = t.typbasetype
        left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where n.nspname = any(${schemas}) and c.relkind in ('r','v','m','f','p','c')
        and a.attnum > 0 and not a.attisdropped
      order by a.attrelid, a.attnum`,
    sql<KeyRow[]>`
      select con.conrelid::int8::float8 as relid, con.contype, con.conname,
        array(select a.attname::text from unnest(con.conkey) with ordinality k(num, ord)
              join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.num order by k.ord) as cols
      from pg_constraint con join pg_class c on c.oid = con.conrelid
        join pg_namespace n on n.oid = c.relnamespace
      where con.contype in ('p','u') and n.nspname = any(${schemas})`,
    sql<FkRow[]>`
      select con.conname, n.nspname as schema, c.relname as table,
        array(select a.attname::text from unnest(con.conkey) with ordinality k(num, ord)
              join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.num order by k.ord) as cols,
        fn.nspname as ref_schema, fc.relname as ref_table,
        array(select a.attname::text from unnest(con.confkey) with ordinality k(num, ord)
              join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.num order by k.ord) as ref_cols
      from pg_constraint con
        join pg_class c on c.oid = con.conrelid join pg_namespace n on n.oid = c.relnamespace
        join pg_class fc on fc.oid = con.confrelid join pg_namespace fn on fn.oid = fc.relnamespace
      where con.contype = 'f' and n.nspname = any(${schemas}) and fn.nspname = any(${schemas})
        and not c.relispartition`,
    sql<ProcRow[]>`
      select p.oid::int8::float8 as oid, n.nspname as schema, p.proname as name,
        p.provolatile as volatility, p.proretset as returns_set,
        format_type(p.prorettype, null) as return_type,
        rt.typtype as ret_typtype, rt.typname as ret_typname, rt.typrelid::int8::float8 as ret_relid,
        p.proargnames as arg_names, p.proargmodes::text[] as arg_modes,
        array(select format_type(x, null) from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) with ordinality u(x, o) order by o) as arg_types,
        array(select coalesce(bt.typname, t.typname)::text from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) with ordinality u(x, o)
              join pg_type t on t.oid = u.x left join pg_type bt on t.typtype = 'd' and bt.oid = t.typbasetype order by o) as arg_base_types,
        array(select format_type(x, null) from unnest(p.proargtypes::oid[]) with ordinality u(x, o) order by o) as in_types,
        array(select coalesce(bt.typname, t.typname)::text from unnest(p.proargtypes::oid[]) with ordinality u(x, o)
              join pg_type t on t.oid = u.x left join pg_type bt on t.typtype = 'd' and bt.oid = t.typbasetype order by o) as in_base_types,
        p.pronargdefaults::int as n_defaults,
        obj_description(p.oid, 'pg_proc') as description,
        coalesce(rbt.typname, rt.typname) as ret_base_type,
        p.prorows::float8 as rows,
        coalesce((select t.typrelid from pg_type t where t.oid = p.proargtypes[0]), 0)::int8::float8 as first_arg_relid
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace join pg_type rt on rt.oid = p.prorettype
        left join pg_type rbt on rt.typtype = 'd' and rbt.oid = rt.typbasetype
      where n.nspname = any(${schemas}) and p.prokind = 'f'`,
    sql<{ schema: string; name: string }[]>`
      select n.nspname as schema, t.typname as name from pg_type t join pg_namespace n on n.oid = t.typnamespace
      where (n.nspname = 'pg_catalog' or n.nspname = any(${schemas}))
        and t.typtype in ('b','e','d','r','m','c') and t.typname !~ '^_' and t.typname !~ '^pg_'
        and (t.typtype <> 'c' or exists (select 1 from pg_class c where c.oid = t.typrelid and c.relkind = 'c'))`,
    // The stored query tree of each view: where its columns come from (see view-lineage.ts).
    sql<{ oid: number; action: string }[]>`
      select c.oid::int8::float8 as oid, r.ev_action::text as action
      from pg_rewrite r join pg_class c on c.oid = r.ev_class join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('v', 'm') and r.rulename = '_RETURN' and n.nspname = any(${schemas})`,
    sql<{ uses: boolean }[]>`select ${sql.unsafe(REQUEST_INFO_USE)} as uses`,
  ]);

  const byOid = new Map<number, Table>();
  const tables = new Map<string, Table>();
  for (const r of rels) {
    const t: Table = {
      schema: r.schema,
      name: r.name,
      kind: KIND[r.kind] ?? "table",
      description: r.description,
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
  // Composite types (relkind 'c') are not exposed as tables but give shapes to function results.
  const colsByRel = new Map<number, Column[]>();
  for (const c of cols) {
    const col: Column = {
      name: c.name,
      type: c.type,
      castType: c.cast_type,
      baseType: c.base_type,
      category: c.category,
      nullable: !c.not_null,
      default: c.default,
      ...(c.insert_default !== null ? { insertDefault: c.insert_default } : {}),
      generated: c.generated,
      position: c.position,
      enumValues: c.enum_values ?? [],
      description: c.description,
      elementType: c.element_type,
    };
    if (c.type_schema === "plinth" && (c.type_name === "rich_text" || c.type_name === "file_ref")) col.plinthType = c.type_name;
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
  for (const k of keys) {
    const t = byOid.get(Number(k.relid));
    if (!t) continue;
    if (k.contype === "p") t.pk = k.cols;
    t.uniqueKeys.push(k.cols);
  }
  const foreignKeys: ForeignKey[] = fks.map((f) => ({
    constraint: f.conname,
    schema: f.schema,
    table: f.table,
    columns: f.cols,
    refSchema: f.ref_schema,
    refTable: f.ref_table,
    refColumns: f.ref_cols,
  }));

  const routines = new Map<string, Routine[]>();
  for (const p of procs) {
    const routine = toRoutine(p, byOid, colsByRel);
    if (!routine) continue;
    const key = tableKey(p.schema, p.name);
    const list = routines.get(key);
    if (list) list.push(routine);
    else routines.set(key, [routine]);
  }

  const castTypes = new Map<string, CastType>();
  for (const t of types) {
    const key = t.name.toLowerCase();
    // pg_catalog wins over a same-named user type, as search_path resolution would do.
    if (!castTypes.has(key) || t.schema === "pg_catalog") castTypes.set(key, t);
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
    usesRequestInfo: requestInfo?.uses ?? true,
    loadedAt: Date.now(),
  };
}

/**
 * Whether any SQL in the database may read request.method, request.path, request.headers or
 * request.cookies (PostgREST's per-request settings): function bodies, policies, views, column
 * defaults, check constraints and trigger conditions outside the system catalogs. Any mention of
 * "request." other than request.jwt counts — deliberately broad, since a name can be built at run
 * time. When nothing does, the data API skips setting them and can serve a request as one statement.
 */
const REQUEST_INFO_PATTERN = `'request\\.(?!jwt\\.)'`;
const REQUEST_INFO_USE = `exists (
      select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname not in ('pg_catalog', 'information_schema')
        and (p.prosrc ~ ${REQUEST_INFO_PATTERN} or (p.prosqlbody is not null and pg_get_function_sqlbody(p.oid) ~ ${REQUEST_INFO_PATTERN}))
      union all
      select 1 from pg_policy pol
      where coalesce(pg_get_expr(pol.polqual, pol.polrelid), '') || ' ' || coalesce(pg_get_expr(pol.polwithcheck, pol.polrelid), '') ~ ${REQUEST_INFO_PATTERN}
      union all
      select 1 from pg_rewrite r join pg_class c on c.oid = r.ev_class join pg_namespace n on n.oid = c.relnamespace
      where n.nspname not in ('pg_catalog', 'information_schema') and r.rulename = '_RETURN'
        and pg_get_viewdef(c.oid) ~ ${REQUEST_INFO_PATTERN}
      union all
      select 1 from pg_attrdef d where pg_get_expr(d.adbin, d.adrelid) ~ ${REQUEST_INFO_PATTERN}
      union all
      select 1 from pg_constraint con where con.contype = 'c' and pg_get_constraintdef(con.oid) ~ ${REQUEST_INFO_PATTERN}
      union all
      select 1 from pg_trigger t where t.tgqual is not null and pg_get_triggerdef(t.oid) ~ ${REQUEST_INFO_PATTERN}
    )`;

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

function toRoutine(p: ProcRow, byOid: Map<number, Table>, colsByRel: Map<number, Column[]>): Routine | null {
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
  const relid = Number(p.ret_relid);
  const resultRelation = relid ? (byOid.get(relid) ?? null) : null;
  let result: Table | null = null;
  if (resultRelation) result = resultRelation;
  else if (relid && colsByRel.has(relid)) result = syntheticResult(p, colsByRel.get(relid)!);
  else if (p.ret_typname === "record" && outColumns.length > 0) result = syntheticResult(p, outColumns);
  const returnsVoid = p.ret_typname === "void";
  const returnsScalar = !result && !returnsVoid && p.ret_typname !== "record" && p.ret_typtype !== "p";
  // Functions with unnamed parameters (other than a single one) cannot be called with named arguments.
  return {
    schema: p.schema,
    name: p.name,
    oid: Number(p.oid),
    params,
    volatility: p.volatility,
    returnsSet: p.returns_set,
    returnType: p.return_type,
    returnsVoid,
    returnsScalar: returnsScalar || (p.ret_typtype === "p" && !returnsVoid && p.ret_typname !== "record"),
    result,
    resultRelation,
    description: p.description,
    returnBaseType: p.ret_base_type,
    rows: Number(p.rows),
    rowParamRelation: params.length === 1 && Number(p.first_arg_relid) ? (byOid.get(Number(p.first_arg_relid)) ?? null) : null,
  };
}

function syntheticResult(p: ProcRow, columns: Column[]): Table {
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
