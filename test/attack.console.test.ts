// Attack suite, SQL console (issue 11 items 11 and 12): what a holder of the service_role key could
// do through POST /admin/v1/sql when the console ran as the PostgreSQL superuser with a text-level
// guard. Each statement of the issue is sent as written; each must now be refused (403 whatever is
// confirmed, or 409 until confirmed) and leave the data as it was. Where the guard cannot see a
// statement (dynamic SQL in a DO block, confirmed), the console's role must still lack the power.
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { adminClient } from "./support/meta.ts";
import { startTestServer } from "./support/server.ts";

const ts = await startTestServer();
const call = adminClient(ts);
const sql = (query: string, extra: Record<string, unknown> = {}) => call("POST", "/sql", { query, ...extra });
/** The server's own (superuser) connection, to look at the database behind the console's back. */
const owner = ts.database.db.sql;
const victims = async () => (await owner`select count(*)::int as n, count(note)::int as notes from public.victims`)[0]!;

beforeAll(async () => {
  const r = await sql(
    `create table public.victims (id int primary key, note text);
     insert into victims select g, 'row ' || g from generate_series(1, 20) g;
     alter table victims enable row level security;
     revoke all on victims from anon, authenticated;
     create table public.sources (id int primary key);
     insert into sources select generate_series(1, 20);`,
  );
  expect(r.status).toBe(200);
});

/** Expects a 409 naming `kind`, and that nothing ran. */
async function needsConfirm(query: string, kind: string) {
  const r = await sql(query);
  expect(r.status).toBe(409);
  expect(r.body.code).toBe("dangerous_statement");
  expect(r.body.details.map((d: { kind: string }) => d.kind)).toContain(kind);
  return r;
}

describe("issue 11: statements that ran without confirm now need it", () => {
  test("delete … where id = id: every row by its plan", async () => {
    const r = await needsConfirm("delete from victims where id = id", "delete_every_row");
    expect(r.body.details[0].impact).toEqual({ rows: 20, exact: true });
    expect((await victims()).n).toBe(20);
  });

  test("update … where id is not null", async () => {
    await needsConfirm("update victims set note = null where id is not null", "update_every_row");
    expect((await victims()).notes).toBe(20);
  });

  test("merge … when matched then delete", async () => {
    await needsConfirm("merge into victims v using sources s on v.id = s.id when matched then delete", "merge_every_row");
    await needsConfirm("merge into victims v using (select 1) s on true when matched then delete", "merge_every_row");
    expect((await victims()).n).toBe(20);
  });

  test("alter table … disable row level security", async () => {
    await needsConfirm("alter table victims disable row level security", "disable_rls");
    expect((await owner`select relrowsecurity from pg_class where oid = 'public.victims'::regclass`)[0]!.relrowsecurity).toBe(true);
  });

  test("grant all … to anon", async () => {
    await needsConfirm("grant all on victims to anon", "grant_api_role");
    expect((await owner`select has_table_privilege('anon', 'public.victims', 'SELECT') as p`)[0]!.p).toBe(false);
  });

  test("create policy … using (true)", async () => {
    await needsConfirm("create policy open_all on victims for select to anon using (true)", "permissive_policy");
    expect((await owner`select count(*)::int as n from pg_policies where tablename = 'victims'`)[0]!.n).toBe(0);
  });

  test("alter role anon bypassrls: needs confirm, and the console's role cannot do it even then", async () => {
    await needsConfirm("alter role anon bypassrls", "role_attribute");
    const confirmed = await sql("alter role anon bypassrls", { confirm: true });
    expect(confirmed).toMatchObject({ status: 400, body: { code: "42501" } });
    expect((await owner`select rolbypassrls from pg_roles where rolname = 'anon'`)[0]!.rolbypassrls).toBe(false);
  });

  test("the same writes hidden in a CTE, EXPLAIN ANALYZE, PREPARE or a DO block", async () => {
    await needsConfirm("with d as (delete from victims where id = id returning *) select count(*) from d", "delete_every_row");
    await needsConfirm("explain analyze delete from victims where id = id", "delete_every_row");
    await needsConfirm("prepare wipe as delete from victims where id = id", "delete_every_row");
    await needsConfirm("do $$ begin update victims set note = null where note = note; end $$", "update_every_row");
    expect(await victims()).toEqual({ n: 20, notes: 20 });
  });

  test("a write the guard cannot plan before the batch runs (a table renamed in the batch) needs confirm", async () => {
    await needsConfirm("alter table victims rename to renamed; delete from renamed where id = id", "write_unplanned");
    expect((await victims()).n).toBe(20);
  });

  test("ordinary writes still run without confirm", async () => {
    const r = await sql("update victims set note = 'first' where id = 1; delete from sources where id = 20");
    expect(r.status).toBe(200);
    expect(r.body.results.map((x: { row_count: number }) => x.row_count)).toEqual([1, 1]);
  });
});

