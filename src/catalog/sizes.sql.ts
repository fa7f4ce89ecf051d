// What a migration would touch, by name as the migration writes it: a relation's row and size
// estimates (names resolved as PostgreSQL resolves them, through to_regclass and the search path),
// and a column's current type next to a new one (for "does this type change rewrite the table").
import type { Queryable } from "./queryable.ts";

export interface RelationSizeRow {
  /** The name as asked for (a quoted, maybe qualified identifier). */
  ref: string;
  exists: boolean;
  /** reltuples, or the live-tuple counter before the first ANALYZE. */
  rows_estimate: number;
  /** pg_total_relation_size: heap, indexes and TOAST. */
  bytes: number;
}

/** One row per name, in the order given; a name that resolves to nothing has exists = false. */
export const relationSizes = (sql: Queryable, refs: readonly string[]) => sql<RelationSizeRow[]>`
  select r.ref, c.oid is not null as exists,
         coalesce(case when c.reltuples < 0 then pg_stat_get_live_tuples(c.oid) else c.reltuples end, 0)::float8 as rows_estimate,
         coalesce(pg_total_relation_size(c.oid), 0)::float8 as bytes
  from unnest(${refs as string[]}::text[]) with ordinality r(ref, o)
    left join pg_class c on c.oid = to_regclass(r.ref)
  order by r.o`;

export interface ColumnTypeChangeRow {
  current: string | null;
  current_oid: number | null;
  current_typmod: number;
  new_oid: number | null;
  binary_coercible: boolean;
}

/** The column's current type, the new type's OID, and whether a binary-coercible cast joins them. */
export async function columnTypeChange(sql: Queryable, relation: string, column: string, newType: string): Promise<ColumnTypeChangeRow> {
  const [row] = await sql<ColumnTypeChangeRow[]>`
    with n as (select to_regtype(${newType})::oid as oid),
         a as (select atttypid, atttypmod from pg_attribute
               where attrelid = to_regclass(${relation}) and attname = ${column} and attnum > 0 and not attisdropped)
    select (select format_type(atttypid, atttypmod) from a) as current,
           (select atttypid::int8::float8 from a) as current_oid,
           coalesce((select atttypmod from a), -1) as current_typmod,
           (select oid::int8::float8 from n) as new_oid,
           exists (select 1 from pg_cast, a, n where castsource = a.atttypid and casttarget = n.oid and castmethod = 'b') as binary_coercible`;
  return row!;
}
