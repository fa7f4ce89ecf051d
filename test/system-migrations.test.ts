import { describe, expect, test } from "bun:test";
import postgres from "postgres";
import { freshDatabase } from "./support/db.ts";
import { connect } from "../src/db/pool.ts";
import { applySystemMigrations, MigrationChecksumError } from "../src/db/migrations/system.ts";
import { systemMigrations } from "../migrations/index.ts";

const raw = await freshDatabase({ migrated: false });
const sql = raw.db.sql;

describe("system migrations", () => {
  test("apply every file once, in order; applying again is a no-op", async () => {
    const first = await applySystemMigrations(sql);
    expect(first.applied).toEqual(systemMigrations.map((m) => m.version));
    const objects = async () =>
      (await sql`select (select count(*) from pg_class) + (select count(*) from pg_proc) + (select count(*) from pg_namespace) as n`)[0]!.n;
    const before = await objects();
    const second = await applySystemMigrations(sql);
    expect(second.applied).toEqual([]);
    expect(second.skipped).toEqual(first.applied);
    expect(await objects()).toBe(before);
    const rows = await sql`select version, checksum from plinth.system_migrations order by version`;
    expect(rows.map((r) => r.version)).toEqual(first.applied);
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.checksum))).toBe(true);
  });

  test("start refuses when an applied file has changed", async () => {
    const changed = systemMigrations.map((m) => (m.version === 2 ? { ...m, sql: m.sql + "\n-- edited\n" } : m));
    await expect(applySystemMigrations(sql, changed)).rejects.toBeInstanceOf(MigrationChecksumError);
  });

  test("a failing file rolls back completely and is not recorded", async () => {
    const bad = [...systemMigrations, { version: 9001, name: "broken", sql: "create table public.half_done(id int); select 1/0;" }];
    await expect(applySystemMigrations(sql, bad)).rejects.toThrow(/division by zero/);
    expect((await sql`select to_regclass('public.half_done') as t`)[0]!.t).toBeNull();
    expect((await sql`select count(*)::int as n from plinth.system_migrations where version = 9001`)[0]!.n).toBe(0);
  });

  test("two nodes starting together take turns: each file is applied exactly once", async () => {
    const other = await freshDatabase({ migrated: false });
    const a = postgres(other.url, { max: 1, onnotice: () => {} });
    const b = postgres(other.url, { max: 1, onnotice: () => {} });
    const [ra, rb] = await Promise.all([applySystemMigrations(a), applySystemMigrations(b)]);
    await Promise.all([a.end(), b.end()]);
    expect([...ra.applied, ...rb.applied].sort()).toEqual(systemMigrations.map((m) => m.version).sort());
  });
});

describe("bootstrap", () => {
  test("schemas, roles and the realtime publication exist", async () => {
    const schemas = await sql`select nspname from pg_namespace where nspname in ('auth','storage','realtime','plinth','extensions')`;
    expect(schemas.length).toBe(5);
    const roles =
      await sql`select rolname, rolbypassrls, rolcanlogin from pg_roles where rolname in ('anon','authenticated','service_role','authenticator') order by rolname`;
    expect(roles.map((r) => r.rolname)).toEqual(["anon", "authenticated", "authenticator", "service_role"]);
    expect(roles.find((r) => r.rolname === "service_role")!.rolbypassrls).toBe(true);
    expect(roles.some((r) => r.rolcanlogin)).toBe(false);
    expect((await sql`select count(*)::int as n from pg_publication where pubname = 'supabase_realtime'`)[0]!.n).toBe(1);
  });

  test("withPrincipal sets role and claims for the transaction only; auth.* helpers read them", async () => {
    const db = connect(raw.url, { max: 1 }); // one connection: proves nothing leaks to the next use
    const claims = { sub: "2b6c8a52-7a6d-4c53-9d27-6f3c1d8e9a01", role: "authenticated", email: "a@example.com" };
    const inside = await db.withPrincipal(
      { role: "authenticated", claims },
      async (tx) => (await tx`select current_user as u, auth.uid() as uid, auth.role() as role, auth.email() as email, auth.jwt()->>'sub' as jsub`)[0],
    );
    expect(inside).toEqual({ u: "authenticated", uid: claims.sub, role: "authenticated", email: "a@example.com", jsub: claims.sub });
    const after = (await db.sql`select current_user as u, auth.uid() as uid, current_setting('request.jwt.claims', true) as c`)[0]!;
    expect(after.u).not.toBe("authenticated");
    expect(after.uid).toBeNull();
    expect(after.c ?? "").toBe("");
    await db.close();
  });

  test("tables created later in public are reachable by API roles, and RLS decides rows", async () => {
    await sql`create table public.notes (id serial primary key, owner uuid, body text)`;
    await sql`insert into public.notes (owner, body) values ('2b6c8a52-7a6d-4c53-9d27-6f3c1d8e9a01', 'mine'), (gen_random_uuid(), 'theirs')`;
    const db = connect(raw.url, { max: 2 });
    const asUser = (sub: string) =>
      db.withPrincipal({ role: "authenticated", claims: { sub, role: "authenticated" } }, (tx) => tx`select body from public.notes order by id`);
    expect((await asUser("2b6c8a52-7a6d-4c53-9d27-6f3c1d8e9a01")).length).toBe(2); // grants work, no RLS yet
    await sql`alter table public.notes enable row level security`;
    await sql`create policy own on public.notes for select to authenticated using (owner = auth.uid())`;
    expect((await asUser("2b6c8a52-7a6d-4c53-9d27-6f3c1d8e9a01")).map((r) => r.body)).toEqual(["mine"]);
    const anon = await db.withPrincipal({ role: "anon", claims: { role: "anon" } }, (tx) => tx`select * from public.notes`);
    expect(anon.length).toBe(0);
    const service = await db.withPrincipal({ role: "service_role", claims: { role: "service_role" } }, (tx) => tx`select * from public.notes`);
    expect(service.length).toBe(2); // service_role bypasses RLS
    await db.close();
  });

  test("plinth schema is not reachable by API roles", async () => {
    const db = connect(raw.url, { max: 1 });
    await expect(db.withPrincipal({ role: "service_role", claims: {} }, (tx) => tx`select * from plinth.system_migrations`)).rejects.toThrow(
      /permission denied/,
    );
    await Bun.sleep(50);
    await db.close();
  });

  test("DDL is announced on the plinth_schema channel", async () => {
    const listener = postgres(raw.url, { max: 1, onnotice: () => {} });
    const got: string[] = [];
    await listener.listen("plinth_schema", (payload) => got.push(payload));
    await sql`create table public.announced (id int)`;
    for (let i = 0; i < 50 && got.length === 0; i++) await Bun.sleep(20);
    await listener.end();
    expect(got).toContain("CREATE TABLE");
  });
});
