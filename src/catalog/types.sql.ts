// Types (pg_type) a value can have — base, enum, domain, range, multirange and free-standing
// composite types (not tables' row types, not pseudo-types) — and the labels of every enum.
import type { Queryable } from "./queryable.ts";

export interface TypeRow {
  oid: number;
  schema: string;
  name: string;
  /** What format_type prints: the spelling to use in a column definition or cast. */
  format: string;
  kind: "base" | "composite" | "domain" | "enum" | "range" | "multirange";
  /** pg_type.typcategory: A array, N numeric, S string, P pseudo, … */
  category: string;
  /** A true array type (`_int4`), as opposed to a domain over one or a fixed-length vector type. */
  is_array: boolean;
  /** false for a shell type (declared, not yet defined). */
  defined: boolean;
  /** Domains: format_type() of the base type with the domain's typmod. */
  base_type: string | null;
  comment: string | null;
}

/**
 * The types of some schemas (in catalog order, see index.ts), or of every schema sorted for display:
 * pg_catalog's first, then by schema and name.
 */
export function listTypes(sql: Queryable, scope: { schemas: readonly string[] } | { all: true }) {
  const where = "schemas" in scope ? sql`n.nspname = any(${scope.schemas as string[]})` : sql`true`;
  const order = "schemas" in scope ? sql`order by t.ctid` : sql`order by n.nspname = 'pg_catalog' desc, n.nspname, t.typname`;
  // Comments by join, not obj_description(): pg_catalog alone has hundreds of types.
  return sql<TypeRow[]>`
    select t.oid::int8::float8 as oid, n.nspname as schema, t.typname as name, format_type(t.oid, null) as format,
           case t.typtype when 'b' then 'base' when 'c' then 'composite' when 'd' then 'domain'
                          when 'e' then 'enum' when 'r' then 'range' when 'm' then 'multirange' end as kind,
           t.typcategory as category,
           (t.typcategory = 'A' and t.typelem <> 0 and t.typtype = 'b') as is_array,
           t.typisdefined as defined,
           case when t.typtype = 'd' then format_type(t.typbasetype, t.typtypmod) end as base_type,
           ds.description as comment
    from pg_type t join pg_namespace n on n.oid = t.typnamespace
      left join pg_description ds on ds.objoid = t.oid and ds.classoid = 'pg_type'::regclass and ds.objsubid = 0
    where t.typtype in ('b', 'c', 'd', 'e', 'r', 'm')
      and (t.typtype <> 'c' or exists (select 1 from pg_class c where c.oid = t.typrelid and c.relkind = 'c'))
      and ${where}
    ${order}`;
}

/** Every enum type's labels, in their sort order (an enum without labels has no row). */
export const listEnumLabels = (sql: Queryable) => sql<{ oid: number; labels: string[] }[]>`
  select e.enumtypid::int8::float8 as oid, array_agg(e.enumlabel::text order by e.enumsortorder) as labels
  from pg_enum e
  group by e.enumtypid`;
