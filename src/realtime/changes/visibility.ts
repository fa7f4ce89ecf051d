// The RLS check of INSERT and UPDATE events, batched: within a batch, changes to one RLS-enabled
// table are checked with ONE call, realtime.plinth_visible_tuples(table, [tuples…], [roles…],
// [claims…], [columns…], [xids…]) (migration 0011), where subscribers sharing a role and claims
// form one group. The function switches to each group's role and claims in turn, looks each row
// up by primary key (so the table's policies decide), and compares the row it finds with the
// event's tuple on every column the group may be sent. Why the comparison: dispatcher.ts's header.
//
// Traps:
// - The stream may hand us a commit before that transaction is visible to other sessions (its
//   commit record is flushed before it leaves the proc array); looked up in that moment, the row is
//   still the old one, and the event would be judged on it. The function waits for the writing
//   transactions (xids) to become visible first.
// - The columns compared for a group are the columns its role may SELECT as the relation cache
//   knows them, which is everything buildData can send that role. If the database no longer grants
//   one of them, the group's check fails (nothing is sent) rather than leaving a value unchecked.
// - A failed check (policy error, missing privilege, dropped column) withholds the change from that
//   group only; it is logged, never retried.
import type { Logger } from "../../log.ts";
import type { ApiRole, Sql } from "../../db/pool.ts";
import { recordValues, type Change } from "./payload.ts";
import type { RelationCache, RelationInfo } from "./relations.ts";
import type { ChangeSubscriber } from "./subscriptions.ts";

/**
 * full: send the event; key: the row is visible but no longer holds the event's values, send only
 * its primary key; none: send nothing.
 */
export type Verdict = "full" | "key" | "none";

export interface VisibilityDeps {
  sql: Sql;
  log: Logger;
  relations: RelationCache;
}

interface TableCheck<M> {
  rel: RelationInfo;
  tuples: Change[];
  tupleIndex: Map<Change, number>;
  groups: Map<string, { index: number; role: ApiRole; claims: string }>;
  asks: Array<{ planIndex: number; tuple: number; group: string; match: M }>;
}

/**
 * For every (match, change) that needs an RLS check, the verdict. Returns per match an array
 * indexed like `planned`; undefined where no check is needed (no RLS, DELETE, TRUNCATE, a role
 * that bypasses RLS): the event is sent as is.
 */
export async function checkVisibility<M extends { sub: ChangeSubscriber }>(
  deps: VisibilityDeps,
  planned: ReadonlyArray<{ change: Change; matches: readonly M[] }>,
): Promise<Map<M, Array<Verdict | undefined>>> {
  const verdicts = new Map<M, Array<Verdict | undefined>>();
  const set = (m: M, i: number, v: Verdict) => {
    let arr = verdicts.get(m);
    if (!arr) verdicts.set(m, (arr = []));
    arr[i] = v;
  };
  const checks = new Map<number, TableCheck<M>>();
  for (let i = 0; i < planned.length; i++) {
    const { change, matches } = planned[i]!;
    const { rel } = change;
    if (!rel.rls || (change.type !== "INSERT" && change.type !== "UPDATE")) continue;
    const keyKnown = hasPrimaryKey(change);
    for (const m of matches) {
      const role = m.sub.principal.role;
      if (await deps.relations.bypassesRls(role)) continue;
      // No primary key (or one the role cannot read, or a value we do not have): the row cannot be
      // looked up, so the subscriber is not told (Supabase sends an "Error 400/401" instead).
      if (!keyKnown || !rel.primaryKey.every((c) => rel.selectable[role].has(c))) {
        set(m, i, "none");
        continue;
      }
      let check = checks.get(rel.oid);
      if (!check) checks.set(rel.oid, (check = { rel, tuples: [], tupleIndex: new Map(), groups: new Map(), asks: [] }));
      let tuple = check.tupleIndex.get(change);
      if (tuple === undefined) check.tupleIndex.set(change, (tuple = check.tuples.push(change) - 1));
      if (!check.groups.has(m.sub.principalKey)) {
        check.groups.set(m.sub.principalKey, { index: check.groups.size, role, claims: JSON.stringify(m.sub.principal.claims) });
      }
      check.asks.push({ match: m, planIndex: i, tuple, group: m.sub.principalKey });
    }
  }
  await Promise.all(
    [...checks.values()].map(async (check) => {
      const groups = [...check.groups.values()];
      const { rel } = check;
      // One object per tuple with every value some group may be sent (each group compares its own).
      const sent = new Set(rel.primaryKey);
      for (const g of groups) for (const c of rel.selectable[g.role]) sent.add(c);
      const tuplesJson = `[${check.tuples.map((c) => tupleJson(c, sent)).join(",")}]`;
      let results: Array<{ same: Set<number>; changed: Set<number> } | null> = groups.map(() => null);
      try {
        const rows = await deps.sql<{ grp: number; same: number[] | null; changed: number[] | null }[]>`
          select grp, same, changed from realtime.plinth_visible_tuples(
            ${rel.oid}::oid::regclass, ${tuplesJson}::text::jsonb,
            ${groups.map((g) => g.role)}::text[], ${groups.map((g) => g.claims)}::text[],
            ${groups.map((g) => JSON.stringify([...rel.selectable[g.role]]))}::text[],
            ${[...new Set(check.tuples.map((c) => c.xid))]}::bigint[])`;
        results = groups.map(() => null);
        for (const r of rows) results[r.grp - 1] = r.same && r.changed ? { same: new Set(r.same), changed: new Set(r.changed) } : null;
      } catch (err) {
        deps.log.error("realtime: RLS check failed; change withheld", { error: err, table: `${rel.schema}.${rel.table}` });
      }
      for (const ask of check.asks) {
        const result = results[check.groups.get(ask.group)!.index];
        const position = ask.tuple + 1;
        set(ask.match, ask.planIndex, result?.same.has(position) ? "full" : result?.changed.has(position) ? "key" : "none");
      }
    }),
  );
  return verdicts;
}

/** Whether the event has a value for every primary-key column (the lookup needs them all). */
function hasPrimaryKey(change: Change): boolean {
  const { rel } = change;
  const record = recordValues(change);
  if (rel.primaryKey.length === 0 || !record) return false;
  return rel.primaryKey.every((name) => {
    const col = rel.columns.findIndex((c) => c.name === name);
    return col >= 0 && record[col] !== undefined && record[col] !== null;
  });
}

/** {column: text value or null} for the columns in `sent` whose value the event has. */
function tupleJson(change: Change, sent: Set<string>): string {
  const record = recordValues(change)!;
  const fields: string[] = [];
  change.rel.columns.forEach((c, i) => {
    const v = record[i];
    if (v === undefined || !sent.has(c.name)) return;
    fields.push(`${JSON.stringify(c.name)}:${JSON.stringify(v)}`);
  });
  return `{${fields.join(",")}}`;
}
