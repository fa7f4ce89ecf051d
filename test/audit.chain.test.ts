// The audit log's hash chain (migration 0015, src/admin/audit/chain.ts, verify.ts): the SQL and
// TypeScript canonical forms agree byte for byte; every writer (several app instances on one
// database, the CLI's connection) keeps one chain; rows written before the migration are chained by
// it; and a row changed, removed or inserted behind Plinth's back is found and named, with an
// audit_chain_broken critical security event.
import { describe, expect, test } from "bun:test";
import postgres from "postgres";
import { systemMigrations } from "../migrations/index.ts";
import { cliActor } from "../src/admin/authorize.ts";
import { CHAIN_SELECT, canonicalOf, GENESIS_HASH, hashOf, type ChainRecord } from "../src/admin/audit/chain.ts";
import { actorColumns, recordAudit, recordSecurityChange } from "../src/admin/audit/log.ts";
import { verifyAuditChain } from "../src/admin/audit/verify.ts";
import type { Sql } from "../src/db/pool.ts";
import { adminApp, uniqueEmail } from "./support/admin.ts";
import { freshDatabase } from "./support/db.ts";

const cli = actorColumns(cliActor("tester"));
const entry = (action: string, extra: Partial<Parameters<typeof recordAudit>[1]> = {}) => ({
  ...cli,
  action,
  target: null,
  statement: null,
  outcome: "ok" as const,
  status: 0,
  errorCode: null,
  durationMs: 1,
  rowCount: null,
  requestId: null,
  clientIp: null,
  ...extra,
});

async function seed(sql: Sql, n: number) {
  for (let i = 0; i < n; i++) await recordAudit(sql, entry(`test.row_${i}`, { target: `t:${i}` }));
}

