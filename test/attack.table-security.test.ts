// Attacks on table security settings and the simulator: queries that try to leave the rolled-back
// transaction, change role or claims, take session-level state with them, or run something other
// than one statement; functions of the database that reset the role; claims that pretend to be
// service_role; injection in table, column, membership and role names (the SQL, the policies and the
// migration file name); callers without the capability; oversized bodies.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { adminApp, type CallOptions } from "./support/admin.ts";
import { tokenFor } from "./support/app.ts";

const dir = mkdtempSync(join(tmpdir(), "plinth-h3-attack-"));
const t = await adminApp({ migrationsDir: dir });
const sql = t.sql;
const service: CallOptions = { token: t.keys.service_role, apikey: t.keys.anon };
const A = "aaaaaaaa-0000-4000-8000-0000000000a1";
const B = "bbbbbbbb-0000-4000-8000-0000000000b2";

await sql.unsafe(`
  create table public.secrets (id int primary key, owner_id uuid not null, body text);
  insert into public.secrets values (1, '${A}', 'a secret'), (2, '${B}', 'b secret');
  create table public.canary (id int);
  create function public.climb() returns text language plpgsql as $f$ begin reset role; return current_user; end $f$;
  create function public.climb_and_back() returns text language plpgsql as $f$
    declare r text; begin set local role postgres; r := current_user; set local role anon; return r; end $f$;
  create function public.claims_swap() returns text language plpgsql as $f$
    begin perform set_config('request.jwt.claims', '{"sub":"${B}","role":"authenticated"}', true); return 'x'; end $f$;
`);
const put = (schema: string, table: string, doc: unknown, query = "", opts = service) =>
  t.call("PUT", `/tables/${encodeURIComponent(schema)}/${encodeURIComponent(table)}/security${query}`, doc, opts);
const sim = (body: unknown, opts = service) => t.call("POST", "/security/simulate", body, opts);
expect((await put("public", "secrets", { template: "owner_only", owner_column: "owner_id" })).status).toBe(200);

