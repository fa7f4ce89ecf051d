// The data API's one-statement path (src/db/context-pool.ts): connections that keep a caller's role
// and claims at session level, and the guard every statement on them carries. What must hold: a
// caller only ever runs as itself — under concurrency with few connections, after SQL that tampers
// with the session, after the connections are killed — and SQL that reads request.* gets it set.
import { describe, expect, test } from "bun:test";
import { tokenFor } from "./support/app.ts";
import { restApp, restFetch, startRestServer, waitFor } from "./support/rest.ts";
import type { Statement } from "../src/rest/sql/statements.ts";
import { connect } from "../src/db/pool.ts";
import { failedBeforeSending, ContextPool } from "../src/db/context-pool.ts";
import { freshDatabase } from "./support/db.ts";
import postgres from "postgres";

// Two connections per pool: callers must share them, so contexts switch all the time.
const srv = await startRestServer({ db: { poolMax: 2 }, rest: { requestSettings: "auto" } });
const ALICE = "00000000-0000-4000-8000-00000000000a";
const BOB = "00000000-0000-4000-8000-00000000000b";
const alice = await tokenFor({ role: "authenticated", sub: ALICE });
const bob = await tokenFor({ role: "authenticated", sub: BOB });
const json = { "content-type": "application/json" };

await srv.admin.unsafe(`
  create table public.diary (id serial primary key, owner uuid not null default auth.uid(), entry text not null);
  alter table public.diary enable row level security;
  create policy own_read on public.diary for select to authenticated using (owner = auth.uid());
  create policy own_write on public.diary for insert to authenticated with check (owner = auth.uid());
  grant select, insert on public.diary to authenticated;
  grant usage on sequence public.diary_id_seq to authenticated;
  insert into public.diary (owner, entry) values ('${ALICE}', 'alice 1'), ('${ALICE}', 'alice 2'), ('${BOB}', 'bob 1');

  -- A computed field that rewrites the session it runs in: the claims become Bob's, the role the
  -- all-seeing service_role. Nothing the next request on that connection does may run as either.
  create function public.tamper(public.diary) returns text language plpgsql as $$
  begin
    perform set_config('request.jwt.claims', json_build_object('role', 'authenticated', 'sub', '${BOB}')::text, false);
    perform set_config('role', 'service_role', false);
    return 'tampered';
  end $$;

  create table public.typed (id serial primary key, code varchar(3), amount numeric(5,2), ok boolean,
    mood text check (mood in ('happy', 'sad')), at timestamptz, ref uuid, n int);
  grant all on public.typed to anon;
  grant usage on sequence public.typed_id_seq to anon;
  notify pgrst, 'reload schema';
`);
await waitFor(async () => (await restFetch(srv, "/typed")).status === 200);

async function entries(token?: string): Promise<string[]> {
  const r = await restFetch(srv, "/diary?select=entry&order=id", { token });
  expect(r.status).toBe(200);
  return ((await r.json()) as Array<{ entry: string }>).map((e) => e.entry);
}

describe("one statement per request", () => {
  test("a read and a write are one statement carrying the context guard, evaluated once before any row", async () => {
    const statements: Statement[] = [];
    const db = connect(srv.database.url, { max: 2 });
    const app = await restApp({ db, url: srv.database.url }, (s) => statements.push(s));
    try {
      let r = await app.request("/diary?select=entry", { headers: { authorization: `Bearer ${alice}` } });
      expect(r.status).toBe(200);
      expect(statements).toHaveLength(1);
      expect(statements[0]!.text).toContain("auth.request_context_is(");
      r = await app.request("/diary", { method: "POST", headers: { ...json, authorization: `Bearer ${alice}` }, body: JSON.stringify({ entry: "alice 3" }) });
      expect(r.status).toBe(201);
      expect(statements).toHaveLength(2);
      expect(statements[1]!.text).toMatch(/^INSERT INTO .* WHERE auth\.request_context_is\(\$2, \$3\)$/);
      // PostgreSQL runs a condition without column references once, first: a one-time filter.
      const plan = await srv.admin.begin(async (tx) => {
        await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${JSON.stringify({ role: "authenticated", sub: ALICE })}, true)`;
        return tx.unsafe(`EXPLAIN (COSTS OFF) ${statements[0]!.text}`, [
          ...statements[0]!.params,
          "authenticated",
          JSON.stringify({ role: "authenticated", sub: ALICE }),
        ] as string[]);
      });
      expect(plan.map((r) => r["QUERY PLAN"]).join("\n")).toContain("One-Time Filter");
    } finally {
      await db.close(1);
      await srv.admin`delete from public.diary where entry = 'alice 3'`;
    }
  });

  test("the guard refuses a statement whose session is someone else", async () => {
    const err = await srv.admin
      .begin(async (tx) => {
        await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${JSON.stringify({ role: "authenticated", sub: BOB })}, true)`;
        return tx`select count(*) from public.diary where auth.request_context_is('authenticated', ${JSON.stringify({ role: "authenticated", sub: ALICE })})`;
      })
      .catch((e: { code: string }) => e);
    expect((err as { code: string }).code).toBe("PLCTX");
  });
});

