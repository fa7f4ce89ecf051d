// Attack suite, audit log (issue 14): what a caller, an admin with the SQL console, or someone with
// the database could try against the tamper-evident log — and what must keep failing to do harm.
import { describe, expect, test } from "bun:test";
import { verifyAuditChain } from "../src/admin/audit/verify.ts";
import { adminApp, uniqueEmail } from "./support/admin.ts";
import { freshDatabase } from "./support/db.ts";

const t = await adminApp();
const svc = { token: t.keys.service_role };
const lastFor = async (action: string) => (await t.sql`select * from plinth.audit_log where action = ${action} order by id desc limit 1`)[0] as any;

describe("callers cannot write what the log says", () => {
  test("X-Forwarded-For is ignored without trustProxy: the address is the socket's", async () => {
    await t.call(
      "POST",
      "/auth/v1/token?grant_type=password",
      { email: "spoof@example.com", password: "x" },
      { apikey: t.keys.anon, ip: "192.0.2.10", headers: { "x-forwarded-for": "10.9.9.9" } },
    );
    expect(await lastFor("end_user.signin.password")).toMatchObject({ client_ip: "192.0.2.10", target: "email:spoof@example.com" });
  });

  test("a huge or control-laden identifier is clipped text, never a failure or a forged line", async () => {
    const email = `${"a".repeat(300)}\n2026-01-01 admin login ok\r@example.com`;
    const r = await t.call("POST", "/auth/v1/token?grant_type=password", { email, password: "x" }, { apikey: t.keys.anon });
    expect(r.status).toBe(400);
    const e = await lastFor("end_user.signin.password");
    expect(e.outcome).toBe("denied");
    expect(e.target.length).toBeLessThanOrEqual("email:".length + 320);
    expect(await verifyAuditChain(t.sql)).toMatchObject({ ok: true });
  });

  test("a spreadsheet formula in a caller-chosen value comes out of the CSV export inert", async () => {
    // A path parameter becomes the entry's target as typed: here a formula.
    await t.call("GET", `/tables/${encodeURIComponent('=HYPERLINK("http://evil")')}/x`, undefined, svc);
    await t.call("POST", "/auth/v1/token?grant_type=password", { email: "=cmd|' /C calc'!A0@example.com", password: "x" }, { apikey: t.keys.anon });
    const res = await t.app.fetch(
      new Request("http://localhost/admin/v1/audit/export?format=csv", { headers: { authorization: `Bearer ${t.keys.service_role}` } }),
    );
    const text = await res.text();
    expect(text).toContain(`"'=HYPERLINK(""http://evil"").x"`);
    expect(text).toContain("email:=cmd");
    // No cell of any line starts with a formula character.
    const cells = text.split("\r\n").flatMap((line) => line.match(/("([^"]|"")*"|[^,]*)(,|$)/g) ?? []);
    expect(cells.filter((c) => /^"?[=+@]/.test(c))).toEqual([]);
  });

  test("the API roles can neither write nor read the log, its chain head or its archives", async () => {
    for (const role of ["anon", "authenticated", "service_role"]) {
      const [p] = await t.sql`
        select has_table_privilege(${role}, 'plinth.audit_log', 'insert,update,delete,select') as log,
               has_table_privilege(${role}, 'plinth.audit_chain_head', 'insert,update,delete,select') as head,
               has_table_privilege(${role}, 'plinth.audit_archives', 'insert,update,delete,select') as archives`;
      expect(p).toEqual({ log: false, head: false, archives: false });
    }
  });
});

describe("an admin with the SQL console", () => {
  test("cannot move the chain head, record a fake archive, set the prune guard or call the prune", async () => {
    const attempts = [
      "update plinth.audit_chain_head set seq = 0",
      "insert into plinth.audit_archives (first_seq, last_seq, first_prev_hash, last_hash, row_count, location, file_sha256) values (1, 1000000, 'x', 'y', 1, 'local:x', 'z')",
      "select plinth.audit_prune(1, 2, 'a', 'b', 2, 'local:x', 'y')",
      "select set_config('plinth.audit_prune_through', '999999999', false); delete from plinth.audit_log",
      "alter table plinth.audit_log disable trigger audit_log_chain",
    ];
    const before = (await t.sql`select seq, hash from plinth.audit_chain_head`)[0];
    for (const query of attempts) {
      const r = await t.call("POST", "/sql", { query, confirm: true }, svc);
      expect({ query, refused: r.status >= 400 }).toEqual({ query, refused: true });
    }
    const after = (await t.sql`select seq, hash from plinth.audit_chain_head`)[0];
    // Only audit rows (of the refused calls) were added; the head moved forward, never back.
    expect(Number(after!.seq)).toBeGreaterThan(Number(before!.seq));
    expect((await t.sql`select count(*)::int as n from plinth.audit_archives`)[0]!.n).toBe(0);
    expect(await verifyAuditChain(t.sql)).toMatchObject({ ok: true });
  });

  test("a moderator may read its own entries but neither export nor verify the log", async () => {
    const email = uniqueEmail("mod");
    await t.makeAdmin(email, "moderator");
    const token = await t.login(email);
    expect((await t.call("GET", "/audit?limit=5", undefined, { token })).status).toBe(200);
    expect((await t.call("GET", "/audit/export", undefined, { token })).status).toBe(403);
    expect((await t.call("GET", "/audit/verify", undefined, { token })).status).toBe(403);
    // Its filters cannot widen the view to other admins' entries.
    const r = await t.call("GET", "/audit?actor=cli&limit=100", undefined, { token });
    expect(r.body.every((e: any) => e.actor.admin?.email === email)).toBe(true);
  });
});

describe("someone with the database", () => {
  test("deleting the chain head does not silence auth: sign-ins still answer, the lost entries are logged, verify reports it", async () => {
    const fresh = await freshDatabase();
    const db = fresh.db;
    const node = await adminApp({}, fresh);
    await db.sql.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`delete from plinth.audit_chain_head`;
    });
    const r = await node.call("POST", "/auth/v1/token?grant_type=password", { email: "x@example.com", password: "y" }, { apikey: node.keys.anon });
    expect(r.status).toBe(400); // the flow's own answer, not a 500
    expect(await verifyAuditChain(db.sql)).toMatchObject({ ok: false, reason: "head_mismatch" });
  });

  test("replaying a row's exact content with a new id is found (id is part of the hash)", async () => {
    const { db } = await freshDatabase();
    await db.sql`insert into plinth.audit_log (actor_role, actor_kind, action, outcome, status, duration_ms) values ('cli', 'cli', 'a', 'ok', 0, 1)`;
    await db.sql`insert into plinth.audit_log (actor_role, actor_kind, action, outcome, status, duration_ms) values ('cli', 'cli', 'b', 'ok', 0, 1)`;
    await db.sql.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`create temporary table replay on commit drop as select * from plinth.audit_log where seq = 2`;
      await tx`update replay set id = id + 100`;
      await tx`delete from plinth.audit_log where seq = 2`;
      await tx`insert into plinth.audit_log overriding system value select * from replay`;
    });
    expect(await verifyAuditChain(db.sql)).toMatchObject({ ok: false, reason: "hash_mismatch", first_bad_seq: 2 });
  });

  test("rewinding the clock on a row (at) is found", async () => {
    const { db } = await freshDatabase();
    await db.sql`insert into plinth.audit_log (actor_role, actor_kind, action, outcome, status, duration_ms) values ('cli', 'cli', 'a', 'ok', 0, 1)`;
    await db.sql.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`update plinth.audit_log set at = at - interval '1 microsecond'`;
    });
    expect(await verifyAuditChain(db.sql)).toMatchObject({ ok: false, reason: "hash_mismatch" });
  });
});
