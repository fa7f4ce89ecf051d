// The indexes of one table: key columns (or expressions) as pg_get_indexdef prints them.
import type { Queryable } from "./queryable.ts";

export interface IndexInfo {
  name: string;
  columns: string[];
  unique: boolean;
  primary: boolean;
  definition: string;
}

export const listIndexes = (sql: Queryable, relid: number) => sql<IndexInfo[]>`
  select ic.relname as name,
         array(select pg_get_indexdef(i.indexrelid, k, true) from generate_series(1, i.indnkeyatts) k order by k) as columns,
         i.indisunique as unique, i.indisprimary as primary,
         pg_get_indexdef(i.indexrelid) as definition
  from pg_index i join pg_class ic on ic.oid = i.indexrelid
  where i.indrelid = ${relid}::oid
  order by ic.relname`;
