// One decoded change, and the `data` object realtime-js expects for it, rendered for one role.
// What a role is sent: the columns it may SELECT (column privileges), narrowed by the binding's
// `select`, always with the primary key. On RLS tables the previous values (`old_record`) are cut
// to the primary key, for UPDATE as for DELETE, as Supabase does: the subscriber was never checked
// against the old row, only against the new one (see dispatcher.ts).
import type { ApiRole } from "../../db/pool.ts";
import type { TupleValues } from "./pgoutput.ts";
import type { RelationInfo } from "./relations.ts";
import type { ChangeEvent } from "./subscriptions.ts";
import { valueJson } from "./values.ts";

export interface Change {
  rel: RelationInfo;
  type: ChangeEvent;
  commitTimestamp: string;
  /** The writing transaction (32-bit, from the stream's Begin message). */
  xid: number;
  new: TupleValues | null;
  old: TupleValues | null;
  oldIsKey: boolean;
}

/** Records above this size are sent without their long values, flagged "Error 413", as Supabase does. */
const MAX_RECORD_BYTES = 1024 * 1024;

/**
 * Sent, with the key only, when the row changed between the event and its RLS check: the check
 * vouches for the row as it is now, which no longer holds the event's values (see dispatcher.ts).
 */
export const ROW_CHANGED_ERROR = "Error 409: Conflict, the row changed before this event was checked; only its primary key is sent";

/**
 * The values of the new row, column by column (undefined: not known). An unchanged TOASTed value
 * is not in the WAL's new tuple; it is taken from the full old row when the table sends one.
 */
export function recordValues(change: Change): TupleValues | null {
  const { new: row, old } = change;
  if (!row) return null;
  if (!old || change.oldIsKey || !row.includes(undefined)) return row;
  return row.map((v, i) => (v === undefined ? old[i] : v));
}

/**
 * The `data` object of a postgres_changes event for one role (and column selection), as JSON text;
 * null when the role may read no column of the table. `keyOnly`: only the primary key of the row
 * and a ROW_CHANGED_ERROR.
 */
export function buildData(change: Change, role: ApiRole, select: string[] | null, keyOnly = false): string | null {
  const { rel } = change;
  const allowed = rel.selectable[role];
  if (allowed.size === 0) return null;
  const isKey = (name: string) => rel.primaryKey.includes(name);
  const include = (name: string) => allowed.has(name) && (keyOnly ? isKey(name) : select === null || select.includes(name) || isKey(name));
  const columns = rel.columns
    .filter((c) => include(c.name))
    .map((c) => `{"name":${JSON.stringify(c.name)},"type":${JSON.stringify(c.type.name)}}`)
    .join(",");
  const head = `{"schema":${JSON.stringify(rel.schema)},"table":${JSON.stringify(rel.table)},"commit_timestamp":${JSON.stringify(change.commitTimestamp)},"type":"${change.type}","columns":[${columns}]`;
  if (change.type === "TRUNCATE") return `${head},"errors":null}`;

  const record = recordValues(change);
  const render = (limit: number | null) => {
    let out = "";
    if (record) {
      const fields: string[] = [];
      rel.columns.forEach((c, i) => {
        if (!include(c.name)) return;
        const v = record[i];
        if (v === undefined) return;
        if (limit !== null && v !== null && Buffer.byteLength(v) > limit) return;
        fields.push(`${JSON.stringify(c.name)}:${v === null ? "null" : valueJson(c.type, v)}`);
      });
      out = `,"record":{${fields.join(",")}}`;
    }
    if (change.type !== "INSERT") {
      const fields: string[] = [];
      const source = change.old ?? change.new;
      const keyOnlySource = change.old ? change.oldIsKey : true;
      rel.columns.forEach((c, i) => {
        if (!include(c.name)) return;
        if (keyOnlySource && !c.isKey) return;
        if (rel.rls && !isKey(c.name)) return;
        const v = source?.[i];
        if (v === undefined) return;
        if (limit !== null && v !== null && Buffer.byteLength(v) > limit) return;
        fields.push(`${JSON.stringify(c.name)}:${v === null ? "null" : valueJson(c.type, v)}`);
      });
      out += `,"old_record":{${fields.join(",")}}`;
    }
    return out;
  };
  const errors: string[] = keyOnly ? [ROW_CHANGED_ERROR] : [];
  let body = render(null);
  if (body.length > MAX_RECORD_BYTES) {
    body = render(64);
    errors.push("Error 413: Payload Too Large");
  }
  return `${head}${body},"errors":${errors.length ? JSON.stringify(errors) : "null"}}`;
}
