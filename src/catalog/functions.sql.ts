// Functions, procedures, aggregates and window functions (pg_proc): how to call them (parameters
// with modes, types, defaults), what they return (type, set, row type), and how they are shown
// (printed signature and result, language, security definer, extension membership).
import type { Queryable } from "./queryable.ts";

export interface FunctionRow {
  oid: number;
  schema: string;
  name: string;
  kind: "function" | "procedure" | "aggregate" | "window";
  volatility: "immutable" | "stable" | "volatile";
  returns_set: boolean;
  /** format_type() of the return type, e.g. "integer", "public.books" (SETOF is returns_set); a procedure returns void, or record with OUT parameters. */
  return_type: string;
  /** pg_type.typtype and typname of the return type ('p' pseudo: void, record, trigger, …). */
  return_typtype: string;
  return_typname: string;
  /** The relation whose row type is returned (0 when it is not a row type). */
  return_relid: number;
  /** The return type's name after one level of domain. */
  return_base_type: string;
  /** proargnames: every parameter's name ("" for unnamed), or null when none is named. */
  arg_names: string[] | null;
  /** proargmodes (i in, o out, b inout, v variadic, t table), or null when all are IN. */
  arg_modes: string[] | null;
  /** format_type() of every parameter (all modes), and their names after one level of domain. */
  arg_types: string[];
  arg_base_types: string[];
  /** The same for the input parameters only. */
  in_types: string[];
  in_base_types: string[];
  /** How many trailing input parameters have defaults. */
  n_defaults: number;
  /** prorows: an estimate of 1 marks a set-returning function as returning one row (to-one). */
  rows: number;
  /** The relation whose row type the first input parameter is (0 when it is not a row type). */
  first_arg_relid: number;
  /** pg_get_function_arguments() / pg_get_function_result() ("void" when none): the signature as printed. */
  arguments: string;
  result: string;
  language: string;
  security_definer: boolean;
  /** Installed by an extension (part of it, not the app's own). */
  extension_member: boolean;
  comment: string | null;
}

/**
 * The functions of some schemas, or (`schemas: null`) of every schema but PostgreSQL's own
 * (pg_catalog, information_schema). In catalog order (see index.ts) unless `sorted`: by schema,
 * name and arguments.
 */
export function listFunctions(sql: Queryable, schemas: readonly string[] | null, opts: { sorted?: boolean } = {}) {
  // The schemas' OIDs are found first (an init plan), so pg_proc is narrowed while it is scanned:
  // joined by name, the planner may build the row for each of PostgreSQL's thousands of functions.
  const namespaces = schemas
    ? sql`select oid from pg_namespace where nspname = any(${schemas as string[]})`
    : sql`select oid from pg_namespace where nspname not in ('pg_catalog', 'information_schema')`;
  const order = opts.sorted ? sql`order by n.nspname, p.proname, pg_get_function_arguments(p.oid)` : sql`order by p.ctid`;
  return sql<FunctionRow[]>`
    select p.oid::int8::float8 as oid, n.nspname as schema, p.proname as name,
      case p.prokind when 'p' then 'procedure' when 'a' then 'aggregate' when 'w' then 'window' else 'function' end as kind,
      case p.provolatile when 'i' then 'immutable' when 's' then 'stable' else 'volatile' end as volatility,
      p.proretset as returns_set,
      format_type(p.prorettype, null) as return_type,
      rt.typtype as return_typtype, rt.typname as return_typname, rt.typrelid::int8::float8 as return_relid,
      coalesce(rbt.typname, rt.typname) as return_base_type,
      p.proargnames as arg_names, p.proargmodes::text[] as arg_modes,
      array(select format_type(x, null) from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) with ordinality u(x, o) order by o) as arg_types,
      array(select (select coalesce(bt.typname, t.typname)::text from pg_type t left join pg_type bt on t.typtype = 'd' and bt.oid = t.typbasetype where t.oid = u.x)
            from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) with ordinality u(x, o) order by o) as arg_base_types,
      array(select format_type(x, null) from unnest(p.proargtypes::oid[]) with ordinality u(x, o) order by o) as in_types,
      array(select (select coalesce(bt.typname, t.typname)::text from pg_type t left join pg_type bt on t.typtype = 'd' and bt.oid = t.typbasetype where t.oid = u.x)
            from unnest(p.proargtypes::oid[]) with ordinality u(x, o) order by o) as in_base_types,
      p.pronargdefaults::int as n_defaults,
      p.prorows::float8 as rows,
      coalesce((select t.typrelid from pg_type t where t.oid = p.proargtypes[0]), 0)::int8::float8 as first_arg_relid,
      pg_get_function_arguments(p.oid) as arguments,
      coalesce(pg_get_function_result(p.oid), 'void') as result,
      l.lanname as language,
      p.prosecdef as security_definer,
      exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e') as extension_member,
      obj_description(p.oid, 'pg_proc') as comment
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      join pg_language l on l.oid = p.prolang
      join pg_type rt on rt.oid = p.prorettype
      left join pg_type rbt on rt.typtype = 'd' and rbt.oid = rt.typbasetype
    where p.pronamespace = any(array(${namespaces}))
    ${order}`;
}
