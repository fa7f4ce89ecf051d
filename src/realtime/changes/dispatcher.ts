// From decoded WAL messages to frames on sockets: match each change against the subscriptions
// (table, event, filters), authorise it per subscriber, shape the payload realtime-js expects, send.
//
// Authorisation, batched: messages are processed in batches (everything queued since the last
// batch, so batches grow with load). Within a batch, changes to an RLS-enabled table are checked with
// ONE call per table: realtime.plinth_visible_rows(table, [primary keys…], [roles…], [claims…]),
// where subscribers sharing a role and claims form one group. The function switches to each group's
// role and claims in turn and looks the rows up by primary key, so RLS decides (see 0006). Tables
// without RLS need no database work: column privileges (cached per role) decide what is sent.
// DELETEs cannot be checked against a row that is gone; as on Supabase they are sent to every
// matching subscriber, and for RLS tables only the primary key columns of the old row are included.
import type { Logger } from "../../log.ts";
import type { ApiRole, Sql } from "../../db/pool.ts";
import { filterMatches } from "./filters.ts";
import { pgTimeToMs, type PgOutputMessage, type TupleValues } from "./pgoutput.ts";
import type { RelationCache, RelationInfo } from "./relations.ts";
import type { ChangeEvent, ChangeSubscriber, Delivery, PgBinding, SubscriptionIndex } from "./subscriptions.ts";
import { valueJson } from "./values.ts";

interface Change {
  rel: RelationInfo;
  type: ChangeEvent;
  commitTimestamp: string;
  new: TupleValues | null;
  old: TupleValues | null;
  oldIsKey: boolean;
}

