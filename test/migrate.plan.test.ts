// Migration plans against a real PostgreSQL: every statement classified by PostgreSQL's parser
// (destructive, locking with the lock level and rewrite, security), with rows and sizes from the
// catalog, a verdict per migration; `plinth migrate plan [--json]` as a subprocess; the ugly cases
// (a file the parser rejects, a migration mixing safe and destructive statements, comments and
// strings that look like danger but are not).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { planFile, planPending, type MigrationPlan } from "../src/admin/migrations/plan.ts";
import { checksum } from "../src/db/migrations/system.ts";
import { freshDatabase } from "./support/db.ts";

const tdb = await freshDatabase();
const sql = tdb.db.sql;
const MAIN = resolve(import.meta.dir, "../src/main.ts");
const opts = { exposedSchemas: ["public"] };
const dirs: string[] = [];

beforeAll(async () => {
  await sql.unsafe(`
    create table public.big (id int primary key, name varchar(10), note varchar(50), label text, owner uuid);
    insert into public.big select g, 'n' || g, 'x', 'l', gen_random_uuid() from generate_series(1, 5000) g;
    create table public.small (id int primary key, big_id int);
    insert into public.small values (1, 1), (2, 2);
    create table public.empty (id int primary key);
    alter table public.big enable row level security;
    create policy big_read on public.big for select using (owner = auth.uid());
    create schema private;
    analyze public.big; analyze public.small; analyze public.empty;
  `);
});
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const plan = (text: string): Promise<MigrationPlan> =>
  planFile(sql, { version: "20250101000000", name: "t", path: "/tmp/20250101000000_t.up.sql", text, checksum: checksum(text) }, opts);
const kinds = (p: MigrationPlan) => p.findings.map((f) => `${f.kind}:${f.severity}`);

describe("destructive", () => {
  test("DROP TABLE names the rows and size at stake, from the catalog", async () => {
    const p = await plan("drop table public.big;");
    expect(p.needsApproval).toBe(true);
    const f = p.findings.find((x) => x.kind === "destructive")!;
    expect(f.severity).toBe("danger");
    expect(f.tables[0]).toMatchObject({ name: "big", exists: true, rows: 5000 });
    expect(f.tables[0]!.bytes).toBeGreaterThan(100_000);
    expect(f.message).toContain("5,000 rows");
    expect(p.verdict).toMatch(/^needs approval: 1 destructive/);
  });

  test("DELETE and UPDATE without a filter, TRUNCATE, DROP COLUMN; DELETE with a filter is not a finding", async () => {
    const p = await plan(`
      delete from public.small;
      update public.big set label = 'x';
      truncate public.empty;
      alter table public.big drop column label;
      delete from public.small where id = 1;
    `);
    const destructive = p.findings.filter((f) => f.kind === "destructive");
    expect(destructive.map((f) => f.index)).toEqual([0, 1, 2, 3]);
    expect(destructive[0]!.tables[0]!.rows).toBe(2);
    expect(destructive[1]!.tables[0]!.rows).toBe(5000);
    expect(destructive[3]!.message).toContain("DROP COLUMN label");
    expect(p.findings.some((f) => f.index === 4)).toBe(false);
  });

  test("a column type change that rewrites is destructive and locking; widening varchar or varchar → text is neither", async () => {
    const rewrite = await plan("alter table public.big alter column id type bigint;");
    expect(kinds(rewrite)).toEqual(["destructive:warning", "locking:warning"]);
    const lock = rewrite.findings.find((f) => f.kind === "locking")!;
    expect(lock.lock).toEqual({ mode: "ACCESS EXCLUSIVE", on: ["public.big"], rewrites: true, scans: false });
    expect(lock.message).toContain("from integer");

    for (const safe of [
      "alter table public.big alter column name type varchar(20);",
      "alter table public.big alter column note type text;",
      "alter table public.big alter column name type varchar;",
    ]) {
      const p = await plan(safe);
      expect(p.findings.filter((f) => f.kind === "destructive")).toEqual([]);
      expect(p.findings.every((f) => !f.lock?.rewrites)).toBe(true);
    }
    const narrow = await plan("alter table public.big alter column note type varchar(5);");
    expect(narrow.findings.find((f) => f.kind === "locking")!.lock!.rewrites).toBe(true);
    const using = await plan("alter table public.big alter column label type int using length(label);");
    expect(using.findings.some((f) => f.kind === "destructive")).toBe(true);
  });
});

