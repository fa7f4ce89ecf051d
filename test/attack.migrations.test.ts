// Attacks on migration plans and approvals: SQL written to slip a destructive or security change past
// the plan (case and quoting, CTEs, PREPARE, EXPLAIN ANALYZE, DO blocks, views that bypass RLS,
// default privileges, definer functions), strings that only look dangerous (must not be flagged),
// approvals forged through the API roles or reused for another version, and hostile input on the
// approval endpoint. Each must keep failing to do harm.
import { describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyMigrations } from "../src/admin/migrations/apply.ts";
import { ApprovalError, approveMigration } from "../src/admin/migrations/approvals.ts";
import { planFile } from "../src/admin/migrations/plan.ts";
import { checksum } from "../src/db/migrations/system.ts";
import { adminApp, type CallOptions } from "./support/admin.ts";

const dir = await mkdtemp(join(tmpdir(), "plinth-attack-migrations-"));
const t = await adminApp({ env: "production", admin: { requireMfa: false }, migrationsDir: dir });
const sql = t.sql;
const service: CallOptions = { token: t.keys.service_role, apikey: t.keys.anon };
const opts = { exposedSchemas: ["public"] };

await sql.unsafe(`
  create table public.victim (id int primary key); insert into public.victim select generate_series(1, 10);
  alter table public.victim enable row level security;
  create policy p on public.victim for select to authenticated using (id > 5);
`);

const plan = (text: string) => planFile(sql, { version: "20250101000000", name: "x", path: "/tmp/x.up.sql", text, checksum: checksum(text) }, opts);

describe("SQL that tries to slip past the plan is caught", () => {
  const cases: [string, "destructive" | "security"][] = [
    [`/* tidy up */ DrOp TaBlE "public"."victim"`, "destructive"],
    ["select 1; drop table public.victim", "destructive"],
    ["with gone as (delete from public.victim returning 1) select count(*) from gone", "destructive"],
    ["update public.victim set id = id where true", "destructive"],
    ["prepare p as delete from public.victim", "destructive"],
    ["explain analyze delete from public.victim", "destructive"],
    ["truncate public.victim cascade", "destructive"],
    ["drop schema public cascade", "destructive"],
    ["do $$ begin execute 'drop table public.victim'; end $$", "destructive"],
    ["do $$ begin execute format('drop table %I', 'victim'); end $$", "security"],
    ["do language plpython3u $$ import os $$", "security"],
    ["create view public.leak as select * from auth.users", "security"],
    ["create materialized view public.leak2 as select id from public.victim", "security"],
    ["alter table public.victim disable row level security", "security"],
    ["alter table public.victim no force row level security", "security"],
    ["grant all on all tables in schema public to anon", "security"],
    ["grant select on public.victim to public", "security"],
    ["alter default privileges in schema public grant select on tables to anon", "security"],
    ["create policy open on public.victim for select to anon using (1 = 1)", "security"],
    ["alter policy p on public.victim to anon", "security"],
    ['drop policy "p" on public.victim', "security"],
    ["create function public.f() returns void language sql security definer as $$ delete from public.victim $$", "security"],
    ["create table public.t2 (id int); alter table public.t2 enable row level security; alter table public.t2 disable row level security", "security"],
    ["create table t3 (id int)", "security"],
    ["select pg_read_file('/etc/passwd')", "security"],
    ["set session_replication_role = replica", "security"],
    ["alter role authenticated bypassrls", "security"],
    ["grant service_role to authenticated", "security"],
  ];
  for (const [text, kind] of cases) {
    test(`${kind}: ${text}`, async () => {
      const p = await plan(text);
      expect(p.findings.some((f) => f.kind === kind)).toBe(true);
      expect(p.needsApproval).toBe(true);
    });
  }

  test("strings, comments and safe look-alikes are not findings", async () => {
    for (const text of [
      "select $x$ ; drop table public.victim; $x$",
      "select 'drop table public.victim'",
      "-- drop table public.victim\nselect 1",
      "create view public.safe_view with (security_invoker = true) as select id from public.victim",
      "create view private_v as select 1",
      "delete from public.victim where id = 3",
      "grant select on public.victim to service_role",
      "create function public.g() returns int language sql security definer set search_path = '' as $$ select 1 $$",
    ]) {
      const p = await plan(text.startsWith("create view private_v") ? "create schema if not exists private; create view private.v as select 1" : text);
      expect({ text, findings: p.findings.filter((f) => f.kind !== "locking").map((f) => f.message) }).toEqual({ text, findings: [] });
    }
  });

  test("a plan never runs the migration (even its dangerous statements)", async () => {
    await plan("drop table public.victim; delete from public.victim; truncate public.victim");
    expect((await sql`select count(*)::int as n from public.victim`)[0]!.n).toBe(10);
  });
});

