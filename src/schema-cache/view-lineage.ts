// Which base-table column each view column shows, so that views get the relationships of the tables
// they select from (PostgREST does the same). The source is the view's stored query tree
// (pg_rewrite.ev_action, printed as text): each entry of the top-level target list carries
// `:resorigtbl` / `:resorigcol`, the table and column a plain column reference comes from (0 for
// expressions). Only the top-level query's target list counts; subqueries in the range table or in
// expressions have their own target lists, which must not be mistaken for the view's.
import type { Table } from "./types.ts";

export interface ViewColumnSource {
  /** The view's column. */
  column: string;
  /** The table (or, via views over views, the final table) and its column. */
  base: Table;
  baseColumn: string;
}

interface Entry {
  resname: string;
  relid: number;
  attnum: number;
}

/** Top-level target entries of a printed query tree; [] when the text is not what we expect. */
export function targetEntries(action: string): Entry[] {
  const s = action;
  const n = s.length;
  // depth: 1 inside the rule's action list "(", 2 inside the first {QUERY …}.
  let depth = 0;
  let i = 0;
  let listStart = -1;
  for (; i < n; i++) {
    const c = s[i];
    if (c === "\\") {
      i++;
      continue;
    }
    if (c === "{" || c === "(") depth++;
    else if (c === "}" || c === ")") {
      depth--;
      if (depth <= 0) break; // end of the first query
    } else if (depth === 2 && c === ":" && s.startsWith(":targetList (", i)) {
      listStart = i + ":targetList ".length;
      break;
    }
  }
  if (listStart < 0) return [];
  const out: Entry[] = [];
  depth = 0;
  let entryStart = -1;
  for (i = listStart; i < n; i++) {
    const c = s[i];
    if (c === "\\") {
      i++;
      continue;
    }
    if (c === "{" || c === "(") {
      depth++;
      if (depth === 2 && c === "{") entryStart = i;
    } else if (c === "}" || c === ")") {
      if (depth === 2 && c === "}" && entryStart >= 0) {
        const e = parseEntry(s.slice(entryStart, i + 1));
        if (e) out.push(e);
        entryStart = -1;
      }
      depth--;
      if (depth === 0) break;
    }
  }
  return out;
}

/** The fields of one {TARGETENTRY …} at its own level (its :expr's nested nodes removed). */
function parseEntry(text: string): Entry | null {
  let flat = "";
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "\\") {
      if (depth === 1) flat += text.slice(i, i + 2);
      i++;
      continue;
    }
    if (c === "{" || c === "(") depth++;
    else if (c === "}" || c === ")") depth--;
    else if (depth === 1) flat += c;
  }
  const m = /:resname (\S+) :ressortgroupref \d+ :resorigtbl (\d+) :resorigcol (\d+) :resjunk false/.exec(flat);
  if (!m) return null;
  return { resname: m[1]!.replace(/\\(.)/g, "$1"), relid: Number(m[2]), attnum: Number(m[3]) };
}

/** View (by table object) → the columns it takes unchanged from exposed tables. */
export function resolveViewSources(views: Array<{ oid: number; action: string }>, byOid: Map<number, Table>): Map<Table, ViewColumnSource[]> {
  const entries = new Map<number, Entry[]>();
  for (const v of views) entries.set(Number(v.oid), targetEntries(v.action));
  // A view's column points at a table's column, or at another view's column (views over views).
  const resolve = (relid: number, attnum: number, hops: number): { base: Table; column: string } | null => {
    const t = byOid.get(relid);
    if (!t) return null;
    const col = t.columnList.find((c) => c.position === attnum);
    if (!col) return null;
    const inner = entries.get(relid);
    if (!inner) return t.kind === "view" || t.kind === "materialized_view" ? null : { base: t, column: col.name };
    if (hops > 8) return null;
    const e = inner.find((x) => x.resname === col.name);
    return e && e.relid ? resolve(e.relid, e.attnum, hops + 1) : null;
  };
  const out = new Map<Table, ViewColumnSource[]>();
  for (const [oid, list] of entries) {
    const view = byOid.get(oid);
    if (!view) continue;
    const sources: ViewColumnSource[] = [];
    for (const e of list) {
      if (!e.relid || !view.columns.has(e.resname)) continue;
      const r = resolve(e.relid, e.attnum, 0);
      if (r) sources.push({ column: e.resname, base: r.base, baseColumn: r.column });
    }
    if (sources.length) out.set(view, sources);
  }
  return out;
}
