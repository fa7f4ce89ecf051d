// Generated TypeScript types against a real PostgreSQL: a schema with every kind of object (tables
// with identity, defaults, arrays, enums, composite and domain columns; one-to-many and one-to-one
// foreign keys; an updatable view and a materialized view; functions returning scalars, SETOF rows,
// TABLE(...), void; a computed field; overloads; a trigger function that must not appear; a second
// schema using the first one's enum). Then a supabase-js program is compiled against the output with
// `tsc`: one that must compile, one whose every marked line must fail. CLI as a subprocess, the
// admin API in-process.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { generateTypeScript } from "../src/typegen/generate.ts";
import { adminApp, type CallOptions } from "./support/admin.ts";

const ROOT = resolve(import.meta.dir, "..");
const MAIN = resolve(ROOT, "src/main.ts");
const t = await adminApp();
const sql = t.sql;
const service: CallOptions = { token: t.keys.service_role, apikey: t.keys.anon };
const dirs: string[] = [];

const SCHEMA = `
  create type public.mood as enum ('happy', 'sad', 'it''s "complicated"');
  create type public.address as (street text, zip int);
  create domain public.positive_int as int check (value > 0);
  create table public.authors (
    id bigint generated always as identity primary key,
    name text not null,
    mood public.mood,
    tags text[] not null default '{}',
    meta jsonb,
    addr public.address,
    born date
  );
  create table public.books (
    id serial primary key,
    author_id bigint not null references public.authors (id),
    title varchar(100) not null,
    pages public.positive_int,
    price numeric(10, 2),
    created_at timestamptz default now()
  );
  create table public.profiles (author_id bigint primary key references public.authors (id), bio text);
  create view public.book_titles as select b.id, b.title, b.author_id from public.books b;
  create materialized view public.author_counts as select author_id, count(*) as n from public.books group by author_id;
  create function public.add(a int, b int) returns int language sql immutable as 'select a + b';
  create function public.books_by(author bigint) returns setof public.books language sql stable as 'select * from public.books where author_id = author';
  create function public.stats() returns table (total bigint, avg_pages numeric) language sql stable as 'select count(*), avg(pages) from public.books';
  create function public.title_upper(public.books) returns text language sql stable as 'select upper($1.title)';
  create function public.echo(jsonb) returns jsonb language sql immutable as 'select $1';
  create function public.greet(who text default 'world') returns text language sql immutable as $$ select 'hello ' || who $$;
  create function public.noop() returns void language sql as 'select';
  create function public.pick(a int) returns int language sql as 'select a';
  create function public.pick(s text) returns text language sql as 'select s';
  create function public.two_unnamed(int, int) returns int language sql as 'select 1';
  create function public.audit_trigger() returns trigger language plpgsql as 'begin return new; end';
  create schema api;
  grant usage on schema api to anon, authenticated, service_role;
  create table api.items (id int primary key, kind public.mood not null, label text);
`;

beforeAll(async () => {
  await sql.unsafe(SCHEMA);
});
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A project dir that resolves @supabase/supabase-js (and typescript) from this repository. */
async function project(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "plinth-typegen-"));
  dirs.push(dir);
  await symlink(join(ROOT, "node_modules"), join(dir, "node_modules"));
  await writeFile(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { strict: true, target: "ES2022", module: "ESNext", moduleResolution: "Bundler", noEmit: true, skipLibCheck: true, types: [] },
      include: ["*.ts"],
    }),
  );
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

async function tsc(dir: string): Promise<{ code: number; out: string }> {
  const proc = Bun.spawn([join(ROOT, "node_modules/.bin/tsc"), "--noEmit", "-p", dir], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out: out + err };
}

