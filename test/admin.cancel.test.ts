// Long admin operations stop on the server when their caller gives up: a real server (Bun.serve,
// src/server.ts) whose client drops `POST /admin/v1/sql` or `/migrations/apply|revert` mid-statement.
// Each test waits until PostgreSQL shows the statement running (no timing luck), drops the request,
// and then asserts within 2 s that pg_stat_activity no longer shows it and that nothing its
// transaction wrote is there; the console's connections and the migration lock are left clean, and
// the call is audited once. In-process (the request still there to answer), the same cancellation
// comes back in the admin API's error shape: 57014 for SQL, 409 migration_cancelled for migrations.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { USER_MIGRATION_LOCK } from "../src/db/migrations/user.ts";
import { adminApp } from "./support/admin.ts";
import { startTestServer } from "./support/server.ts";

const dir = mkdtempSync(join(tmpdir(), "plinth-cancel-migrations-"));
const file = (name: string, text: string) => writeFileSync(join(dir, name), text);
file("20260301000000_first.up.sql", "create table public.cancel_first (id int);\n");
// The down file sleeps after its drop: a revert cancelled mid-way must leave the table there.
file("20260301000000_first.down.sql", "drop table public.cancel_first;\nselect pg_sleep(20);\n");
file("20260302000000_slow.up.sql", "create table public.cancel_half (id int);\ninsert into public.cancel_half values (1);\nselect pg_sleep(20);\n");
file("20260302000000_slow.down.sql", "drop table public.cancel_half;\n");
file("20260303000000_third.up.sql", "create table public.cancel_third (id int);\n");
file("20260303000000_third.down.sql", "drop table public.cancel_third;\n");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const srv = await startTestServer({ migrationsDir: dir });
const sql = srv.database.db.sql;
// A second node on the same database, called in-process: its answers reach the caller even when cancelled.
const local = await adminApp({ migrationsDir: dir }, srv.database);
await sql`create table public.cancel_probe (id int primary key, note text)`;

const headers = { "content-type": "application/json", apikey: srv.keys.service_role, authorization: `Bearer ${srv.keys.service_role}` };

/** Starts a request over HTTP and returns its controller and the settled outcome (a drop rejects). */
function start(path: string, body: unknown) {
  const ctrl = new AbortController();
  const done = fetch(`${srv.url}/admin/v1${path}`, { method: "POST", headers, body: JSON.stringify(body), signal: ctrl.signal }).then(
    (r) => ({ dropped: false, status: r.status }),
    () => ({ dropped: true, status: 0 }),
  );
  return { ctrl, done };
}

/**
 * The backends in pg_sleep right now. By wait event, not query text: the console runs a SELECT as
 * DECLARE … CURSOR and then FETCH, so the text PostgreSQL shows while it sleeps is the FETCH. The
 * argument only documents which test's sleep is meant (the tests run one after another).
 */
async function running(_which: string): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from pg_stat_activity
     where state = 'active' and wait_event = 'PgSleep' and pid <> pg_backend_pid()`;
  return row!.n;
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await Bun.sleep(20);
  }
  return performance.now() - started;
}

const exists = async (table: string) => (await sql<{ r: string | null }[]>`select to_regclass(${table})::text as r`)[0]!.r !== null;
const applied = async () => (await sql<{ version: string }[]>`select version from plinth.user_migrations order by version`).map((r) => r.version);
const auditOf = async (action: string) =>
  sql<{ error_code: string | null; status: number }[]>`select error_code, status from plinth.audit_log where action = ${action} order by id`;

describe("POST /admin/v1/sql: a dropped request cancels its statement", () => {
  test("insert; pg_sleep(30): dropped while sleeping, gone from pg_stat_activity within 2 s, the insert rolled back", async () => {
    const before = (await auditOf("sql.run")).length;
    const { ctrl, done } = start("/sql", { query: "insert into public.cancel_probe values (1, 'half'); select pg_sleep(30)" });
    await until(async () => (await running("pg_sleep(30)")) === 1, 5000, "the statement to start");
    ctrl.abort();
    expect((await done).dropped).toBe(true);
    const took = await until(async () => (await running("pg_sleep(30)")) === 0, 2000, "the statement to stop");
    expect(took).toBeLessThan(2000);
    expect((await sql`select count(*)::int as n from public.cancel_probe`)[0]!.n).toBe(0);
    // Audited once, as PostgreSQL's cancellation.
    await until(async () => (await auditOf("sql.run")).length === before + 1, 2000, "the audit record");
    expect((await auditOf("sql.run")).at(-1)).toEqual({ error_code: "57014", status: 400 });
    // The console's connections went back clean: no transaction left open, and the next runs work.
    expect((await sql`select count(*)::int as n from pg_stat_activity where usename = 'plinth_console' and state like 'idle in transaction%'`)[0]!.n).toBe(0);
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${srv.url}/admin/v1/sql`, {
        method: "POST",
        headers,
        body: JSON.stringify({ query: "insert into public.cancel_probe values ($1, 'ok') returning id", params: [i + 10] }),
      });
      expect(r.status).toBe(200);
    }
    expect((await sql`select count(*)::int as n from public.cancel_probe`)[0]!.n).toBe(3);
  });

  test("a single statement outside a transaction (a plain SELECT through the cursor) is cancelled too", async () => {
    const { ctrl, done } = start("/sql", { query: "select pg_sleep(29), 1 as x" });
    await until(async () => (await running("pg_sleep(29)")) === 1, 5000, "the statement to start");
    ctrl.abort();
    await done;
    await until(async () => (await running("pg_sleep(29)")) === 0, 2000, "the statement to stop");
  });

  test("in-process, with the request still there: 400 in the admin shape, code 57014, the statement's index", async () => {
    const ctrl = new AbortController();
    const answer = local.app.fetch(
      new Request("http://localhost/admin/v1/sql", {
        method: "POST",
        headers,
        body: JSON.stringify({ query: "insert into public.cancel_probe values (100, 'half'); select pg_sleep(28)" }),
        signal: ctrl.signal,
      }),
      { requestIP: () => ({ address: "127.0.0.1", family: "IPv4", port: 1 }) },
    );
    await until(async () => (await running("pg_sleep(28)")) === 1, 5000, "the statement to start");
    ctrl.abort();
    const res = await answer;
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ code: "57014", message: "canceling statement due to user request", details: { statement_index: 1 } });
    expect((await sql`select count(*)::int as n from public.cancel_probe where id = 100`)[0]!.n).toBe(0);
  });

  test("a request dropped before it reaches the database runs nothing", async () => {
    const ctrl = new AbortController();
    ctrl.abort();
    const res = await local.app.fetch(
      new Request("http://localhost/admin/v1/sql", {
        method: "POST",
        headers,
        body: JSON.stringify({ query: "insert into public.cancel_probe values (101, 'never')" }),
        signal: ctrl.signal,
      }),
      { requestIP: () => ({ address: "127.0.0.1", family: "IPv4", port: 1 }) },
    );
    expect(res.status).toBe(400);
    expect((await res.json()).code).toBe("57014");
    expect((await sql`select count(*)::int as n from public.cancel_probe where id = 101`)[0]!.n).toBe(0);
  });
});

