// Data changes for server-side listeners (plugins' `data.change`, src/plugins/data-changes.ts): the
// same decoded WAL changes the realtime subscribers get, as plain objects, sent once per change
// after its transaction committed (logical decoding only ever streams committed transactions).
//
// Traps:
// - Nothing here runs unless a sink is set AND says it is listening (checked once per batch in
//   dispatcher.ts): with no plugin, or none that hooks data.change, the stream does no extra work.
// - The sink must not block: emit() is called on the stream's path, so it queues and returns; what
//   a slow or throwing listener does is the sink's business (bounded queue, timeouts).
// - A listener is trusted server code, so it gets every column of the row, not a role's view; the
//   old row is what the WAL carries: the whole row with REPLICA IDENTITY FULL, else the key columns.
// - Only tables in the supabase_realtime publication are in the stream; TRUNCATE is not sent.
import type { Change } from "./payload.ts";
import { recordValues } from "./payload.ts";
import type { TupleValues } from "./pgoutput.ts";
import type { RelationInfo } from "./relations.ts";
import { valueJson } from "./values.ts";

export interface DataChangeSink {
  /** Whether anything listens now (cheap: called once per batch). */
  listening(): boolean;
  /** Takes one change; must return at once. */
  emit(payload: DataChangePayload): void;
}

// A type, not an interface, so it is a Record<string, unknown> for the plugins' side.
export type DataChangePayload = {
  schema: string;
  table: string;
  type: "INSERT" | "UPDATE" | "DELETE";
  record: Record<string, unknown> | null;
  old_record: Record<string, unknown> | null;
  commit_timestamp: string;
};

function toObject(rel: RelationInfo, tuple: TupleValues | null, keyOnly: boolean): Record<string, unknown> | null {
  if (!tuple) return null;
  const fields: string[] = [];
  rel.columns.forEach((c, i) => {
    if (keyOnly && !c.isKey) return;
    const v = tuple[i];
    if (v === undefined) return; // an unchanged TOASTed value the WAL did not carry
    fields.push(`${JSON.stringify(c.name)}:${v === null ? "null" : valueJson(c.type, v)}`);
  });
  // valueJson renders each value as JSON text (numbers, booleans, json columns, arrays), the way
  // realtime-js receives it; one parse turns the row into an object.
  return JSON.parse(`{${fields.join(",")}}`) as Record<string, unknown>;
}

export function dataChangePayload(change: Change): DataChangePayload | null {
  if (change.type === "TRUNCATE") return null;
  return {
    schema: change.rel.schema,
    table: change.rel.table,
    type: change.type,
    record: change.type === "DELETE" ? null : toObject(change.rel, recordValues(change), false),
    // Without an old tuple (an UPDATE that kept the key, default replica identity) the key is the new row's.
    old_record: change.type === "INSERT" ? null : change.old ? toObject(change.rel, change.old, change.oldIsKey) : toObject(change.rel, change.new, true),
    commit_timestamp: change.commitTimestamp,
  };
}