describe("issue 11: refused outright — with or without read_only, and with confirm", () => {
  const scratch = `/tmp/plinth-attack-${crypto.randomUUID()}`;
  const refused: [string, string][] = [
    ["select pg_read_file('/etc/passwd')", "server_file_access"],
    ["select * from pg_ls_dir('/')", "server_file_access"],
    [`copy victims to '${scratch}'`, "server_file_access"],
    ["copy victims from program 'id'", "server_file_access"],
    ["select lo_import('/etc/passwd')", "server_file_access"],
    ["set session_replication_role = replica", "replication_role"],
    ["reset role", "role_change"],
    ["set role postgres", "role_change"],
  ];
  for (const [query, kind] of refused) {
    test(query, async () => {
      for (const extra of [{}, { read_only: true }, { confirm: true }, { confirm: true, read_only: true }]) {
        const r = await sql(query, extra);
        expect(r.status).toBe(403);
        expect(r.body).toMatchObject({ code: "statement_not_allowed", details: [{ statement_index: 0, kind }] });
      }
      expect(existsSync(scratch)).toBe(false);
    });
  }

  test("what the guard cannot see (computed EXECUTE, confirmed) still fails: the console's role lacks the power", async () => {
    const attempts = [
      "execute 'select pg_read_' || 'file(''/etc/passwd'')'",
      "execute 'copy victims to ' || quote_literal('" + scratch + "')",
      "execute 'copy victims from ' || 'program ''id'''",
      "execute 'select lo_' || 'import(''/etc/passwd'')'",
      "execute 'set session_replication_' || 'role = replica'",
      "execute 'set role ' || 'postgres'",
      "execute 'set session ' || 'authorization postgres'",
      "execute format('select set_config(%L, %L, true)', 'role', 'postgres')",
    ];
    for (const a of attempts) {
      const r = await sql(`do $$ begin ${a}; end $$`, { confirm: true });
      expect({ a, status: r.status, code: r.body.code }).toEqual({ a, status: 400, code: "42501" });
    }
    expect(existsSync(scratch)).toBe(false);
  });

  test("the session user is plinth_console, never a superuser, and it steps down only into API roles", async () => {
    const probe = "select session_user::text as s, current_user::text as c, current_setting('is_superuser') as su";
    const r = await sql(`${probe}; set local role service_role; ${probe}; discard plans; reset all; ${probe}`);
    expect(r.status).toBe(200);
    expect([r.body.results[0].rows, r.body.results[2].rows, r.body.results[5].rows]).toEqual([
      [{ s: "plinth_console", c: "plinth_console", su: "off" }],
      [{ s: "plinth_console", c: "service_role", su: "off" }],
      [{ s: "plinth_console", c: "service_role", su: "off" }], // RESET ALL leaves the role alone
    ]);
  });
});

describe("issue 11 item 12: the audit log cannot be emptied or altered from the console", () => {
  test("delete, truncate, update, disabling its triggers, dropping it, replica mode: refused, every row survives", async () => {
    const snapshot = async () =>
      (await owner`select count(*)::int as n, md5(string_agg(id::text || outcome || action, ',' order by id)) as h from plinth.audit_log`)[0]!;
    await call("GET", "/audit?limit=1"); // at least one row to protect
    const before = await snapshot();
    const attacks: [string, Record<string, unknown>, number][] = [
      ["set local session_replication_role = replica; delete from plinth.audit_log", {}, 403],
      ["set local session_replication_role = replica; delete from plinth.audit_log", { confirm: true }, 403],
      ["delete from plinth.audit_log", {}, 409],
      ["delete from plinth.audit_log", { confirm: true }, 400],
      ["delete from plinth.audit_log where id = id", { confirm: true }, 400],
      ["truncate plinth.audit_log", { confirm: true }, 400],
      ["update plinth.audit_log set outcome = 'ok'", { confirm: true }, 400],
      ["alter table plinth.audit_log disable trigger all", { confirm: true }, 400],
      ["drop table plinth.audit_log", { confirm: true }, 400],
      ["do $$ begin execute 'delete from plinth.' || 'audit_log'; end $$", { confirm: true }, 400],
    ];
    for (const [query, extra, status] of attacks) {
      const r = await sql(query, extra);
      expect({ query, status: r.status }).toEqual({ query, status });
      if (status === 400) expect(r.body.code).toBe("42501");
    }
    // Each attempt was itself recorded: the old rows are intact, and nothing was taken away.
    const after = await snapshot();
    expect(after.n).toBe(before.n + attacks.length);
    const kept =
      await owner`select md5(string_agg(id::text || outcome || action, ',' order by id)) as h from (select * from plinth.audit_log order by id limit ${before.n}) a`;
    expect(kept[0]!.h).toBe(before.h);
  });
});