const GOOD = `import { createClient } from "@supabase/supabase-js"
import { Constants, type CompositeTypes, type Database, type Enums, type Tables, type TablesInsert, type TablesUpdate } from "./database.types"

const supabase = createClient<Database>("http://localhost:8000", "anon-key")

export async function main() {
  const one = await supabase.from("books").select("id, title, price, authors(name, mood, tags)").eq("id", 1).single()
  if (one.data) {
    const title: string = one.data.title
    const price: number | null = one.data.price
    const name: string | undefined = one.data.authors?.name
    const mood: "happy" | "sad" | 'it\\'s "complicated"' | null | undefined = one.data.authors?.mood
    const tags: string[] | undefined = one.data.authors?.tags
    void [title, price, name, mood, tags]
  }
  // Reverse embeds: one-to-many is an array, one-to-one an object.
  const authors = await supabase.from("authors").select("name, books(title), profiles(bio)")
  const first = authors.data?.[0]
  const bookTitles: string[] | undefined = first?.books.map((b) => b.title)
  const bio: string | null | undefined = first?.profiles?.bio
  void [bookTitles, bio]

  await supabase.from("authors").insert({ name: "Ann", tags: ["x"], mood: "happy", addr: { street: "Main", zip: 1 }, meta: { a: [1, null] } })
  await supabase.from("books").insert({ author_id: 1, title: "T", pages: 10 })
  await supabase.from("books").update({ title: "U" }).eq("id", 1)
  await supabase.from("book_titles").update({ title: "V" }).eq("id", 1)
  const counts = await supabase.from("author_counts").select("author_id, n")
  const n: number | null | undefined = counts.data?.[0]?.n
  void n

  const sum = await supabase.rpc("add", { a: 1, b: 2 })
  const s: number | null = sum.data
  const byAuthor = await supabase.rpc("books_by", { author: 1 })
  const t2: string | undefined = byAuthor.data?.[0]?.title
  const stats = await supabase.rpc("stats")
  const total: number | undefined = stats.data?.[0]?.total
  const greeting = await supabase.rpc("greet")
  const g: string | null = greeting.data
  const echoed = await supabase.rpc("echo", { "": { x: 1 } })
  await supabase.rpc("noop")
  const p1 = await supabase.rpc("pick", { a: 1 })
  const p2 = await supabase.rpc("pick", { s: "x" })
  void [s, t2, total, g, echoed, p1, p2]

  const upper = await supabase.from("books").select("title_upper").single()
  const u: string | null | undefined = upper.data?.title_upper
  void u

  const items = await supabase.schema("api").from("items").select("kind, label")
  const kind: Enums<"mood"> | undefined = items.data?.[0]?.kind
  void kind

  // A computed field is part of the Row, as supabase generates it.
  const row: Tables<"books"> = { id: 1, author_id: 1, title: "T", pages: null, price: null, created_at: null, title_upper: null }
  const ins: TablesInsert<"books"> = { author_id: 1, title: "T" }
  const upd: TablesUpdate<"authors"> = { name: "x" }
  const item: Tables<{ schema: "api" }, "items"> = { id: 1, kind: "sad", label: null }
  const addr: CompositeTypes<"address"> = { street: null, zip: 5 }
  const moods: readonly Enums<"mood">[] = Constants.public.Enums.mood
  void [row, ins, upd, item, addr, moods]
}
`;

/** Each line ending in `// ERR` must be reported by tsc; nothing else may be. */
const BAD = `import { createClient } from "@supabase/supabase-js"
import type { Database, Enums, TablesInsert } from "./database.types"

const supabase = createClient<Database>("http://localhost:8000", "anon-key")

export async function main() {
  await supabase.from("books").insert({ title: "no author" }) // ERR
  await supabase.from("no_such_table").select() // ERR
  await supabase.rpc("add", { a: "1", b: 2 }) // ERR
  await supabase.rpc("no_such_function") // ERR
  const mood: Enums<"mood"> = "angry" // ERR
  await supabase.from("authors").insert({ id: 5, name: "identity always" }) // ERR
  const one = await supabase.from("books").select("title").single()
  const n: number | undefined = one.data?.title // ERR
  const ins: TablesInsert<"books"> = { author_id: "1", title: "T" } // ERR
  await supabase.rpc("audit_trigger") // ERR
  await supabase.from("books").select("id").eq("no_column", 1) // ERR
  void [mood, n, ins]
}
`;

