// From decoded WAL messages to frames on sockets: match each change against the subscriptions
// (table, event, filters), authorise it per subscriber (visibility.ts), shape the payload
// realtime-js expects (payload.ts), send. Messages are processed in batches (everything queued
// since the last batch, so batches grow with load); tables without RLS need no database work:
// column privileges (cached per role) decide what is sent.
//
// What a subscriber may be sent — the argument. An event carries the row as it was WRITTEN (the
// WAL tuple); RLS can only be asked about the row as it is NOW (looked up by primary key as the
// subscriber, with its claims). The two differ when the row changed since: a row inserted private
// and shared in the same transaction is visible now, but its INSERT tuple holds the private values.
// So for INSERT and UPDATE on an RLS table the check also compares the current row with the tuple
// on every column the subscriber's role may read (migration 0011), and:
// - visible and equal ("full"): the event is sent. Every value in it equals the value of a row the
//   subscriber can SELECT at the moment of the check, so it learns nothing a REST read at that
//   moment would not have told it (policies that depend on other tables are evaluated then, too).
// - visible but different ("key"): only the primary key is sent, flagged ROW_CHANGED_ERROR. The key
//   equals the visible row's key. The event is not dropped, so a client that cannot get an INSERT
//   in full (the row was edited before the check: a second statement in the same transaction, an
//   AFTER INSERT trigger updating the row, a quick edit) still learns to refetch it; the later
//   UPDATE, if it is the row's current state, arrives in full.
// - not visible ("none"), or the check failed: nothing.
// DELETEs cannot be checked against a row that is gone: as on Supabase they go to every matching
// subscriber, and for RLS tables only the primary key of the old row is included — as it is for
// UPDATE's old_record, which the check does not cover either (payload.ts).
//
// Filters run before that check (so that a channel filtering on its own rows does not cost an RLS
// lookup for everyone else's), which is safe because of what they may read and what they cost:
// - They read only columns the subscriber's role may SELECT, re-checked here against the relation
//   cache (a grant revoked after the join takes effect), and a filter's outcome is observable only
//   through a delivery (it chooses which bindings are listed in `ids`). A "full" delivery vouches
//   for every column the role may read, filter columns included; on a table without RLS the role
//   may read those columns of every row anyway.
// - Where a delivery vouches for the key only (a DELETE, a "key" verdict), only bindings whose
//   filters are all on primary-key columns match; a filter on any other column decides nothing and
//   never shows in `ids`. Otherwise a DELETE would answer, for every binding, a question about a row
//   its subscriber never had the right to read (`secret=lt.m`…). Supabase documents that DELETE
//   events cannot be filtered; filters on the key still work here.
// - Cost: operators are linear-time and bindings are bounded per channel and per socket (filters.ts
//   and channel.ts); no regular expression of a client's runs here.
import type { Logger } from "../../log.ts";
import type { ApiRole, Sql } from "../../db/pool.ts";
import { filterMatches } from "./filters.ts";
import { dataChangePayload, type DataChangeSink } from "./data-change.ts";
import { buildData, recordValues, type Change } from "./payload.ts";
import { pgTimeToMs, type PgOutputMessage, type TupleValues } from "./pgoutput.ts";
import type { RelationCache, RelationInfo } from "./relations.ts";
import type { ChangeSubscriber, Delivery, PgBinding, SubscriptionIndex } from "./subscriptions.ts";
import { checkVisibility, type Verdict } from "./visibility.ts";

interface Match {
  sub: ChangeSubscriber;
  /** The bindings of the channel that match the change, in the channel's order. */
  bindings: PgBinding[];
}

export interface DispatcherOptions {
  sql: Sql;
  log: Logger;
  index: SubscriptionIndex;
  relations: RelationCache;
  /** Called with true when the backlog is too long (pause the stream), false when it drained. */
  onBacklog?(tooLong: boolean): void;
}

