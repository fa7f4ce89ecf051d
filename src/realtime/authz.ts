// Private channels are authorised by RLS policies on realtime.messages, as on Supabase:
// - read (join and receive): probe rows for the topic, one per extension (broadcast, presence), are
//   inserted by the server, then read back as the subscriber (role + claims, realtime.topic() set);
//   the rows the SELECT policies let through are the extensions it may read.
// - write (send a broadcast, track presence): the subscriber inserts a row for the topic and
//   extension; the INSERT policies decide.
// Both run in a transaction that is always rolled back, so no probe row ever persists (and the
// announce trigger's NOTIFY is discarded with it).
import { randomUUID } from "node:crypto";
import type { Database, Principal, Tx } from "../db/pool.ts";

export type Extension = "broadcast" | "presence";

export interface ReadPolicies {
  broadcast: boolean;
  presence: boolean;
}

class Rollback<T> {
  constructor(readonly value: T) {}
}

export async function rolledBack<T>(db: Database, fn: (tx: Tx) => Promise<T>): Promise<T> {
  try {
    await db.sql.begin(async (tx) => {
      throw new Rollback(await fn(tx));
    });
  } catch (err) {
    if (err instanceof Rollback) return err.value as T;
    throw err;
  }
  throw new Error("unreachable");
}

export async function actAs(tx: Tx, principal: Principal, topic: string): Promise<void> {
  const claims = principal.claims;
  await tx`select
    set_config('role', ${principal.role}, true),
    set_config('realtime.topic', ${topic}, true),
    set_config('request.jwt.claims', ${JSON.stringify(claims)}, true),
    set_config('request.jwt.claim.sub', ${typeof claims.sub === "string" ? claims.sub : ""}, true),
    set_config('request.jwt.claim.role', ${principal.role}, true),
    set_config('request.jwt.claim.email', ${typeof claims.email === "string" ? claims.email : ""}, true)`;
}

export function readPolicies(db: Database, principal: Principal, topic: string): Promise<ReadPolicies> {
  return rolledBack(db, async (tx) => {
    const ids = { broadcast: randomUUID(), presence: randomUUID() };
    await tx`insert into realtime.messages (id, topic, extension, private)
             values (${ids.broadcast}::uuid, ${topic}, 'broadcast', true), (${ids.presence}::uuid, ${topic}, 'presence', true)`;
    await actAs(tx, principal, topic);
    const rows = await tx<{ extension: string }[]>`
      select extension from realtime.messages where id in (${ids.broadcast}::uuid, ${ids.presence}::uuid)`;
    const seen = new Set(rows.map((r) => r.extension));
    return { broadcast: seen.has("broadcast"), presence: seen.has("presence") };
  });
}

export async function canWrite(db: Database, principal: Principal, topic: string, extension: Extension): Promise<boolean> {
  try {
    return await rolledBack(db, async (tx) => {
      await actAs(tx, principal, topic);
      await tx`insert into realtime.messages (topic, extension, private) values (${topic}, ${extension}, true)`;
      return true;
    });
  } catch (err) {
    // 42501: the INSERT policies (or grants) refused it.
    if ((err as { code?: string }).code === "42501") return false;
    throw err;
  }
}