describe("callers stay themselves", () => {
  test("300 concurrent reads by three callers over two connections each see only their own rows", async () => {
    const callers = [
      { token: alice, want: ["alice 1", "alice 2"] },
      { token: bob, want: ["bob 1"] },
      { token: undefined, want: [] as string[] },
    ];
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => callers[i % 3]!).map(async (c) => ({ c, got: await entries(c.token) })));
    for (const { c, got } of results) expect(got).toEqual(c.want);
  });

  test("concurrent inserts by two users are each recorded as their author", async () => {
    const writes = Array.from({ length: 60 }, (_, i) => {
      const token = i % 2 ? bob : alice;
      return restFetch(srv, "/diary", { method: "POST", token, headers: json, body: JSON.stringify({ entry: `burst ${i}` }) });
    });
    for (const r of await Promise.all(writes)) expect(r.status).toBe(201);
    const rows = await srv.admin<
      { owner: string; n: number }[]
    >`select owner::text, count(*)::int as n from public.diary where entry like 'burst %' and ((owner = ${ALICE} and substr(entry, 7)::int % 2 = 0) or (owner = ${BOB} and substr(entry, 7)::int % 2 = 1)) group by owner order by owner`;
    expect([...rows]).toEqual([
      { owner: ALICE, n: 30 },
      { owner: BOB, n: 30 },
    ]);
    // Alice cannot write as Bob: the policy decides, on the one-statement path as in a transaction.
    const forged = await restFetch(srv, "/diary", { method: "POST", token: alice, headers: json, body: JSON.stringify({ entry: "forged", owner: BOB }) });
    expect(forged.status).toBe(403);
    await srv.admin`delete from public.diary where entry like 'burst %'`;
  });

  test("SQL that rewrites its session's role and claims cannot make a later request run as anyone else", async () => {
    // Every connection of the data API gets tampered with (two per pool; do it a few times over).
    for (let i = 0; i < 6; i++) {
      const r = await restFetch(srv, "/diary?select=entry,tamper&limit=1", { token: alice });
      expect(r.status).toBe(200);
    }
    for (let i = 0; i < 10; i++) {
      expect(await entries(alice)).toEqual(["alice 1", "alice 2"]);
      expect(await entries()).toEqual([]);
      expect(await entries(bob)).toEqual(["bob 1"]);
    }
    const anonWrite = await restFetch(srv, "/diary", { method: "POST", headers: json, body: JSON.stringify({ entry: "anon" }) });
    expect(anonWrite.status).toBe(401);
  });

  test("after the data API's connections are killed, reads are answered and writes work again", async () => {
    expect(await entries(alice)).toEqual(["alice 1", "alice 2"]);
    const [killed] = await srv.admin<{ n: number }[]>`
      select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
      where application_name = 'plinth-rest' and datname = current_database()`;
    expect(killed!.n).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) expect(await entries(alice)).toEqual(["alice 1", "alice 2"]);
    let ok = 0;
    for (let i = 0; i < 5; i++) {
      const r = await restFetch(srv, "/diary", { method: "POST", token: bob, headers: json, body: JSON.stringify({ entry: "after kill" }) });
      if (r.status === 201) ok++;
      else expect(r.status).toBe(503); // a write whose connection died is reported, not retried
    }
    expect(ok).toBeGreaterThanOrEqual(4);
    await srv.admin`delete from public.diary where entry = 'after kill'`;
  });
});

describe("when the data API's connections cannot be had", () => {
  test("a pool that cannot connect says nothing was sent, and soon stops trying for a while", async () => {
    const pool = new ContextPool("postgres://nobody:x@127.0.0.1:1/none", { max: 1 });
    const err = await pool.run("anon", "{}", "select 1", []).catch((e: unknown) => e);
    expect(failedBeforeSending(err)).toBe(true);
    const started = performance.now();
    const again = await pool.run("anon", "{}", "select 1", []).catch((e: unknown) => e);
    expect(failedBeforeSending(again)).toBe(true);
    expect(performance.now() - started).toBeLessThan(50);
    await pool.close(1);
  });

  test("reads and writes are answered from a transaction instead", async () => {
    const fresh = await freshDatabase({ autoDrop: false });
    const admin = postgres(fresh.url, { max: 1, onnotice: () => {} });
    // ALTER DATABASE … ALLOW_CONNECTIONS must come from a connection to another database.
    const other = new URL(fresh.url);
    other.pathname = "/template1";
    const cluster = postgres(other.toString(), { max: 1, onnotice: () => {} });
    const db = connect(fresh.url, { max: 2 });
    try {
      await admin.unsafe(
        `create table public.jot (id serial primary key, v text); grant all on public.jot to anon; grant usage on sequence public.jot_id_seq to anon;`,
      );
      // Two postgres.js connections open before the database stops taking new ones.
      await Promise.all([db.sql`select pg_sleep(0.05)`, db.sql`select pg_sleep(0.05)`]);
      await cluster.unsafe(`alter database ${fresh.name} allow_connections false`);
      const principal = { role: "anon" as const, claims: {} };
      const insert = "INSERT INTO public.jot (v) SELECT $1::text WHERE auth.request_context_is($2, $3)";
      const wrote = await db.runAs(principal, insert, ["x"]);
      expect((wrote as unknown as { count: number }).count).toBe(1);
      const read = "SELECT count(*)::int AS n FROM public.jot WHERE auth.request_context_is($1, $2)";
      const rows = await db.runAs(principal, read, [], { read: true });
      expect(rows[0]!.n).toBe(1);
    } finally {
      await cluster.unsafe(`alter database ${fresh.name} allow_connections true`);
      await db.close(1);
      await admin.end();
      await cluster.end();
      await fresh.drop();
    }
  });
});

