// Views' lineage: for each view and materialized view of some schemas, which table column (or
// other view's column) each of its columns shows unchanged, read from its stored query tree. In
// catalog order (see index.ts).
import { targetEntries, type TargetEntry } from "./query-tree.ts";
import type { Queryable } from "./queryable.ts";

export type { TargetEntry } from "./query-tree.ts";

export interface ViewLineage {
  oid: number;
  /** The top-level target list (relid 0 for a column computed by an expression). */
  columns: TargetEntry[];
}

export async function listViewLineage(sql: Queryable, schemas: readonly string[]): Promise<ViewLineage[]> {
  const rows = await sql<{ oid: number; action: string }[]>`
    select c.oid::int8::float8 as oid, r.ev_action::text as action
    from pg_rewrite r join pg_class c on c.oid = r.ev_class join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('v', 'm') and r.rulename = '_RETURN' and n.nspname = any(${schemas as string[]})
    order by r.ctid`;
  return rows.map((r) => ({ oid: Number(r.oid), columns: targetEntries(r.action) }));
}