/** The superuser's way around the append-only trigger: what an attacker with database access does. */
async function behindTheBack(sql: Sql, fn: (tx: postgres.TransactionSql) => Promise<unknown>) {
  await sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`; // silences every ordinary trigger
    await fn(tx);
  });
}

const events = (sql: Sql) =>
  sql<{ severity: string; details: any }[]>`select severity, details from plinth.security_events where kind = 'audit_chain_broken' order by id`;

describe("canonical form", () => {
  test("TypeScript and SQL hash the same bytes, for awkward values too", async () => {
    const { db } = await freshDatabase();
    const sql = db.sql;
    await recordAudit(
      sql,
      entry("x.unicode", { target: "ünï|cödé\n-\n5:fake", reason: "emoji 🙂 and 'quotes'", durationMs: 0.1 + 0.2, rowCount: 9007199254740991 }),
    );
    await recordAudit(sql, entry("x.nulls", { actorSub: null, durationMs: 1e-7, details: { z: 1, a: [true, null, "é"], nested: { b: 2.5 } } }));
    await recordAudit(sql, entry("x.empty", { target: "", statement: "select $1", security: true, durationMs: 123456789.123 }));
    await sql.begin(async (tx) => {
      await tx`set local extra_float_digits = 1`;
      const rows = await tx.unsafe<(ChainRecord & { canon: string })[]>(
        `select ${CHAIN_SELECT}, plinth.audit_canonical(a) as canon from plinth.audit_log a order by a.seq`,
      );
      expect(rows.length).toBe(3);
      let prev = GENESIS_HASH;
      for (const r of rows) {
        expect(canonicalOf(r)).toBe(r.canon);
        expect(hashOf(r)).toBe(r.hash!);
        expect(r.prev_hash).toBe(prev);
        prev = r.hash!;
      }
      // Length prefixes: a value containing the separator cannot pose as two fields.
      expect(rows[0]!.canon).toContain(`\n${Buffer.byteLength("ünï|cödé\n-\n5:fake")}:ünï|cödé\n-\n5:fake\n`);
    });
    expect(await verifyAuditChain(sql)).toMatchObject({ ok: true, checked: 3 });
  });

  test("a session with other float settings verifies the same (verify pins extra_float_digits)", async () => {
    const { db, url } = await freshDatabase();
    const other = postgres(url, { max: 1, onnotice: () => {}, connection: { extra_float_digits: -3 as unknown as string } });
    await recordAudit(other, entry("x.float", { durationMs: 1 / 3 }));
    await other.end();
    expect(await verifyAuditChain(db.sql)).toMatchObject({ ok: true, checked: 1 });
  });
});

describe("one chain, many writers", () => {
  test("two app instances on one database, writing concurrently, keep one valid chain", async () => {
    const node1 = await adminApp();
    const node2 = await adminApp({}, node1.database);
    const before = Number((await node1.sql`select count(*) from plinth.audit_log`)[0]!.count);
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      const node = i % 2 ? node1 : node2;
      calls.push(node.call("GET", "/audit?limit=1", undefined, { token: node.keys.service_role }));
      calls.push(node.call("POST", "/auth/v1/signup", { email: uniqueEmail(`c${i}`), password: "Sign-up-pass-1" }, { apikey: node.keys.anon }));
      calls.push(recordAudit(node.sql, entry(`direct.${i}`)));
    }
    await Promise.all(calls);
    const [{ count, min, max }] = (await node1.sql`select count(*)::int as count, min(seq)::int as min, max(seq)::int as max from plinth.audit_log`) as any;
    expect(count).toBe(before + 120);
    expect(max - min + 1).toBe(count); // no gaps, no duplicates (seq is unique)
    const v = await node2.call("GET", "/audit/verify", undefined, { token: node2.keys.service_role });
    expect(v.status).toBe(200);
    expect(v.body).toMatchObject({ ok: true, checked: count });
  });

  test("a writer inside a REPEATABLE READ transaction cannot fork the chain: it fails instead", async () => {
    const { db } = await freshDatabase();
    const sql = db.sql;
    await seed(sql, 1);
    let failed: unknown = null;
    await sql
      .begin("isolation level repeatable read", async (tx) => {
        await tx`select count(*) from plinth.audit_chain_head`; // takes the snapshot
        await recordAudit(sql, entry("concurrent")); // another writer commits meanwhile
        await recordAudit(tx as unknown as Sql, entry("stale"));
      })
      .catch((e) => (failed = e));
    expect((failed as { code?: string })?.code).toBe("40001"); // serialization_failure
    expect(await verifyAuditChain(sql)).toMatchObject({ ok: true, checked: 2 });
  });

  test("recordSecurityChange writes a flagged, chained row with its details", async () => {
    const { db } = await freshDatabase();
    await recordSecurityChange(db.sql, { actor: cliActor("ops"), action: "keys.rotate", target: "jwt_secret", details: { kid: "k2" } });
    const [row] = await db.sql`select action, security, details, os_user, seq from plinth.audit_log`;
    expect(row).toMatchObject({ action: "keys.rotate", security: true, details: { kid: "k2" }, os_user: "ops", seq: "1" });
    expect(await verifyAuditChain(db.sql)).toMatchObject({ ok: true, checked: 1 });
  });
});

describe("tampering is found", () => {
  test("a row changed directly: hash_mismatch at that row, and a critical security event", async () => {
    const { db } = await freshDatabase();
    const sql = db.sql;
    await seed(sql, 6);
    const [victim] = await sql`select id from plinth.audit_log where seq = 3`;
    await behindTheBack(sql, (tx) => tx`update plinth.audit_log set target = 'innocent' where id = ${victim!.id}`);
    const r = await verifyAuditChain(sql);
    expect(r).toMatchObject({ ok: false, first_bad_id: Number(victim!.id), reason: "hash_mismatch" });
    const ev = await events(sql);
    expect(ev.length).toBe(1);
    expect(ev[0]).toMatchObject({ severity: "critical", details: { first_bad_id: Number(victim!.id), reason: "hash_mismatch" } });
  });

  test("a row changed with its hash recomputed: the next row no longer follows it", async () => {
    const { db } = await freshDatabase();
    const sql = db.sql;
    await seed(sql, 5);
    await behindTheBack(sql, async (tx) => {
      await tx`update plinth.audit_log set outcome = 'denied' where seq = 2`;
      await tx`update plinth.audit_log a set hash = plinth.audit_hash(a) where seq = 2`;
    });
    const [next] = await sql`select id from plinth.audit_log where seq = 3`;
    expect(await verifyAuditChain(sql)).toMatchObject({ ok: false, first_bad_id: Number(next!.id), reason: "prev_hash_mismatch" });
  });

  test("a row removed from the middle: rows_missing at the row after the gap", async () => {
    const { db } = await freshDatabase();
    const sql = db.sql;
    await seed(sql, 5);
    await behindTheBack(sql, (tx) => tx`delete from plinth.audit_log where seq = 3`);
    const [after] = await sql`select id from plinth.audit_log where seq = 4`;
    expect(await verifyAuditChain(sql)).toMatchObject({ ok: false, first_bad_id: Number(after!.id), reason: "rows_missing" });
  });

  test("the oldest rows removed (no archive): rows_missing at the first live row", async () => {
    const { db } = await freshDatabase();
    const sql = db.sql;
    await seed(sql, 4);
    await behindTheBack(sql, (tx) => tx`delete from plinth.audit_log where seq <= 2`);
    expect(await verifyAuditChain(sql)).toMatchObject({ ok: false, first_bad_seq: 3, reason: "rows_missing" });
  });

  test("the newest rows removed: the chain head no longer matches", async () => {
    const { db } = await freshDatabase();
    const sql = db.sql;
    await seed(sql, 5);
    await behindTheBack(sql, (tx) => tx`delete from plinth.audit_log where seq >= 4`);
    expect(await verifyAuditChain(sql)).toMatchObject({ ok: false, reason: "head_mismatch", first_bad_seq: 4 });
  });

  test("a row inserted with the triggers off, even with a correct hash, is outside the chain", async () => {
    const { db } = await freshDatabase();
    const sql = db.sql;
    await seed(sql, 3);
    // A perfect forgery at the tail: right seq, right prev_hash, right hash — but the head was not moved.
    await behindTheBack(sql, async (tx) => {
      const [last] = await tx`select seq, hash from plinth.audit_log order by seq desc limit 1`;
      const [row] = await tx`
        insert into plinth.audit_log (actor_role, actor_kind, action, outcome, status, duration_ms, seq, prev_hash, hash)
        values ('cli', 'cli', 'forged', 'ok', 0, 1, ${Number(last!.seq) + 1}, ${last!.hash}, 'x') returning id`;
      await tx`update plinth.audit_log a set hash = plinth.audit_hash(a) where id = ${row!.id}`;
    });
    const [forged] = await sql`select id from plinth.audit_log where action = 'forged'`;
    expect(await verifyAuditChain(sql)).toMatchObject({ ok: false, first_bad_id: Number(forged!.id), reason: "head_mismatch" });
  });

  test("a row inserted in the middle by renumbering the rows after it: found where it went in", async () => {
    const { db } = await freshDatabase();
    const sql = db.sql;
    await seed(sql, 4);
    await behindTheBack(sql, async (tx) => {
      await tx`update plinth.audit_log set seq = seq + 1000 where seq >= 3`;
      await tx`update plinth.audit_log set seq = seq - 999 where seq >= 1000`;
      const [p] = await tx`select hash from plinth.audit_log where seq = 2`;
      await tx`insert into plinth.audit_log (actor_role, actor_kind, action, outcome, status, duration_ms, seq, prev_hash, hash)
               values ('cli', 'cli', 'inserted', 'ok', 0, 1, 3, ${p!.hash}, 'x')`;
      await tx`update plinth.audit_log a set hash = plinth.audit_hash(a) where action = 'inserted'`;
    });
    const [next] = await sql`select id from plinth.audit_log where seq = 4`;
    // The inserted row hashes fine, but the row after it was chained to the original row 3.
    const r = await verifyAuditChain(sql);
    expect(r.ok).toBe(false);
    expect([Number(next!.id)]).toContain((r as { first_bad_id: number }).first_bad_id);
  });

  test("the verify endpoint answers the break in the documented shape", async () => {
    const t = await adminApp();
    await seed(t.sql, 3);
    await behindTheBack(t.sql, (tx) => tx`update plinth.audit_log set action = 'x' where seq = 2`);
    const [victim] = await t.sql`select id from plinth.audit_log where seq = 2`;
    const r = await t.call("GET", "/audit/verify", undefined, { token: t.keys.service_role });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: false, first_bad_id: Number(victim!.id), reason: "hash_mismatch" });
    // The verify call itself is on record, flagged.
    const [call] = await t.sql`select security from plinth.audit_log where action = 'audit.verify' order by id desc limit 1`;
    expect(call!.security).toBe(true);
  });
});

describe("append-only still holds", () => {
  test("UPDATE, DELETE and TRUNCATE are refused; the prune function refuses a range that is not the oldest archived prefix", async () => {
    const { db } = await freshDatabase();
    const sql = db.sql;
    await seed(sql, 3);
    await expect(sql`update plinth.audit_log set target = 'x'`).rejects.toThrow(/append-only/);
    await expect(sql`delete from plinth.audit_log`).rejects.toThrow(/append-only/);
    await expect(sql`truncate plinth.audit_log`).rejects.toThrow(/append-only/);
    // Setting the guard by hand is not enough: there is no archive covering the rows.
    await expect(
      sql.begin(async (tx) => {
        await tx`select set_config('plinth.audit_prune_through', '3', true)`;
        await tx`delete from plinth.audit_log where seq <= 3`;
      }),
    ).rejects.toThrow(/append-only/);
    const [r2] = await sql`select hash, prev_hash from plinth.audit_log where seq = 2`;
    const [r1] = await sql`select prev_hash from plinth.audit_log where seq = 1`;
    // Not starting at the oldest row.
    await expect(sql`select plinth.audit_prune(2, 2, ${r2!.prev_hash}, ${r2!.hash}, 1, 'local:x', 'y')`).rejects.toThrow(/oldest live row/);
    // A wrong last hash.
    await expect(sql`select plinth.audit_prune(1, 2, ${r1!.prev_hash}, ${"0".repeat(64)}, 2, 'local:x', 'y')`).rejects.toThrow(/does not end/);
    expect(Number((await sql`select count(*) from plinth.audit_log`)[0]!.count)).toBe(3);
    expect(await verifyAuditChain(sql)).toMatchObject({ ok: true, checked: 3 });
  });

  test("the API roles and the console role cannot read or write the chain's tables", async () => {
    const { db } = await freshDatabase();
    for (const role of ["anon", "authenticated", "service_role", "plinth_console"]) {
      const [p] = await db.sql`
        select has_table_privilege(${role}, 'plinth.audit_chain_head', 'select,update') as head,
               has_table_privilege(${role}, 'plinth.audit_archives', 'select,insert,delete') as archives,
               has_function_privilege(${role}, 'plinth.audit_prune(bigint,bigint,text,text,bigint,text,text)', 'execute') as prune`;
      expect(p).toEqual({ head: false, archives: false, prune: false });
    }
  });
});

describe("the migration", () => {
  test("rows written before 0015 are chained by it, in id order, and verify", async () => {
    const { db } = await freshDatabase({ migrated: false });
    const sql = db.sql;
    for (const m of systemMigrations.filter((m) => m.version < 15)) await sql.unsafe(m.sql);
    for (let i = 0; i < 5; i++) {
      await sql`insert into plinth.audit_log (actor_role, actor_kind, action, outcome, status, duration_ms, at)
                values ('cli', 'cli', ${`old.${i}`}, 'ok', 0, ${i / 7}, now() - ${`${10 - i} days`}::interval)`;
    }
    const m15 = systemMigrations.find((m) => m.version === 15)!;
    await sql.begin((tx) => tx.unsafe(m15.sql));
    const rows = await sql`select action, seq from plinth.audit_log order by id`;
    expect(rows.map((r) => Number(r.seq))).toEqual([1, 2, 3, 4, 5]);
    await seed(sql, 2);
    expect(await verifyAuditChain(sql)).toMatchObject({ ok: true, checked: 7 });
    // Applying it again changes nothing.
    await sql.begin((tx) => tx.unsafe(m15.sql));
    expect(await verifyAuditChain(sql)).toMatchObject({ ok: true, checked: 7 });
  });
});