describe("request.method, request.path and request.headers", () => {
  test("are set once SQL reads them, and the one-statement path returns when it no longer does", async () => {
    const statements: Statement[] = [];
    const db = connect(srv.database.url, { max: 2 });
    const app = await restApp({ db, url: srv.database.url }, (s) => statements.push(s));
    try {
      await srv.admin.unsafe(`
        create function public.whereami() returns jsonb language sql stable as $$
          select jsonb_build_object('method', current_setting('request.method', true), 'path', current_setting('request.path', true),
            'agent', current_setting('request.headers', true)::jsonb->>'x-agent') $$;`);
      await app.cache.reload();
      const r = await app.request("/rpc/whereami", { headers: { "x-agent": "probe" } });
      expect(await r.json()).toEqual({ method: "GET", path: "/rest/v1/rpc/whereami", agent: "probe" });
      // A function mentions request.*, so plain reads now run in transactions that set them.
      statements.length = 0;
      await app.request("/diary?select=entry");
      expect(statements[0]!.text).not.toContain("request_context_is");
      await srv.admin.unsafe(`drop function public.whereami()`);
      await app.cache.reload();
      statements.length = 0;
      await app.request("/diary?select=entry");
      expect(statements[0]!.text).toContain("request_context_is");
      // The server's own cache follows the DDL announcements on its own.
      await srv.admin.unsafe(`create function public.probe() returns text language sql stable as $$ select current_setting('request.path', true) $$`);
      await waitFor(async () => (await (await restFetch(srv, "/rpc/probe")).json()) === "/rest/v1/rpc/probe");
      await srv.admin.unsafe(`drop function public.probe()`);
    } finally {
      await app.close();
      await db.close(1);
    }
  });
});

describe("single-row inserts of scalars", () => {
  // One row of scalars is written without json_populate_recordset; it must convert exactly as that does.
  test("convert values as json_populate_recordset does, typmods and checks included", async () => {
    const row = { code: "GH", amount: 12.345, ok: "true", mood: "happy", at: "2026-01-02T03:04:05Z", ref: ALICE, n: 7 };
    const one = await restFetch(srv, "/typed?select=code,amount,ok,mood,at,ref,n", {
      method: "POST",
      headers: { ...json, prefer: "return=representation" },
      body: JSON.stringify(row),
    });
    const two = await restFetch(srv, "/typed?select=code,amount,ok,mood,at,ref,n", {
      method: "POST",
      headers: { ...json, prefer: "return=representation" },
      body: JSON.stringify([row, row]),
    });
    expect(one.status).toBe(201);
    const [a] = (await one.json()) as unknown[];
    const [b] = (await two.json()) as unknown[];
    expect(a).toEqual(b);
    expect(a).toEqual({ code: "GH", amount: 12.35, ok: true, mood: "happy", at: "2026-01-02T03:04:05+00:00", ref: ALICE, n: 7 });

    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ code: "GHANA" }, 400, "22001"], // too long for varchar(3): refused, never truncated
      [{ amount: 12345 }, 400, "22003"], // numeric(5,2) overflow
      [{ ok: "maybe" }, 400, "22P02"],
      [{ n: 1.5 }, 400, "22P02"],
      [{ mood: "angry" }, 400, "23514"],
      [{ ref: "not-a-uuid" }, 400, "22P02"],
    ];
    for (const [body, status, code] of cases) {
      for (const payload of [body, [body, body]]) {
        const r = await restFetch(srv, "/typed", { method: "POST", headers: json, body: JSON.stringify(payload) });
        expect([JSON.stringify(body), r.status]).toEqual([JSON.stringify(body), status]);
        expect(((await r.json()) as { code: string }).code).toBe(code);
      }
    }
    const nulls = await restFetch(srv, "/typed?select=code,n", {
      method: "POST",
      headers: { ...json, prefer: "return=representation" },
      body: JSON.stringify({ code: null, n: null }),
    });
    expect(await nulls.json()).toEqual([{ code: null, n: null }]);
  });
});