interface Match {
  sub: ChangeSubscriber;
  ids: number[];
  /** Union of the matching bindings' column selections (null: all columns). */
  select: string[] | null;
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
/** Records above this size are sent without their long values, flagged "Error 413", as Supabase does. */
const MAX_RECORD_BYTES = 1024 * 1024;

export class ChangeDispatcher {
  private queue: PgOutputMessage[] = [];
  private running: Promise<void> | null = null;
  private commitTimestamp = new Date(0).toISOString();
  private backlogged = false;
  /** Changes delivered (subscriber × change), for tests and metrics. */
  delivered = 0;

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
      for (const msg of batch) {
        try {
          switch (msg.tag) {
            case "begin":
              this.commitTimestamp = new Date(pgTimeToMs(msg.commitTime)).toISOString();
              break;
            case "relation":
              if (pending.length) await this.flush(pending);
              pending = [];
              await this.opts.relations.refresh(msg);
              break;
            case "insert":
            case "update":
            case "delete": {
              if (this.opts.index.size === 0) break;
              const rel = this.opts.relations.get(msg.relation);
              if (!rel) break;
              pending.push({
                rel,
                type: msg.tag === "insert" ? "INSERT" : msg.tag === "update" ? "UPDATE" : "DELETE",
                commitTimestamp: this.commitTimestamp,
                new: msg.tag === "delete" ? null : msg.new,
                old: msg.tag === "insert" ? null : msg.old,
                oldIsKey: msg.tag === "insert" ? false : msg.oldIsKey,
              });
              break;
            }
            case "truncate":
              if (this.opts.index.size === 0) break;
              for (const oid of msg.relations) {
                const rel = this.opts.relations.get(oid);
                if (rel) pending.push({ rel, type: "TRUNCATE", commitTimestamp: this.commitTimestamp, new: null, old: null, oldIsKey: false });
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
    const verdicts = await this.authorize(planned);
    // Grouped per channel so that a socket gets the batch's frames in one corked write.
    const outbox = new Map<ChangeSubscriber, Delivery[]>();
    for (let i = 0; i < planned.length; i++) {
      const { change, matches } = planned[i]!;
      const variants = new Map<string, string | null>();
      for (const m of matches) {
        const verdict = verdicts.get(m)?.[i];
        if (verdict === false) continue;
        const role = m.sub.principal.role;
        const vkey = `${role}|${m.select?.join(",") ?? ""}`;
        let data = variants.get(vkey);
        if (data === undefined) variants.set(vkey, (data = buildData(change, role, m.select)));
        if (data === null) continue;
        let list = outbox.get(m.sub);
        if (!list) outbox.set(m.sub, (list = []));
        list.push({ ids: m.ids, type: change.type, dataJson: data });
        this.delivered++;
      }
    }
    for (const [sub, list] of outbox) sub.deliverChanges(list);
  }

  private match(change: Change): Match[] {
    const { rel } = change;
    const out: Match[] = [];
    for (const sub of this.opts.index.candidates(rel.schema, rel.table)) {
      let ids: number[] | null = null;
      let select: string[] | null | undefined;
      for (const b of sub.bindings) {
        if (!bindingMatches(b, change)) continue;
        ids ??= [];
        if (!ids.includes(b.id)) ids.push(b.id);
        select = select === null || b.select === null ? null : [...new Set([...(select ?? []), ...b.select])];
      }
      if (ids) out.push({ sub, ids, select: select ?? null });
    }
    return out;
  }

  /**
   * For every (match, change) that needs an RLS check, whether the row is visible. Returns per match
   * an array indexed like `planned` (undefined: no check needed, so visible).
   */
  private async authorize(planned: Array<{ change: Change; matches: Match[] }>): Promise<Map<Match, Array<boolean | undefined>>> {
    const verdicts = new Map<Match, Array<boolean | undefined>>();
    const set = (m: Match, i: number, v: boolean) => {
      let arr = verdicts.get(m);
      if (!arr) verdicts.set(m, (arr = []));
      arr[i] = v;
    };
    interface TableCheck {
      rel: RelationInfo;
      keys: string[];
      groups: Map<string, { index: number; role: ApiRole; claims: string }>;
      asks: Array<{ match: Match; planIndex: number; keyIndex: number; group: string }>;
    }
    const checks = new Map<number, TableCheck>();
    for (let i = 0; i < planned.length; i++) {
      const { change, matches } = planned[i]!;
      const { rel } = change;
      if (!rel.rls || (change.type !== "INSERT" && change.type !== "UPDATE")) continue;
      const key = primaryKeyJson(change);
      for (const m of matches) {
        const role = m.sub.principal.role;
        if (await this.opts.relations.bypassesRls(role)) continue;
        // No primary key (or one the role cannot read, or a value we do not have): the row cannot be
        // looked up, so the subscriber is not told (Supabase sends an "Error 400/401" instead).
        if (key === null || !rel.primaryKey.every((c) => rel.selectable[role].has(c))) {
          set(m, i, false);
          continue;
        }
        let check = checks.get(rel.oid);
        if (!check) checks.set(rel.oid, (check = { rel, keys: [], groups: new Map(), asks: [] }));
        let keyIndex = check.keys.lastIndexOf(key);
        if (keyIndex < 0) keyIndex = check.keys.push(key) - 1;
        let group = check.groups.get(m.sub.principalKey);
        if (!group) {
          group = { index: check.groups.size, role, claims: JSON.stringify(m.sub.principal.claims) };
          check.groups.set(m.sub.principalKey, group);
        }
        check.asks.push({ match: m, planIndex: i, keyIndex, group: m.sub.principalKey });
      }
    }
    await Promise.all(
      [...checks.values()].map(async (check) => {
        const groups = [...check.groups.values()];
        let visible: Array<Set<number> | null> = groups.map(() => null);
        try {
          const rows = await this.opts.sql<{ grp: number; visible: number[] | null }[]>`
            select grp, visible from realtime.plinth_visible_rows(
              ${check.rel.oid}::oid::regclass, ${`[${check.keys.join(",")}]`}::text::jsonb,
              ${groups.map((g) => g.role)}::text[], ${groups.map((g) => g.claims)}::text[])`;
          visible = groups.map(() => null);
          for (const r of rows) visible[r.grp - 1] = r.visible ? new Set(r.visible) : null;
        } catch (err) {
          this.opts.log.error("realtime: RLS check failed; change withheld", { error: err, table: `${check.rel.schema}.${check.rel.table}` });
        }
        for (const ask of check.asks) {
          const g = check.groups.get(ask.group)!;
          set(ask.match, ask.planIndex, visible[g.index]?.has(ask.keyIndex + 1) ?? false);
        }
      }),
    );
    return verdicts;
  }
}

function bindingMatches(b: PgBinding, change: Change): boolean {
  const { rel } = change;
  if (b.schema !== "*" && b.schema !== rel.schema) return false;
  if (b.table !== "*" && b.table !== rel.table) return false;
  if (change.type === "TRUNCATE") return b.event === "*" && b.filters.length === 0;
  if (b.event !== "*" && b.event !== change.type) return false;
  if (b.filters.length === 0) return true;
  const row = change.type === "DELETE" ? tupleValues(change.rel, change.old, change.oldIsKey) : tupleValues(change.rel, change.new, false);
  return b.filters.every((f) => {
    const col = rel.byName.get(f.column);
    return col ? filterMatches(f, col.type, row.get(f.column)) : false;
  });
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

function primaryKeyJson(change: Change): string | null {
  const { rel } = change;
  if (rel.primaryKey.length === 0 || !change.new) return null;
  const parts: string[] = [];
  for (const name of rel.primaryKey) {
    const i = rel.columns.findIndex((c) => c.name === name);
    const v = i >= 0 ? change.new[i] : undefined;
    if (v === undefined || v === null) return null;
    parts.push(`${JSON.stringify(name)}:${JSON.stringify(v)}`);
  }
  return `{${parts.join(",")}}`;
}

/**
 * The `data` object of a postgres_changes event for one role (and column selection), as JSON text;
 * null when the role may read no column of the table.
 */
export function buildData(change: Change, role: ApiRole, select: string[] | null): string | null {
  const { rel } = change;
  const allowed = rel.selectable[role];
  if (allowed.size === 0) return null;
  const include = (name: string) => allowed.has(name) && (select === null || select.includes(name) || rel.primaryKey.includes(name));
  const columns = rel.columns
    .filter((c) => include(c.name))
    .map((c) => `{"name":${JSON.stringify(c.name)},"type":${JSON.stringify(c.type.name)}}`)
    .join(",");
  const head = `{"schema":${JSON.stringify(rel.schema)},"table":${JSON.stringify(rel.table)},"commit_timestamp":${JSON.stringify(change.commitTimestamp)},"type":"${change.type}","columns":[${columns}]`;
  if (change.type === "TRUNCATE") return `${head},"errors":null}`;

  const render = (limit: number | null) => {
    let record = "";
    if (change.new) {
      const fields: string[] = [];
      rel.columns.forEach((c, i) => {
        if (!include(c.name)) return;
        let v = change.new![i];
        // Unchanged TOASTed value: take it from the full old row when the table sends one.
        if (v === undefined && change.old && !change.oldIsKey) v = change.old[i];
        if (v === undefined) return;
        if (limit !== null && v !== null && Buffer.byteLength(v) > limit) return;
        fields.push(`${JSON.stringify(c.name)}:${v === null ? "null" : valueJson(c.type, v)}`);
      });
      record = `,"record":{${fields.join(",")}}`;
    }
    let oldRecord = "";
    if (change.type !== "INSERT") {
      const fields: string[] = [];
      const source = change.old ?? change.new;
      const keyOnly = change.old ? change.oldIsKey : true;
      rel.columns.forEach((c, i) => {
        if (!include(c.name)) return;
        if (keyOnly && !c.isKey) return;
        if (change.type === "DELETE" && rel.rls && !rel.primaryKey.includes(c.name)) return;
        const v = source?.[i];
        if (v === undefined) return;
        if (limit !== null && v !== null && Buffer.byteLength(v) > limit) return;
        fields.push(`${JSON.stringify(c.name)}:${v === null ? "null" : valueJson(c.type, v)}`);
      });
      oldRecord = `,"old_record":{${fields.join(",")}}`;
    }
    return record + oldRecord;
  };
  let body = render(null);
  if (body.length <= MAX_RECORD_BYTES) return `${head}${body},"errors":null}`;
  body = render(64);
  return `${head}${body},"errors":["Error 413: Payload Too Large"]}`;
}