describe("simulate: the query cannot leave the rollback or climb", () => {
  const refused = [
    ["two statements", "select 1; select 2"],
    ["a commit after a query", "select 1; commit"],
    ["COMMIT alone", "commit"],
    ["ROLLBACK", "rollback"],
    ["SET ROLE", "set role postgres"],
    ["RESET ROLE", "reset role"],
    ["SET SESSION AUTHORIZATION", "set session authorization postgres"],
    ["set_config of the role", "select set_config('role', 'service_role', true)"],
    ["set_config of the claims", `select set_config('request.jwt.claims', '{"role":"service_role"}', true)`],
    ["set_config schema-qualified, in a subquery", "select * from (select pg_catalog.set_config('role', 'postgres', false)) s"],
    ["a session advisory lock (outlives the rollback)", "select pg_advisory_lock(42)"],
    ["a non-transactional logical message", "select pg_logical_emit_message(false, 'p', 'x')"],
    ["signalling a backend", "select pg_terminate_backend(1)"],
    ["reading a server file", "select pg_read_file('/etc/passwd')"],
    ["SELECT INTO (creates a table)", "select * into public.stolen from public.secrets"],
    ["DDL", "create table public.x (id int)"],
    ["DO", "do $$ begin perform 1; end $$"],
    ["CALL", "call public.p()"],
    ["COPY TO PROGRAM", "copy public.secrets to program 'cat > /tmp/x'"],
    ["PREPARE", "prepare p as select 1"],
    ["LISTEN", "listen x"],
    ["EXPLAIN ANALYZE of a delete", "explain analyze delete from public.secrets"],
  ] as const;
  for (const [what, query] of refused) {
    test(`refused: ${what}`, async () => {
      const r = await sim({ as: { role: "anon" }, query });
      expect(r.status).toBe(400);
      expect(r.body.code).toBe("statement_not_allowed");
      expect(r.body.message).not.toContain("at Object");
    });
  }

  test("a data-modifying CTE and plain writes run, are answered, and leave nothing behind", async () => {
    const before = await sql`select * from public.secrets order by id`;
    const r = await sim({ as: { role: "service_role" }, query: "with d as (delete from public.secrets returning id) select count(*) as n from d" });
    expect(r.status).toBe(200);
    expect(r.body.rows).toEqual([{ n: "2" }]);
    expect((await sim({ as: { role: "service_role" }, query: "insert into public.canary values (1)" })).body.row_count).toBe(1);
    expect((await sim({ as: { role: "service_role" }, query: "update public.secrets set body = 'owned'" })).body.row_count).toBe(2);
    expect(await sql`select * from public.secrets order by id`).toEqual(before);
    expect((await sql`select count(*)::int as n from public.canary`)[0]!.n).toBe(0);
  });

  test("a database function that resets the role: the answer is withheld, and it never reaches a superuser", async () => {
    const r = await sim({ as: { role: "anon" }, query: "select public.climb() as who" });
    expect([r.status, r.body.code]).toEqual([400, "simulation_escaped"]);
    expect(JSON.stringify(r.body)).not.toContain("plinth_console");
    // Climbing to the superuser and back: the session user is the console's role, so PostgreSQL refuses.
    const back = await sim({ as: { role: "anon" }, query: "select public.climb_and_back() as who" });
    expect(back.status).toBe(200);
    expect(back.body.allowed).toBe(false);
    expect(back.body.error.code).toBe("42501");
    expect(back.body.rows).toBeUndefined();
  });

  test("a function that swaps the claims mid-query: withheld", async () => {
    const r = await sim({ as: { user_id: A }, query: "select public.claims_swap(), id from public.secrets" });
    expect([r.status, r.body.code]).toEqual([400, "simulation_escaped"]);
  });

  test("claims that pretend to be service_role stay an authenticated user", async () => {
    const r = await sim({ as: { user_id: A, claims: { role: "service_role", sub: B } }, table: "secrets", operation: "select" });
    expect(r.body.as).toEqual({ role: "authenticated", user_id: A });
    expect(r.body.rows).toEqual([{ id: 1, owner_id: A, body: "a secret" }]);
    const q = await sim({ as: { user_id: A, claims: { role: "service_role" } }, query: "select current_user as r, auth.uid() as u" });
    expect(q.body.rows).toEqual([{ r: "authenticated", u: A }]);
  });

  test("a long query is cut by the statement timeout, answered as a failure, not a hang or a 500", async () => {
    const started = Date.now();
    const r = await sim({ as: { role: "anon" }, query: "select pg_sleep(30)" });
    expect(r.status).toBe(200);
    expect(r.body.allowed).toBe(false);
    expect(r.body.error.code).toBe("57014");
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  test("session state does not survive: no advisory lock, no role, no setting on the console's connections", async () => {
    for (let i = 0; i < 3; i++) await sim({ as: { role: "anon" }, query: "select 1" });
    const locks = await sql`select count(*)::int as n from pg_locks where locktype = 'advisory'`;
    expect(locks[0]!.n).toBe(0);
  });
});

describe("injection in names", () => {
  test("a table whose name carries SQL is quoted everywhere; the migration file name stays in the directory", async () => {
    const evil = `x"; drop table public.canary; --`;
    await sql.unsafe(`create table public."x""; drop table public.canary; --" (id int primary key, "own""er" uuid)`);
    const r = await put("public", evil, { template: "owner_only", owner_column: `own"er` });
    expect(r.status).toBe(200);
    expect((await sql`select to_regclass('public.canary') as c`)[0]!.c).not.toBeNull();
    expect(r.body.up.some((s: string) => s.includes(`"own""er" = (select auth.uid())`))).toBe(true);
    expect(readdirSync(dir).every((f) => /^\d{14}_[a-z0-9_]+\.(up|down)\.sql$/.test(f))).toBe(true);

    await sql.unsafe(`create table public."../../escape" (id int primary key)`);
    const esc = await put("public", "../../escape", { template: "admin_only" });
    expect(esc.status).toBe(200);
    expect(existsSync(esc.body.migration.up_file)).toBe(true);
    expect(esc.body.migration.up_file.startsWith(dir)).toBe(true);
  });

  test("owner column, membership table and columns, roles and policies with SQL in them are refused as unknown", async () => {
    const owner = await put("public", "secrets", { template: "owner_only", owner_column: "owner_id = owner_id or true --" });
    expect(owner.body.code).toBe("unknown_column");
    const team = await put("public", "secrets", {
      template: "team",
      team: { column: "id", membership: { table: "public.secrets; drop table public.canary", team_column: "id", user_column: "owner_id" } },
    });
    expect(team.body.code).toBe("membership_table_not_found");
    const col = await put("public", "secrets", {
      template: "team",
      team: { column: "id", membership: { table: "public.secrets", team_column: "id) or (true", user_column: "owner_id" } },
    });
    expect(col.body.code).toBe("membership_column_missing");
    expect((await put("public", "secrets", { template: "owner_only", owner_column: "owner_id", columns: { body: { read: ["anon); drop"] } } })).body.code).toBe(
      "unknown_role",
    );
    expect((await put("public", "secrets", { template: "admin_only", replace_policies: [`x" on public.canary; --`] })).body.code).toBe("unknown_policy");
    expect((await put("public", "secrets", { template: "admin_only", owner_column: "a\u0000b" })).status).toBe(400);
    expect((await sql`select to_regclass('public.canary') as c`)[0]!.c).not.toBeNull();
  });

  test("simulate: a table name with SQL in it is a name, not SQL", async () => {
    const r = await sim({ as: { role: "service_role" }, table: "public.secrets; delete from public.secrets", operation: "select" });
    expect([r.status, r.body.code]).toEqual([400, "validation_failed"]);
    const row = await sim({ as: { user_id: A }, table: "secrets", operation: "insert", row: { 'id", owner_id) values (9, null); --': 1 } });
    expect(row.status).toBe(400);
    expect((await sql`select count(*)::int as n from public.secrets`)[0]!.n).toBe(2);
  });
});

describe("grants the change could not undo", () => {
  test("a grant to anon made by another role with GRANT OPTION (which the owner's REVOKE leaves alone) refuses the change", async () => {
    const grantor = `h3_grantor_${Math.random().toString(36).slice(2, 8)}`;
    await sql.unsafe(`create table public.shared (id int primary key, owner_id uuid)`);
    await sql.unsafe(`create role ${grantor} nologin; grant select on public.shared to ${grantor} with grant option`);
    await sql.unsafe(`set role ${grantor}; grant select on public.shared to anon; reset role`);
    try {
      const r = await put("public", "shared", { template: "owner_only", owner_column: "owner_id" }, "?dry_run=true");
      expect([r.status, r.body.code]).toEqual([409, "grant_by_other_grantor"]);
      expect(r.body.details.errors[0].grant).toBe("SELECT on public.shared to anon");
      expect(r.body.message).toContain(grantor);
    } finally {
      await sql.unsafe(`drop table public.shared; drop role ${grantor}`);
    }
  });
});

describe("callers and bodies", () => {
  test("no key, the anon key and a user's JWT cannot read, change or simulate", async () => {
    const user: CallOptions = { token: await tokenFor({ sub: A, role: "authenticated" }), apikey: t.keys.anon };
    for (const opts of [{}, { apikey: t.keys.anon }, user] as CallOptions[]) {
      expect([401, 403]).toContain((await put("public", "secrets", { template: "public_read_owner_write", owner_column: "owner_id" }, "", opts)).status);
      expect([401, 403]).toContain((await sim({ as: { role: "service_role" }, query: "select * from public.secrets" }, opts)).status);
      expect([401, 403]).toContain((await t.call("GET", "/tables/public/secrets/security", undefined, opts)).status);
    }
    expect((await sql`select document->>'template' as t from plinth.table_security where table_name = 'secrets'`)[0]!.t).toBe("owner_only");
  });

  test("oversized and hostile bodies are clean 4xx answers", async () => {
    const huge = {
      template: "owner_only",
      owner_column: "owner_id",
      columns: Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`c${i}`, { read: ["anon"] }])),
    };
    const r = await put("public", "secrets", huge, "?dry_run=true");
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    const q = await sim({ as: { role: "anon" }, query: "x".repeat(200_000) });
    expect(q.status).toBe(400);
    expect((await put("public", "secrets", [1, 2, 3])).status).toBe(400);
    expect((await put("public", "secrets", { template: "owner_only", owner_column: 42 })).status).toBe(400);
  });
});
