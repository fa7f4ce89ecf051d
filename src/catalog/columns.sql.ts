// Columns (pg_attribute) with their types: of every relation and composite type in some schemas,
// or of one relation by OID. One row answers the schema cache (types after domains, casts, enum
// base, defaults an INSERT applies), the admin API (identity, generation, key flags, comments) and
// realtime (type OIDs, names and categories, array elements).
import type { Queryable } from "./queryable.ts";

export interface ColumnRow {
  /** OID of the relation (or composite type's relation) the column belongs to. */
  relid: number;
  name: string;
  /** attnum: 1-based position. */
  position: number;
  /** format_type() with typmod, e.g. "character varying(20)", "public.mood", "text[]". */
  type: string;
  /** format_type() without typmod: what text values are cast to (no varchar(n) truncation). */
  cast_type: string;
  type_oid: number;
  type_schema: string;
  /** pg_type.typname, e.g. "int4", "_text", "mood". */
  type_name: string;
  /** pg_type.typcategory of the column's own type (a domain has its base's category). */
  type_category: string;
  /** The type after one level of domain (the column's own type when it is not a domain). */
  base_type_oid: number;
  base_type: string;
  base_category: string;
  /** format_type() of the base type's element (arrays; some scalars such as name or point have one too). */
  base_element_type: string | null;
  /** For array-category types: pg_type.typelem (0 for a domain over an array), its name and category. */
  array_element_oid: number | null;
  array_element_name: string | null;
  array_element_category: string | null;
  nullable: boolean;
  /** pg_attrdef's expression: the default, or for a generated column the generation expression. */
  default_expr: string | null;
  /** What an INSERT leaving the column out puts in it: the default, or nextval() of an identity's sequence. */
  insert_default: string | null;
  identity: "always" | "by default" | null;
  generated: boolean;
  /** In the primary key's index (INCLUDE columns too). */
  primary_key: boolean;
  /** The only key column of a unique, non-partial index. */
  unique: boolean;
  comment: string | null;
}

/** Columns of every table, view, foreign table and composite type of some schemas, or of one relation. */
export type ColumnScope = { schemas: readonly string[] } | { relid: number };

/** Dropped and system columns left out; ordered by relation, then position. */
export function listColumns(sql: Queryable, scope: ColumnScope) {
  const where =
    "relid" in scope ? sql`a.attrelid = ${scope.relid}::oid` : sql`n.nspname = any(${scope.schemas as string[]}) and c.relkind in ('r','v','m','f','p','c')`;
  return sql<ColumnRow[]>`
    select a.attrelid::int8::float8 as relid, a.attname as name, a.attnum::int as position,
      format_type(a.atttypid, a.atttypmod) as type,
      format_type(a.atttypid, null) as cast_type,
      a.atttypid::int8::float8 as type_oid, tn.nspname as type_schema, t.typname as type_name,
      t.typcategory as type_category,
      coalesce(bt.oid, t.oid)::int8::float8 as base_type_oid,
      coalesce(bt.typname, t.typname) as base_type,
      coalesce(bt.typcategory, t.typcategory) as base_category,
      format_type(nullif(coalesce(bt.typelem, t.typelem), 0), null) as base_element_type,
      case when t.typcategory = 'A' then t.typelem::int8::float8 end as array_element_oid,
      et.typname as array_element_name, et.typcategory as array_element_category,
      not a.attnotnull as nullable,
      pg_get_expr(d.adbin, d.adrelid) as default_expr,
      coalesce(pg_get_expr(d.adbin, d.adrelid), case when a.attidentity <> '' then
        format('nextval(%L::regclass)', pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname)) end) as insert_default,
      case a.attidentity when 'a' then 'always' when 'd' then 'by default' end as identity,
      a.attgenerated <> '' as generated,
      coalesce(a.attnum = any(pk.indkey), false) as primary_key,
      uq.indrelid is not null as unique,
      ds.description as comment
    from pg_attribute a
      join pg_class c on c.oid = a.attrelid
      join pg_namespace n on n.oid = c.relnamespace
      join pg_type t on t.oid = a.atttypid
      join pg_namespace tn on tn.oid = t.typnamespace
      left join pg_type bt on t.typtype = 'd' and bt.oid = t.typbasetype
      left join pg_type et on t.typcategory = 'A' and et.oid = t.typelem
      left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      left join pg_index pk on pk.indrelid = a.attrelid and pk.indisprimary
      left join (select distinct i.indrelid, i.indkey[0] as attnum from pg_index i
                 where i.indisunique and i.indnkeyatts = 1 and i.indpred is null) uq
        on uq.indrelid = a.attrelid and uq.attnum = a.attnum
      left join pg_description ds on ds.objoid = a.attrelid and ds.classoid = 'pg_class'::regclass and ds.objsubid = a.attnum
    where ${where} and a.attnum > 0 and not a.attisdropped
    order by a.attrelid, a.attnum`;
}