const BATCH = 2000;
const HIGH_WATER = 20_000;
const LOW_WATER = 2_000;

export class ChangeDispatcher {
  private queue: PgOutputMessage[] = [];
  private running: Promise<void> | null = null;
  private commitTimestamp = new Date(0).toISOString();
  private xid = 0;
  private backlogged = false;
  /** Changes delivered (subscriber × change), for tests and metrics. */
  delivered = 0;
  /** Server-side listeners (plugins' data.change), set by the hub; asked once per batch (data-change.ts). */
  dataChanges: DataChangeSink | null = null;

  constructor(private readonly opts: DispatcherOptions) {}

  push(msg: PgOutputMessage): void {
    this.queue.push(msg);
    if (!this.backlogged && this.queue.length > HIGH_WATER) {
      this.backlogged = true;
      this.opts.onBacklog?.(true);
    }
    // Started from a microtask, and cleared in the same tick as the loop sees the queue empty, so
    // no message can be left behind between the last check and the end of the run.
    this.running ??= Promise.resolve().then(() => this.run());
  }

  /** Resolves once everything queued so far is processed. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async run(): Promise<void> {
    try {
      await this.drain();
    } finally {
      this.running = null;
    }
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, BATCH);
      let pending: Change[] = [];
      const sink = this.dataChanges?.listening() ? this.dataChanges : null;
      for (const msg of batch) {
        try {
          switch (msg.tag) {
            case "begin":
              this.commitTimestamp = new Date(pgTimeToMs(msg.commitTime)).toISOString();
              this.xid = msg.xid;
              break;
            case "relation":
              if (pending.length) await this.flush(pending);
              pending = [];
              await this.opts.relations.refresh(msg);
              break;
            case "insert":
            case "update":
            case "delete": {
              if (this.opts.index.size === 0 && !sink) break;
              const rel = this.opts.relations.get(msg.relation);
              if (!rel) break;
              const change: Change = {
                rel,
                type: msg.tag === "insert" ? "INSERT" : msg.tag === "update" ? "UPDATE" : "DELETE",
                commitTimestamp: this.commitTimestamp,
                xid: this.xid,
                new: msg.tag === "delete" ? null : msg.new,
                old: msg.tag === "insert" ? null : msg.old,
                oldIsKey: msg.tag === "insert" ? false : msg.oldIsKey,
              };
              if (sink) sink.emit(dataChangePayload(change)!);
              if (this.opts.index.size > 0) pending.push(change);
              break;
            }
            case "truncate":
              if (this.opts.index.size === 0) break;
              for (const oid of msg.relations) {
                const rel = this.opts.relations.get(oid);
                if (rel) pending.push({ rel, type: "TRUNCATE", commitTimestamp: this.commitTimestamp, xid: this.xid, new: null, old: null, oldIsKey: false });
              }
              break;
          }
        } catch (err) {
          this.opts.log.error("realtime: change processing failed", { error: err, tag: msg.tag });
        }
      }
      if (pending.length) {
        try {
          await this.flush(pending);
        } catch (err) {
          this.opts.log.error("realtime: change delivery failed", { error: err });
        }
      }
      if (this.backlogged && this.queue.length < LOW_WATER) {
        this.backlogged = false;
        this.opts.onBacklog?.(false);
      }
    }
  }

  private async flush(changes: Change[]): Promise<void> {
    const planned: Array<{ change: Change; matches: Match[] }> = [];
    for (const change of changes) {
      const matches = this.match(change);
      if (matches.length) planned.push({ change, matches });
    }
    if (planned.length === 0) return;
    const verdicts = await checkVisibility(this.opts, planned);
    // Grouped per channel so that a socket gets the batch's frames in one corked write.
    const outbox = new Map<ChangeSubscriber, Delivery[]>();
    for (let i = 0; i < planned.length; i++) {
      const { change, matches } = planned[i]!;
      const variants = new Map<string, string | null>();
      for (const m of matches) {
        const verdict: Verdict = verdicts.get(m)?.[i] ?? "full";
        if (verdict === "none") continue;
        const bindings = verdict === "key" ? m.bindings.filter((b) => keyFiltered(b, change.rel)) : m.bindings;
        if (bindings.length === 0) continue;
        const ids = [...new Set(bindings.map((b) => b.id))];
        const select = verdict === "key" ? null : selection(bindings);
        const role = m.sub.principal.role;
        const vkey = `${verdict}|${role}|${select?.join(",") ?? ""}`;
        let data = variants.get(vkey);
        if (data === undefined) variants.set(vkey, (data = buildData(change, role, select, verdict === "key")));
        if (data === null) continue;
        let list = outbox.get(m.sub);
        if (!list) outbox.set(m.sub, (list = []));
        list.push({ ids, type: change.type, dataJson: data });
        this.delivered++;
      }
    }
    for (const [sub, list] of outbox) sub.deliverChanges(list);
  }

  private match(change: Change): Match[] {
    const out: Match[] = [];
    let row: Map<string, string | null | undefined> | null = null;
    for (const sub of this.opts.index.candidates(change.rel.schema, change.rel.table)) {
      const role = sub.principal.role;
      const bindings = sub.bindings.filter((b) => {
        if (!bindingCovers(b, change)) return false;
        if (b.filters.length === 0) return true;
        row ??= filterRow(change);
        return filtersHold(b, change, role, row);
      });
      if (bindings.length) out.push({ sub, bindings });
    }
    return out;
  }
}

/** Table, event and (for TRUNCATE) the absence of filters; the filters themselves are filtersHold's. */
function bindingCovers(b: PgBinding, change: Change): boolean {
  const { rel } = change;
  if (b.schema !== "*" && b.schema !== rel.schema) return false;
  if (b.table !== "*" && b.table !== rel.table) return false;
  if (change.type === "TRUNCATE") return b.event === "*" && b.filters.length === 0;
  return b.event === "*" || b.event === change.type;
}

/**
 * Whether the binding's filters hold for the change, as the header says: only on columns the role
 * may read, and for a DELETE only when every filter is on the primary key.
 */
function filtersHold(b: PgBinding, change: Change, role: ApiRole, row: Map<string, string | null | undefined>): boolean {
  const { rel } = change;
  if (change.type === "DELETE" && !keyFiltered(b, rel)) return false;
  const readable = rel.selectable[role];
  return b.filters.every((f) => {
    const col = rel.byName.get(f.column);
    return col !== undefined && readable.has(f.column) && filterMatches(f, col.type, row.get(f.column));
  });
}

/** Every filter of the binding is on a primary-key column (no filters: trivially). */
function keyFiltered(b: PgBinding, rel: RelationInfo): boolean {
  return b.filters.every((f) => rel.primaryKey.includes(f.column));
}

/** Union of the bindings' column selections (null: all columns). */
function selection(bindings: PgBinding[]): string[] | null {
  const cols = new Set<string>();
  for (const b of bindings) {
    if (b.select === null) return null;
    for (const c of b.select) cols.add(c);
  }
  return [...cols];
}

/** What filters are evaluated on: the old row of a DELETE, else the new row. */
function filterRow(change: Change): Map<string, string | null | undefined> {
  return change.type === "DELETE" ? tupleValues(change.rel, change.old, change.oldIsKey) : tupleValues(change.rel, recordValues(change), false);
}

/** Column name → text value; key-only tuples carry only the replica identity columns. */
function tupleValues(rel: RelationInfo, tuple: TupleValues | null, keyOnly: boolean): Map<string, string | null | undefined> {
  const out = new Map<string, string | null | undefined>();
  if (!tuple) return out;
  rel.columns.forEach((c, i) => {
    if (keyOnly && !c.isKey) return;
    out.set(c.name, tuple[i]);
  });
  return out;
}