describe("POST /admin/v1/migrations/apply and /revert: a dropped request cancels the running migration", () => {
  test("apply: the first is applied, the sleeping one is cancelled and rolled back (still pending), the third never starts", async () => {
    const before = (await auditOf("migrations.apply")).length;
    const { ctrl, done } = start("/migrations/apply", {});
    await until(async () => (await running("pg_sleep(20)")) === 1, 5000, "the slow migration to start");
    ctrl.abort();
    expect((await done).dropped).toBe(true);
    await until(async () => (await running("pg_sleep(20)")) === 0, 2000, "the migration to stop");
    // Status waits for the migration lock, so it answers once the run has ended.
    const status = await fetch(`${srv.url}/admin/v1/migrations`, { headers });
    const body = (await status.json()) as { migrations: { version: string; applied: boolean }[]; applied: number; pending: number };
    expect(body.migrations.map((m) => [m.version, m.applied])).toEqual([
      ["20260301000000", true],
      ["20260302000000", false],
      ["20260303000000", false],
    ]);
    expect(await applied()).toEqual(["20260301000000"]);
    expect(await exists("public.cancel_first")).toBe(true);
    expect(await exists("public.cancel_half")).toBe(false); // nothing half-written
    expect(await exists("public.cancel_third")).toBe(false);
    // The lock is free again (held by nobody: this session can take it at once).
    const conn = await sql.reserve();
    try {
      expect((await conn`select pg_try_advisory_lock(${USER_MIGRATION_LOCK}) as ok`)[0]!.ok).toBe(true);
      await conn`select pg_advisory_unlock(${USER_MIGRATION_LOCK})`;
    } finally {
      conn.release();
    }
    const audit = await auditOf("migrations.apply");
    expect(audit.length).toBe(before + 1);
    expect(audit.at(-1)).toEqual({ error_code: "migration_cancelled", status: 409 });
    // The log has the first one's up and nothing else.
    expect((await sql`select version, direction from plinth.user_migration_log order by id`).map((r) => `${r.version} ${r.direction}`)).toEqual([
      "20260301000000 up",
    ]);
  });

  test("apply {to}, in-process with the request still there: 409 migration_cancelled naming the version, sqlstate 57014", async () => {
    const ctrl = new AbortController();
    const answer = local.app.fetch(
      new Request("http://localhost/admin/v1/migrations/apply", {
        method: "POST",
        headers,
        body: JSON.stringify({ to: "20260302000000" }),
        signal: ctrl.signal,
      }),
      { requestIP: () => ({ address: "127.0.0.1", family: "IPv4", port: 1 }) },
    );
    await until(async () => (await running("pg_sleep(20)")) === 1, 5000, "the slow migration to start");
    ctrl.abort();
    const res = await answer;
    expect(res.status).toBe(409);
    const body = await res.json();
    expect(body.code).toBe("migration_cancelled");
    expect(body.message).toContain("20260302000000_slow was stopped and rolled back");
    expect(body.details).toEqual({ version: "20260302000000", name: "slow", direction: "up", rolled_back: true, sqlstate: "57014" });
    expect(await applied()).toEqual(["20260301000000"]);
    expect(await exists("public.cancel_half")).toBe(false);
  });

  test("revert: the down file is cancelled mid-way and rolled back; the migration stays applied, its table stays", async () => {
    const { ctrl, done } = start("/migrations/revert", { steps: 1 });
    await until(async () => (await running("pg_sleep(20)")) === 1, 5000, "the down migration to start");
    ctrl.abort();
    await done;
    await until(async () => (await running("pg_sleep(20)")) === 0, 2000, "the down migration to stop");
    const status = await fetch(`${srv.url}/admin/v1/migrations`, { headers });
    expect(((await status.json()) as { applied: number }).applied).toBe(1);
    expect(await applied()).toEqual(["20260301000000"]);
    expect(await exists("public.cancel_first")).toBe(true);
  });
});
