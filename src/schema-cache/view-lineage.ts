// Which base-table column each view column shows, so that views get the relationships of the tables
// they select from (PostgREST does the same). The catalog reads each view's lineage (its stored
// query tree, src/catalog/views.sql.ts); here it is followed through views over views to exposed
// tables.
import type { TargetEntry, ViewLineage } from "../catalog/index.ts";
import type { Table } from "./types.ts";

export interface ViewColumnSource {
  /** The view's column. */
  column: string;
  /** The table (or, via views over views, the final table) and its column. */
  base: Table;
  baseColumn: string;
}

/** View (by table object) → the columns it takes unchanged from exposed tables. */
export function resolveViewSources(views: ViewLineage[], byOid: Map<number, Table>): Map<Table, ViewColumnSource[]> {
  const entries = new Map<number, TargetEntry[]>();
  for (const v of views) entries.set(v.oid, v.columns);
  // A view's column points at a table's column, or at another view's column (views over views).
  const resolve = (relid: number, attnum: number, hops: number): { base: Table; column: string } | null => {
    const t = byOid.get(relid);
    if (!t) return null;
    const col = t.columnList.find((c) => c.position === attnum);
    if (!col) return null;
    const inner = entries.get(relid);
    if (!inner) return t.kind === "view" || t.kind === "materialized_view" ? null : { base: t, column: col.name };
    if (hops > 8) return null;
    const e = inner.find((x) => x.column === col.name);
    return e && e.relid ? resolve(e.relid, e.attnum, hops + 1) : null;
  };
  const out = new Map<Table, ViewColumnSource[]>();
  for (const [oid, list] of entries) {
    const view = byOid.get(oid);
    if (!view) continue;
    const sources: ViewColumnSource[] = [];
    for (const e of list) {
      if (!e.relid || !view.columns.has(e.column)) continue;
      const r = resolve(e.relid, e.attnum, 0);
      if (r) sources.push({ column: e.column, base: r.base, baseColumn: r.column });
    }
    if (sources.length) out.set(view, sources);
  }
  return out;
}