describe("locking", () => {
  test("CREATE INDEX takes SHARE and reads the table; CONCURRENTLY cannot run in the migration's transaction", async () => {
    const p = await plan("create index on public.big (name);");
    expect(p.findings).toHaveLength(1);
    expect(p.findings[0]!.lock).toMatchObject({ mode: "SHARE", scans: true });
    expect(p.needsApproval).toBe(false);
    expect(p.verdict).toMatch(/^locks existing tables: 1 locking \(5,000 rows/);
    const c = await plan("create index concurrently on public.big (name);");
    expect(c.findings[0]).toMatchObject({ kind: "locking", severity: "danger" });
    expect(c.findings[0]!.message).toContain("cannot run inside a transaction");
  });

  test("ADD FOREIGN KEY locks both tables SHARE ROW EXCLUSIVE; NOT VALID skips the scan", async () => {
    const p = await plan("alter table public.small add foreign key (big_id) references public.big (id);");
    expect(p.findings[0]!.lock).toEqual({ mode: "SHARE ROW EXCLUSIVE", on: ["public.small", "public.big"], rewrites: false, scans: true });
    const nv = await plan("alter table public.small add constraint fk foreign key (big_id) references public.big (id) not valid;");
    expect(nv.findings[0]!.lock!.scans).toBe(false);
  });

  test("ADD COLUMN: a constant default is catalog-only, a volatile default or identity rewrites", async () => {
    const cheap = await plan("alter table public.big add column at timestamptz not null default now();");
    expect(cheap.findings[0]!.lock).toMatchObject({ mode: "ACCESS EXCLUSIVE", rewrites: false });
    expect(cheap.findings[0]!.message).toContain("brief");
    const costly = await plan("alter table public.big add column token uuid default gen_random_uuid();");
    expect(costly.findings[0]!.lock!.rewrites).toBe(true);
    const ident = await plan("alter table public.big add column n bigint generated always as identity;");
    expect(ident.findings[0]!.lock!.rewrites).toBe(true);
  });

  test("tables created by the same migration are not findings; SET NOT NULL scans", async () => {
    const p = await plan(`
      create table public.fresh (id int primary key, v text);
      alter table public.fresh enable row level security;
      create index on public.fresh (v);
      alter table public.fresh alter column v set not null;
      alter table public.big alter column name set not null;
    `);
    expect(p.findings).toHaveLength(1);
    expect(p.findings[0]).toMatchObject({ kind: "locking", index: 4, line: 6 });
    expect(p.findings[0]!.lock!.scans).toBe(true);
  });
});

describe("security", () => {
  test("a new table in an exposed schema without RLS; with RLS enabled later in the file, or in a private schema, none", async () => {
    const open = await plan("create table public.wide_open (id int);");
    expect(open.findings[0]).toMatchObject({ kind: "security", severity: "danger" });
    expect(open.findings[0]!.message).toContain("without row level security");
    expect((await plan("create table wide_open2 (id int);")).findings[0]!.kind).toBe("security"); // unqualified: public
    expect((await plan("create table public.ok (id int);\nalter table public.ok enable row level security;")).findings).toEqual([]);
    expect((await plan("create table private.hidden (id int);")).findings).toEqual([]);
    expect((await plan("create table public.copy as select * from public.small;")).findings.some((f) => f.kind === "security")).toBe(true);
  });

  test("SECURITY DEFINER without a fixed search_path; with one, nothing", async () => {
    const bad = await plan("create function public.f() returns int language sql security definer as $$ select 1 $$;");
    expect(bad.findings[0]).toMatchObject({ kind: "security", severity: "danger" });
    expect(bad.findings[0]!.message).toContain("search_path");
    const good = await plan("create function public.f() returns int language sql security definer set search_path = '' as $$ select 1 $$;");
    expect(good.findings).toEqual([]);
    const alter = await plan("alter function public.f() security definer;");
    expect(alter.findings[0]!.kind).toBe("security");
  });

  test("RLS disabled, grants to anon and authenticated, policies dropped, widened or constant", async () => {
    const p = await plan(`
      alter table public.big disable row level security;
      grant select on public.small to anon;
      drop policy big_read on public.big;
      alter policy big_read on public.big to anon;
      create policy open_all on public.small for select using (true);
      grant select on public.small to service_role;
    `);
    const byIndex = (i: number) => p.findings.filter((f) => f.index === i && f.kind === "security");
    for (const i of [0, 1, 2, 3, 4]) expect(byIndex(i).length).toBeGreaterThan(0);
    expect(byIndex(5)).toEqual([]);
    expect(byIndex(2)[0]!.message).toContain("DROP POLICY big_read");
    // Dropping a policy is a security change, not a destructive one.
    expect(p.findings.some((f) => f.index === 2 && f.kind === "destructive")).toBe(false);
  });
});

describe("ugly cases", () => {
  test("SQL the parser rejects: no plan, an error with its line, and it needs approval", async () => {
    const p = await plan("create table public.t (id int);\n\nselec 1;\n");
    expect(p.error).toMatchObject({ line: 3 });
    expect(p.error!.message).toContain("syntax error");
    expect(p.needsApproval).toBe(true);
    expect(p.verdict).toMatch(/^cannot be planned/);
  });

  test("a migration mixing safe and destructive statements: only the destructive one is flagged, in order, with its line", async () => {
    const p = await plan(`-- comment: drop table public.big;
create table private.notes (id int);
insert into public.small values (3, 3);
drop table public.small;
select 'drop table public.big';
`);
    expect(p.statements).toBe(4);
    expect(p.findings.map((f) => [f.kind, f.index, f.line])).toEqual([["destructive", 2, 4]]);
    expect(p.verdict).toMatch(/^needs approval: 1 destructive \(4 statements\)/);
  });

  test("an empty or safe migration is safe", async () => {
    const p = await plan("create table private.a (id int); comment on table private.a is 'x';");
    expect(p.verdict).toBe("safe: 2 statements, nothing destructive, no security change, no long lock");
    expect(p.needsApproval).toBe(false);
  });

  test("DO blocks: their statements are classified; dynamic SQL cannot be checked", async () => {
    const p = await plan("do $$ begin drop table public.small; end $$;");
    expect(p.findings.some((f) => f.kind === "destructive")).toBe(true);
    const d = await plan("do $$ begin execute 'drop table ' || 'public.small'; end $$;");
    expect(d.findings.some((f) => f.kind === "security" && f.message.includes("dynamic"))).toBe(true);
  });
});

describe("plinth migrate plan (subprocess)", () => {
  async function run(dir: string, ...args: string[]) {
    const proc = Bun.spawn([process.execPath, MAIN, "migrate", ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", PLINTH_DB_URL: tdb.url, PLINTH_MIGRATIONS_DIR: dir },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { out, err, code };
  }

  test("--json has the issue's shape for every pending migration; applied ones are not planned", async () => {
    const dir = await mkdtemp(join(tmpdir(), "plinth-plan-"));
    dirs.push(dir);
    await writeFile(join(dir, "20250101000001_safe.up.sql"), "create table private.p1 (id int);");
    await writeFile(join(dir, "20250101000002_mixed.up.sql"), "create table private.p2 (id int);\ndrop table public.empty;");
    await writeFile(join(dir, "20250101000003_broken.up.sql"), "create tabel x;");
    const r = await run(dir, "plan", "--json");
    expect(r.code).toBe(0);
    const body = JSON.parse(r.out) as { migrations: { version: string; name: string; verdict: string; findings: Record<string, unknown>[] }[] };
    expect(body.migrations.map((m) => [m.version, m.name])).toEqual([
      ["20250101000001", "safe"],
      ["20250101000002", "mixed"],
      ["20250101000003", "broken"],
    ]);
    expect(body.migrations[0]!.findings).toEqual([]);
    expect(body.migrations[1]!.findings[0]).toMatchObject({ kind: "destructive", severity: "danger", statement: "drop table public.empty" });
    expect(typeof body.migrations[1]!.findings[0]!.message).toBe("string");
    expect(body.migrations[2]!.verdict).toMatch(/^cannot be planned/);
    for (const m of body.migrations) for (const f of m.findings) expect(["destructive", "locking", "security"]).toContain(f.kind as string);

    const text = await run(dir, "plan");
    expect(text.code).toBe(0);
    expect(text.out).toContain("20250101000002_mixed: needs approval: 1 destructive");
    expect(text.out).toContain("not approved");

    // After the safe one is applied (by the library, to keep the test short), it is no longer planned.
    const { migrateUp } = await import("../src/db/migrations/user.ts");
    await migrateUp(sql, dir, { to: "20250101000001" });
    const again = JSON.parse((await run(dir, "plan", "--json")).out) as { migrations: { version: string }[] };
    expect(again.migrations.map((m) => m.version)).toEqual(["20250101000002", "20250101000003"]);
    expect((await planPending(sql, dir, opts)).length).toBe(2);
  });

  test("usage errors exit 2", async () => {
    const r = await run(tmpdir(), "plan", "--yaml");
    expect(r.code).toBe(2);
    expect(r.err).toContain("unexpected argument '--yaml'");
  });
});
