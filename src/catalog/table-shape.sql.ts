// The shape of one table as the admin rows API needs it, in one round trip per request (so a column
// added a moment ago is there): its columns with the types their values are cast to (format_type
// with and without typmod, the type after one level of domain), generated/identity flags, Plinth's
// column types, and its primary key in key order. Ordinary and partitioned tables only.
import type { Queryable } from "./queryable.ts";

export interface TableShapeRow {
  pk: string[];
  columns: Array<{
    name: string;
    type: string;
    cast_type: string;
    base_type: string;
    generated: boolean;
    identity_always: boolean;
    plinth_type: "rich_text" | "file_ref" | null;
  }>;
}

/** One row, or none when `schema.name` is not an ordinary or partitioned table. */
export const tableShape = (sql: Queryable, schema: string, name: string) => sql<TableShapeRow[]>`
    select
      coalesce((select array_agg(a.attname::text order by k.ord)
                from pg_index i, unnest(i.indkey) with ordinality k(attnum, ord)
                join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
                where i.indrelid = c.oid and i.indisprimary), '{}') as pk,
      coalesce((select json_agg(json_build_object(
                  'name', a.attname,
                  'type', format_type(a.atttypid, a.atttypmod),
                  'cast_type', format_type(a.atttypid, null),
                  'base_type', coalesce(bt.typname, t.typname),
                  'generated', a.attgenerated <> '',
                  'identity_always', a.attidentity = 'a',
                  'plinth_type', case when tn.nspname = 'plinth' and t.typname in ('rich_text', 'file_ref') then t.typname end
                ) order by a.attnum)
                from pg_attribute a
                join pg_type t on t.oid = a.atttypid
                join pg_namespace tn on tn.oid = t.typnamespace
                left join pg_type bt on t.typtype = 'd' and bt.oid = t.typbasetype
                where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped), '[]') as columns
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${schema} and c.relname = ${name} and c.relkind in ('r', 'p')`;