describe("approvals cannot be forged or reused", () => {
  test("the API roles and the SQL console's role cannot write or read approvals", async () => {
    for (const role of ["anon", "authenticated", "service_role", "plinth_console"]) {
      const code = await sql
        .begin(async (tx) => {
          await tx.unsafe(`set local role ${role}`);
          await tx`insert into plinth.migration_approvals (version, name, checksum, approved_by, verdict) values ('20250101000000', 'x', 'x', 'me', 'x')`;
          return "written";
        })
        .catch((e) => (e as { code?: string }).code);
      expect({ role, code }).toEqual({ role, code: "42501" });
    }
  });

  test("an approval covers one version and one checksum: a copy of the approved file under another version is refused", async () => {
    const body = "drop table public.victim;\n";
    await writeFile(join(dir, "20250101000001_drop.up.sql"), body);
    await writeFile(join(dir, "20250101000002_drop_again.up.sql"), body);
    await approveMigration(sql, dir, { version: "20250101000001", by: "test", adminId: null, note: null }, opts);
    const err = await applyMigrations(sql, dir, { production: true, plan: opts }).catch((e) => e);
    expect(err).toBeInstanceOf(ApprovalError);
    expect((err as ApprovalError).plans.map((p) => p.version)).toEqual(["20250101000002"]);
    expect((await sql`select to_regclass('public.victim') is not null as e`)[0]!.e).toBe(true);
    await rm(join(dir, "20250101000001_drop.up.sql"));
    await rm(join(dir, "20250101000002_drop_again.up.sql"));
  });

  test("hostile input on the approval endpoint: a clear 400, nothing recorded", async () => {
    await writeFile(join(dir, "20250101000003_ok.up.sql"), "drop table public.victim;\n");
    for (const [path, body] of [
      ["/migrations/..%2F..%2Fetc%2Fpasswd/approve", {}],
      ["/migrations/20250101000003'--/approve", {}],
      ["/migrations/20250101000003/approve", { note: "a\u0000b" }],
      ["/migrations/20250101000003/approve", { note: "x".repeat(5000) }],
      ["/migrations/20250101000003/approve", { note: "ok", by: "someone-else" }],
      ["/migrations/20250101000003/approve", [1, 2]],
    ] as const) {
      const r = await t.call("POST", path, body, service);
      expect({ path, status: r.status }).toEqual({ path, status: 400 });
      expect(typeof r.body.code).toBe("string");
    }
    const bad = await t.app.fetch(
      new Request("http://localhost/admin/v1/migrations/20250101000003/approve", {
        method: "POST",
        headers: { apikey: t.keys.anon, authorization: `Bearer ${t.keys.service_role}`, "content-type": "application/json" },
        body: "{not json",
      }),
    );
    expect(bad.status).toBe(400);
    expect((await sql`select count(*)::int as n from plinth.migration_approvals where version = '20250101000003'`)[0]!.n).toBe(0);
    await rm(join(dir, "20250101000003_ok.up.sql"));
  });

  test("a forged end-user JWT with role service_role but the wrong secret gets nothing", async () => {
    const { signJwt } = await import("../src/lib/jwt.ts");
    const forged = await signJwt({ role: "service_role", exp: Math.floor(Date.now() / 1000) + 60 }, "not-the-secret-not-the-secret-not-the-secret");
    const r = await t.call("POST", "/migrations/apply", {}, { token: forged, apikey: t.keys.anon });
    expect(r.status).toBe(401);
  });
});
