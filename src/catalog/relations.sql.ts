// Relations (pg_class): what exists in a set of schemas, one by name or by OID, and a schema's
// tables with their size estimates.
import type { Queryable } from "./queryable.ts";

/** pg_class.relkind: r table, p partitioned table, v view, m materialized view, f foreign table, c composite type. */
export type RelKind = "r" | "p" | "v" | "m" | "f" | "c";

export interface RelationRow {
  oid: number;
  schema: string;
  name: string;
  kind: RelKind;
  /** A partition of a partitioned table (reached through its parent). */
  partition: boolean;
  rls_enabled: boolean;
  comment: string | null;
  /** Whether INSERT/UPDATE/DELETE can target it: always for tables, per pg_relation_is_updatable for views. */
  insertable: boolean;
  updatable: boolean;
  deletable: boolean;
}

/** Every relation of some schemas (in catalog order, see index.ts), one relation by name, or one by OID. */
export type RelationScope = { schemas: readonly string[] } | { schema: string; name: string } | { oid: number };

export function listRelations(sql: Queryable, scope: RelationScope, kinds?: readonly RelKind[]) {
  const where =
    "oid" in scope
      ? sql`c.oid = ${scope.oid}::oid`
      : "schemas" in scope
        ? sql`n.nspname = any(${scope.schemas as string[]})`
        : sql`n.nspname = ${scope.schema} and c.relname = ${scope.name}`;
  const ofKind = kinds ? sql`and c.relkind::text = any(${kinds as string[]})` : sql``;
  return sql<RelationRow[]>`
    select c.oid::int8::float8 as oid, n.nspname as schema, c.relname as name, c.relkind as kind,
      c.relispartition as partition, c.relrowsecurity as rls_enabled,
      obj_description(c.oid, 'pg_class') as comment,
      (c.relkind in ('r','p') or (pg_relation_is_updatable(c.oid::regclass, true) & 8) = 8) as insertable,
      (c.relkind in ('r','p') or (pg_relation_is_updatable(c.oid::regclass, true) & 4) = 4) as updatable,
      (c.relkind in ('r','p') or (pg_relation_is_updatable(c.oid::regclass, true) & 16) = 16) as deletable
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where ${where} ${ofKind}
    order by c.ctid`;
}

export interface TableSummary {
  schema: string;
  name: string;
  rls_enabled: boolean;
  rows_estimate: number;
  bytes: number;
  comment: string | null;
}

/** Ordinary and partitioned tables of one schema, by name, with their row and size estimates. */
export const listTables = (sql: Queryable, schema: string) => sql<TableSummary[]>`
  select n.nspname as schema, c.relname as name, c.relrowsecurity as rls_enabled,
         -- reltuples is -1 until the first ANALYZE; the live-tuple counter is the better guess then.
         (case when c.reltuples < 0 then pg_stat_get_live_tuples(c.oid) else c.reltuples end)::float8 as rows_estimate,
         pg_total_relation_size(c.oid)::float8 as bytes,
         obj_description(c.oid, 'pg_class') as comment
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = ${schema} and c.relkind in ('r', 'p')
  order by c.relname`;
