// The rest of the catalogue the console lists: functions, extensions, roles and types.
import type { Queryable } from "./queryable.ts";

export interface FunctionInfo {
  schema: string;
  name: string;
  arguments: string;
  return_type: string;
  language: string;
  kind: "function" | "procedure" | "aggregate" | "window";
  volatility: "immutable" | "stable" | "volatile";
  security_definer: boolean;
  comment: string | null;
}

/** User functions: PostgreSQL's own and extension members are left out. */
export const listFunctions = (sql: Queryable, schema: string | null) => sql<FunctionInfo[]>`
  select n.nspname as schema, p.proname as name,
         pg_get_function_arguments(p.oid) as arguments,
         coalesce(pg_get_function_result(p.oid), 'void') as return_type,
         l.lanname as language,
         case p.prokind when 'p' then 'procedure' when 'a' then 'aggregate' when 'w' then 'window' else 'function' end as kind,
         case p.provolatile when 'i' then 'immutable' when 's' then 'stable' else 'volatile' end as volatility,
         p.prosecdef as security_definer,
         obj_description(p.oid, 'pg_proc') as comment
  from pg_proc p
  join pg_namespace n on n.oid = p.pronamespace
  join pg_language l on l.oid = p.prolang
  where n.nspname not in ('pg_catalog', 'information_schema')
    and (${schema}::text is null or n.nspname = ${schema})
    and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
  order by n.nspname, p.proname, pg_get_function_arguments(p.oid)`;

export interface ExtensionInfo {
  name: string;
  default_version: string | null;
  installed_version: string | null;
  schema: string | null;
  comment: string | null;
}

export const listExtensions = (sql: Queryable) => sql<ExtensionInfo[]>`
  select a.name, a.default_version, a.installed_version, n.nspname as schema, a.comment
  from pg_available_extensions a
  left join pg_extension e on e.extname = a.name
  left join pg_namespace n on n.oid = e.extnamespace
  order by a.name`;

export interface RoleInfo {
  name: string;
  superuser: boolean;
  can_login: boolean;
  inherit: boolean;
  create_role: boolean;
  create_db: boolean;
  replication: boolean;
  bypass_rls: boolean;
  connection_limit: number;
  valid_until: Date | null;
  member_of: string[];
}

/** Roles, without PostgreSQL's predefined pg_* roles. */
export const listRoles = (sql: Queryable) => sql<RoleInfo[]>`
  select r.rolname as name, r.rolsuper as superuser, r.rolcanlogin as can_login, r.rolinherit as inherit,
         r.rolcreaterole as create_role, r.rolcreatedb as create_db, r.rolreplication as replication,
         r.rolbypassrls as bypass_rls, r.rolconnlimit as connection_limit, r.rolvaliduntil as valid_until,
         array(select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid
               where m.member = r.oid order by g.rolname)::text[] as member_of
  from pg_roles r
  where r.rolname !~ '^pg_'
  order by r.rolname`;

export interface TypeInfo {
  schema: string;
  name: string;
  /** What format_type prints: the spelling to use in a column definition. */
  format: string;
  kind: "base" | "composite" | "domain" | "enum" | "range" | "multirange";
  /** The element or base type of domains. */
  base_type: string | null;
  enum_values: string[] | null;
  comment: string | null;
}

/**
 * Types a column can have: every base type (arrays of them are spelled `type[]`), enums, domains
 * (Plinth's plinth.rich_text and plinth.file_ref among them), ranges, and free-standing composite
 * types. Left out: array types themselves, pseudo-types, table row types and internal types.
 */
export const listTypes = (sql: Queryable) => sql<TypeInfo[]>`
  select n.nspname as schema, t.typname as name, format_type(t.oid, null) as format,
         case t.typtype when 'b' then 'base' when 'c' then 'composite' when 'd' then 'domain'
                        when 'e' then 'enum' when 'r' then 'range' when 'm' then 'multirange' end as kind,
         case when t.typtype = 'd' then format_type(t.typbasetype, t.typtypmod) end as base_type,
         case when t.typtype = 'e' then
           array(select e.enumlabel from pg_enum e where e.enumtypid = t.oid order by e.enumsortorder)::text[] end as enum_values,
         obj_description(t.oid, 'pg_type') as comment
  from pg_type t join pg_namespace n on n.oid = t.typnamespace
  where t.typtype in ('b', 'c', 'd', 'e', 'r', 'm')
    and t.typisdefined
    and not (t.typcategory = 'A' and t.typelem <> 0 and t.typtype = 'b')
    and t.typcategory <> 'P'
    and (t.typtype <> 'c' or (select c.relkind from pg_class c where c.oid = t.typrelid) = 'c')
    and n.nspname not in ('information_schema')
    and n.nspname !~ '^pg_(toast|temp_)'
    and (n.nspname <> 'pg_catalog' or t.typname !~ '^(pg_|_)' and t.typname not in
         ('aclitem', 'cid', 'xid', 'xid8', 'tid', 'oidvector', 'int2vector', 'regproc', 'refcursor',
          'gtsvector', 'txid_snapshot'))
  order by n.nspname = 'pg_catalog' desc, n.nspname, t.typname`;
