// Tables and everything the table editor shows about one: columns, indexes, constraints, foreign
// keys both ways, policies and triggers. Static SQL; the table is always named by its oid.
import type { Queryable } from "./queryable.ts";

export interface TableSummary {
  schema: string;
  name: string;
  rls_enabled: boolean;
  rows_estimate: number;
  bytes: number;
  comment: string | null;
}

/** Ordinary and partitioned tables of one schema. */
export const listTables = (sql: Queryable, schema: string) => sql<TableSummary[]>`
  select n.nspname as schema, c.relname as name, c.relrowsecurity as rls_enabled,
         -- reltuples is -1 until the first ANALYZE; the live-tuple counter is the better guess then.
         (case when c.reltuples < 0 then pg_stat_get_live_tuples(c.oid) else c.reltuples end)::float8 as rows_estimate,
         pg_total_relation_size(c.oid)::float8 as bytes,
         obj_description(c.oid, 'pg_class') as comment
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = ${schema} and c.relkind in ('r', 'p')
  order by c.relname`;

export interface TableRef {
  oid: number;
  schema: string;
  name: string;
  rls_enabled: boolean;
  comment: string | null;
}

export async function findTable(sql: Queryable, schema: string, name: string): Promise<TableRef | null> {
  const [row] = await sql<TableRef[]>`
    select c.oid::int8::float8 as oid, n.nspname as schema, c.relname as name, c.relrowsecurity as rls_enabled,
           obj_description(c.oid, 'pg_class') as comment
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${schema} and c.relname = ${name} and c.relkind in ('r', 'p')`;
  return row ?? null;
}

export interface ColumnInfo {
  name: string;
  type: string;
  nullable: boolean;
  default: string | null;
  primary_key: boolean;
  unique: boolean;
  identity: "always" | "by default" | null;
  generated: string | null;
  comment: string | null;
}

export const listColumns = (sql: Queryable, oid: number) => sql<ColumnInfo[]>`
  select a.attname as name,
         format_type(a.atttypid, a.atttypmod) as type,
         not a.attnotnull as nullable,
         case when a.attgenerated = '' then pg_get_expr(d.adbin, d.adrelid) end as default,
         exists (select 1 from pg_index i where i.indrelid = a.attrelid and i.indisprimary
                 and a.attnum = any(i.indkey)) as primary_key,
         exists (select 1 from pg_index i where i.indrelid = a.attrelid and i.indisunique
                 and i.indnkeyatts = 1 and i.indkey[0] = a.attnum and i.indpred is null) as unique,
         case a.attidentity when 'a' then 'always' when 'd' then 'by default' end as identity,
         case when a.attgenerated <> '' then pg_get_expr(d.adbin, d.adrelid) end as generated,
         col_description(a.attrelid, a.attnum) as comment
  from pg_attribute a
  left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
  where a.attrelid = ${oid}::oid and a.attnum > 0 and not a.attisdropped
  order by a.attnum`;

export interface IndexInfo {
  name: string;
  columns: string[];
  unique: boolean;
  primary: boolean;
  definition: string;
}

export const listIndexes = (sql: Queryable, oid: number) => sql<IndexInfo[]>`
  select ic.relname as name,
         array(select pg_get_indexdef(i.indexrelid, k, true) from generate_series(1, i.indnkeyatts) k order by k) as columns,
         i.indisunique as unique, i.indisprimary as primary,
         pg_get_indexdef(i.indexrelid) as definition
  from pg_index i join pg_class ic on ic.oid = i.indexrelid
  where i.indrelid = ${oid}::oid
  order by ic.relname`;

export interface ConstraintInfo {
  name: string;
  type: string;
  definition: string;
}

export const listConstraints = (sql: Queryable, oid: number) => sql<ConstraintInfo[]>`
  select conname as name,
         case contype when 'p' then 'primary_key' when 'u' then 'unique' when 'f' then 'foreign_key'
                      when 'c' then 'check' when 'x' then 'exclusion' when 'n' then 'not_null'
                      when 't' then 'trigger' else contype::text end as type,
         pg_get_constraintdef(oid, true) as definition
  from pg_constraint
  where conrelid = ${oid}::oid
  order by conname`;

export interface ForeignKeyInfo {
  name: string;
  /** The referencing table. */
  schema: string;
  table: string;
  columns: string[];
  references: { schema: string; table: string; columns: string[] };
  on_delete: string;
  on_update: string;
}

interface ForeignKeyRow {
  name: string;
  schema: string;
  table: string;
  columns: string[];
  ref_schema: string;
  ref_table: string;
  ref_columns: string[];
  on_delete: string;
  on_update: string;
}

/** Keys this table holds (`direction` "out") or keys other tables hold on it ("in"). */
export async function listForeignKeys(sql: Queryable, oid: number, direction: "out" | "in"): Promise<ForeignKeyInfo[]> {
  const rows = await sql<ForeignKeyRow[]>`
    select con.conname as name, sn.nspname as schema, sc.relname as table,
           array(select a.attname from unnest(con.conkey) with ordinality k(attnum, ord)
                 join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum order by k.ord)::text[] as columns,
           tn.nspname as ref_schema, tc.relname as ref_table,
           array(select a.attname from unnest(con.confkey) with ordinality k(attnum, ord)
                 join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.attnum order by k.ord)::text[] as ref_columns,
           case con.confdeltype when 'a' then 'no action' when 'r' then 'restrict' when 'c' then 'cascade'
                                when 'n' then 'set null' when 'd' then 'set default' end as on_delete,
           case con.confupdtype when 'a' then 'no action' when 'r' then 'restrict' when 'c' then 'cascade'
                                when 'n' then 'set null' when 'd' then 'set default' end as on_update
    from pg_constraint con
    join pg_class sc on sc.oid = con.conrelid join pg_namespace sn on sn.oid = sc.relnamespace
    join pg_class tc on tc.oid = con.confrelid join pg_namespace tn on tn.oid = tc.relnamespace
    where con.contype = 'f' and ${direction === "out" ? sql`con.conrelid` : sql`con.confrelid`} = ${oid}::oid
    order by con.conname`;
  return rows.map((r) => ({
    name: r.name,
    schema: r.schema,
    table: r.table,
    columns: r.columns,
    references: { schema: r.ref_schema, table: r.ref_table, columns: r.ref_columns },
    on_delete: r.on_delete,
    on_update: r.on_update,
  }));
}

export interface TriggerInfo {
  name: string;
  timing: "before" | "after" | "instead of";
  events: string[];
  level: "row" | "statement";
  function: string;
  enabled: boolean;
}

// tgtype bits (pg_trigger.h): 1 row, 2 before, 4 insert, 8 delete, 16 update, 32 truncate, 64 instead.
export const listTriggers = (sql: Queryable, oid: number) => sql<TriggerInfo[]>`
  select t.tgname as name,
         case when t.tgtype & 2 <> 0 then 'before' when t.tgtype & 64 <> 0 then 'instead of' else 'after' end as timing,
         array_remove(array[
           case when t.tgtype & 4 <> 0 then 'insert' end, case when t.tgtype & 16 <> 0 then 'update' end,
           case when t.tgtype & 8 <> 0 then 'delete' end, case when t.tgtype & 32 <> 0 then 'truncate' end
         ], null)::text[] as events,
         case when t.tgtype & 1 <> 0 then 'row' else 'statement' end as level,
         t.tgfoid::regproc::text as function,
         t.tgenabled <> 'D' as enabled
  from pg_trigger t
  where t.tgrelid = ${oid}::oid and not t.tgisinternal
  order by t.tgname`;