describe("the generated file", () => {
  test("has every kind of object, in supabase's shape", async () => {
    const text = await generateTypeScript(sql, ["public", "api"]);
    expect(text).toContain('PostgrestVersion: "12.2.3"');
    // Identity ALWAYS cannot be written; a serial can.
    expect(text).toMatch(/"authors": \{\n\s+Row: \{[\s\S]*?Insert: \{\n\s+"addr"\?: Database\["public"\]\["CompositeTypes"\]\["address"\] \| null/);
    expect(text).toContain('"id"?: never');
    expect(text).toContain('"author_id": number\n'); // books.Insert: required
    expect(text).toContain('"mood": "happy" | "sad" | "it\'s \\"complicated\\""');
    expect(text).toContain('foreignKeyName: "books_author_id_fkey"');
    expect(text).toMatch(/foreignKeyName: "profiles_author_id_fkey"\n\s+columns: \["author_id"\]\n\s+isOneToOne: true/);
    // The view gets its base table's relationship (through its lineage).
    expect(text).toMatch(/"book_titles": \{[\s\S]*?Insert:[\s\S]*?referencedRelation: "authors"/);
    // Functions: overloads as a union, SETOF with SetofOptions, TABLE(...) as rows, computed field in the Row.
    expect(text).toMatch(/"pick":\n\s+\| \{\n\s+Args: \{ "a": number \}/);
    expect(text).toMatch(/"books_by":[\s\S]*?SetofOptions: \{\n\s+from: "\*"\n\s+to: "books"\n\s+isOneToOne: false\n\s+isSetofReturn: true/);
    expect(text).toContain('"title_upper": string | null');
    expect(text).not.toContain("audit_trigger");
    expect(text).not.toContain("two_unnamed");
    expect(text).toContain('"mood": ["happy", "sad", "it\'s \\"complicated\\""]');
    expect(text).toContain('"api": {');
  });

  test("a supabase-js program compiles against it; a wrong one fails on every marked line and nowhere else", async () => {
    const types = await generateTypeScript(sql, ["public", "api"]);
    const good = await tsc(await project({ "database.types.ts": types, "good.ts": GOOD }));
    expect(good.out).toBe("");
    expect(good.code).toBe(0);

    const bad = await tsc(await project({ "database.types.ts": types, "bad.ts": BAD }));
    expect(bad.code).not.toBe(0);
    const expected = BAD.split("\n")
      .map((l, i) => (l.endsWith("// ERR") ? i + 1 : 0))
      .filter(Boolean);
    const reported = [...new Set([...bad.out.matchAll(/bad\.ts\((\d+),\d+\): error/g)].map((m) => Number(m[1])))];
    expect(reported.sort((a, b) => a - b)).toEqual(expected);
    expect(bad.out).not.toContain("database.types.ts(");
  }, 120_000);
});

describe("plinth gen types typescript (subprocess) and GET /admin/v1/types/typescript", () => {
  async function gen(...args: string[]) {
    const cwd = await mkdtemp(join(tmpdir(), "plinth-gen-"));
    dirs.push(cwd);
    const proc = Bun.spawn([process.execPath, MAIN, "gen", ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", PLINTH_DB_URL: t.database.url },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { out, err, code, cwd };
  }

  test("prints to stdout (default schema: the REST schemas), writes --out, and the API answers the same text", async () => {
    const printed = await gen("types", "typescript");
    expect(printed.code).toBe(0);
    expect(printed.out).toBe(await generateTypeScript(sql, ["public"]));
    const written = await gen("types", "typescript", "--schema", "public,api", "--out", "db.ts");
    expect(written.code).toBe(0);
    expect(written.err).toContain("schemas: public, api");
    const file = await readFile(join(written.cwd, "db.ts"), "utf8");
    expect(file).toBe(await generateTypeScript(sql, ["public", "api"]));

    const api = await t.app.fetch(
      new Request("http://localhost/admin/v1/types/typescript?schema=public,api", {
        headers: { apikey: t.keys.anon, authorization: `Bearer ${t.keys.service_role}` },
      }),
    );
    expect(api.status).toBe(200);
    expect(api.headers.get("content-type")).toContain("text/plain");
    expect(await api.text()).toBe(file);
  });

  test("bad input: unknown schema, empty list, wrong language, unknown option; anon refused", async () => {
    const unknown = await gen("types", "typescript", "--schema", "public,nope");
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown schema: "nope"');
    expect((await gen("types", "typescript", "--schema", ",")).code).toBe(2);
    const lang = await gen("types", "python");
    expect(lang.code).toBe(2);
    expect(lang.err).toContain("only typescript");
    expect((await gen("types", "typescript", "--lang", "x")).code).toBe(2);

    const r = await t.call("GET", "/types/typescript?schema=public,%22%3Bdrop", undefined, service);
    expect(r.status).toBe(400);
    expect(r.body.code).toBe("invalid_schemas");
    expect((await t.call("GET", "/types/typescript", undefined, { apikey: t.keys.anon })).status).toBe(401);
  });
});
