// The REST API over raw HTTP: headers, media types, profiles, PUT, CSV, ranges and the ugly cases.
import { describe, expect, test } from "bun:test";
import { tokenFor } from "./support/app.ts";
import { restApp, restFetch, startRestServer, waitFor } from "./support/rest.ts";
import type { Statement } from "../src/rest/sql/statements.ts";
import { connect } from "../src/db/pool.ts";

const srv = await startRestServer({ rest: { schemas: ["public", "api"] } });
await srv.admin.unsafe(`
  create schema api;
  grant usage on schema api to anon, authenticated, service_role;
  create table api.things (id int primary key, label text);
  grant all on api.things to anon, authenticated, service_role;
  insert into api.things values (1, 'from api');
  notify pgrst, 'reload schema';
`);
await waitFor(async () => (await restFetch(srv, "/things", { headers: { "accept-profile": "api" } })).status === 200);
const svc = srv.keys.service_role;
const json = { "content-type": "application/json" };

async function body(res: Response) {
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

describe("reads over HTTP", () => {
  test("Content-Range on every read, 206 and 416", async () => {
    let r = await restFetch(srv, "/countries?select=id");
    expect(r.headers.get("content-range")).toBe("0-2/*");
    r = await restFetch(srv, "/countries?select=id&id=gt.10", { headers: { prefer: "count=exact" } });
    expect(r.headers.get("content-range")).toBe("*/0");
    r = await restFetch(srv, "/countries?select=id&order=id", { headers: { range: "1-1", prefer: "count=exact" } });
    expect(r.status).toBe(206);
    expect(r.headers.get("content-range")).toBe("1-1/3");
    expect(await body(r)).toEqual([{ id: 2 }]);
    r = await restFetch(srv, "/countries?offset=10", { headers: { prefer: "count=exact" } });
    expect(r.status).toBe(416);
    expect((await body(r)).code).toBe("PGRST103");
    r = await restFetch(srv, "/countries", { headers: { range: "3-1" } });
    expect(r.status).toBe(416);
  });

  test("HEAD has headers and no body", async () => {
    const r = await restFetch(srv, "/countries", { method: "HEAD", headers: { prefer: "count=exact" } });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-range")).toBe("0-2/3");
    expect(await r.text()).toBe("");
  });

  test("media types", async () => {
    let r = await restFetch(srv, "/countries?id=eq.1", { headers: { accept: "application/vnd.pgrst.object+json" } });
    expect(r.headers.get("content-type")).toContain("application/vnd.pgrst.object+json");
    expect(await body(r)).toEqual({ id: 1, name: "Ghana", code: "GH" });
    r = await restFetch(srv, "/countries?id=gt.0", { headers: { accept: "application/vnd.pgrst.object+json" } });
    expect(r.status).toBe(406);
    expect(await body(r)).toEqual({
      code: "PGRST116",
      details: "The result contains 3 rows",
      hint: null,
      message: "Cannot coerce the result to a single JSON object",
    });
    r = await restFetch(srv, "/authors?id=eq.2&select=name,bio", { headers: { accept: "application/vnd.pgrst.object+json;nulls=stripped" } });
    expect(await body(r)).toEqual({ name: "Ama Ata Aidoo" });
    r = await restFetch(srv, "/countries?select=name,code&order=id", { headers: { accept: "text/csv" } });
    expect(r.headers.get("content-type")).toContain("text/csv");
    expect(await r.text()).toBe("name,code\nGhana,GH\nFrance,FR\nJapan,JP");
    r = await restFetch(srv, "/countries", { headers: { accept: "text/html" } });
    expect(r.status).toBe(406);
    expect((await body(r)).code).toBe("PGRST107");
  });

  test("OpenAPI at the root", async () => {
    const r = await restFetch(srv, "/");
    expect(r.status).toBe(200);
    const doc = await body(r);
    expect(doc.swagger).toBe("2.0");
    expect(Object.keys(doc.paths)).toContain("/books");
    expect(Object.keys(doc.paths)).toContain("/rpc/add");
    expect(doc.definitions.books.properties.id.format).toBe("integer");
  });

  test("profiles", async () => {
    let r = await restFetch(srv, "/things", { headers: { "accept-profile": "api" } });
    expect(await body(r)).toEqual([{ id: 1, label: "from api" }]);
    expect(r.headers.get("content-profile")).toBe("api");
    r = await restFetch(srv, "/things");
    expect(r.status).toBe(404);
    r = await restFetch(srv, "/things", { headers: { "accept-profile": "secret" } });
    expect(r.status).toBe(406);
    expect(await body(r)).toMatchObject({ code: "PGRST106", hint: "Only the following schemas are exposed: public, api" });
    r = await restFetch(srv, "/things", {
      method: "POST",
      key: svc,
      headers: { "content-profile": "api", ...json, prefer: "return=representation" },
      body: JSON.stringify({ id: 2, label: "two" }),
    });
    expect(r.status).toBe(201);
    expect(await body(r)).toEqual([{ id: 2, label: "two" }]);
  });

  test("parse errors are 400 PGRST100 without parser internals", async () => {
    for (const q of ["select=id,,name", "id=nope.1", "order=id.sideways", "or=(id.eq.1", "limit=abc", "select=a(b"]) {
      const r = await restFetch(srv, `/books?${q}`);
      expect(r.status).toBe(400);
      const b = await body(r);
      expect(b.code).toBe("PGRST100");
      expect(JSON.stringify(b)).not.toMatch(/line \d|column \d|stack|at Object/);
    }
  });

  test("embedding errors", async () => {
    let r = await restFetch(srv, "/books?select=title&authors.name=eq.x");
    expect((await body(r)).code).toBe("PGRST108");
    r = await restFetch(srv, "/countries?select=name,nothing(*)");
    expect(r.status).toBe(400);
    expect((await body(r)).code).toBe("PGRST200");
    r = await restFetch(srv, "/books?select=title,authors(name)");
    const amb = await body(r);
    expect(r.status).toBe(300);
    expect(Array.isArray(amb.details)).toBe(true);
    expect(amb.details).toHaveLength(2);
    r = await restFetch(srv, "/countries?select=name,cities(name)&order=cities(name)");
    expect((await body(r)).code).toBe("PGRST118");
    r = await restFetch(srv, "/books?select=title,author:authors!author_id(name)&order=author(name).desc,id&limit=2");
    expect(await body(r)).toEqual([
      { title: "Norwegian Wood", author: { name: "Haruki Murakami" } },
      { title: "Kafka on the Shore", author: { name: "Haruki Murakami" } },
    ]);
  });

  test("misc errors", async () => {
    let r = await restFetch(srv, "/books/1");
    expect(r.status).toBe(404);
    expect((await body(r)).code).toBe("PGRST125");
    r = await restFetch(srv, "/books", { method: "POST", key: svc, headers: json, body: "{nope" });
    expect(r.status).toBe(400);
    expect((await body(r)).code).toBe("PGRST102");
    r = await restFetch(srv, "/books?id=eq.1", { method: "PATCH", key: svc, headers: { ...json, prefer: "handling=strict, bogus=1" }, body: "{}" });
    expect(r.status).toBe(400);
    expect((await body(r)).code).toBe("PGRST122");
    r = await restFetch(srv, "/books?select=title::nosuchtype");
    expect(r.status).toBe(400);
    r = await restFetch(srv, "/books", { token: await tokenFor({ sub: "x", role: "postgres" }) });
    expect(r.status).toBe(401);
    r = await restFetch(srv, "/events?id=eq.notanint");
    expect(r.status).toBe(400);
    expect((await body(r)).code).toBe("22P02");
  });
});

describe("writes over HTTP", () => {
  test("CSV insert and columns=", async () => {
    let r = await restFetch(srv, "/genres?columns=id,name", {
      method: "POST",
      key: svc,
      headers: { "content-type": "text/csv", prefer: "return=representation" },
      body: 'id,name,ignored\n30,"Sci, Fi",x\n31,Horror,y',
    });
    expect(r.status).toBe(201);
    expect(await body(r)).toEqual([
      { id: 30, name: "Sci, Fi" },
      { id: 31, name: "Horror" },
    ]);
    r = await restFetch(srv, "/genres?id=gte.30", { method: "DELETE", key: svc });
    expect(r.status).toBe(204);
  });

  test("PUT upserts by primary key", async () => {
    let r = await restFetch(srv, "/genres?id=eq.40", {
      method: "PUT",
      key: svc,
      headers: { ...json, prefer: "return=representation" },
      body: JSON.stringify({ id: 40, name: "Put" }),
    });
    expect([200, 201]).toContain(r.status);
    expect(await body(r)).toEqual([{ id: 40, name: "Put" }]);
    r = await restFetch(srv, "/genres?id=eq.40", {
      method: "PUT",
      key: svc,
      headers: { ...json, prefer: "return=representation" },
      body: JSON.stringify({ id: 40, name: "Put again" }),
    });
    expect(await body(r)).toEqual([{ id: 40, name: "Put again" }]);
    r = await restFetch(srv, "/genres?id=eq.41", { method: "PUT", key: svc, headers: json, body: JSON.stringify({ id: 40, name: "x" }) });
    expect((await body(r)).code).toBe("PGRST115");
    r = await restFetch(srv, "/genres?name=eq.x", { method: "PUT", key: svc, headers: json, body: JSON.stringify({ id: 40, name: "x" }) });
    expect(r.status).toBe(405);
    expect((await body(r)).code).toBe("PGRST105");
    await restFetch(srv, "/genres?id=eq.40", { method: "DELETE", key: svc });
  });

  test("headers-only returns Location, Preference-Applied echoes preferences", async () => {
    const r = await restFetch(srv, "/genres", {
      method: "POST",
      key: svc,
      headers: { ...json, prefer: "return=headers-only, count=exact" },
      body: JSON.stringify({ id: 42, name: "Loc" }),
    });
    expect(r.status).toBe(201);
    expect(r.headers.get("location")).toBe("/rest/v1/genres?id=eq.42");
    expect(r.headers.get("preference-applied")).toContain("return=headers-only");
    expect(r.headers.get("content-range")).toBe("*/1");
    await restFetch(srv, "/genres?id=eq.42", { method: "DELETE", key: svc });
  });

  test("singular write that is not one row is rolled back", async () => {
    const r = await restFetch(srv, "/genres", {
      method: "POST",
      key: svc,
      headers: { ...json, accept: "application/vnd.pgrst.object+json", prefer: "return=representation" },
      body: JSON.stringify([
        { id: 43, name: "a" },
        { id: 44, name: "b" },
      ]),
    });
    expect(r.status).toBe(406);
    const check = await restFetch(srv, "/genres?id=in.(43,44)");
    expect(await body(check)).toEqual([]);
  });

  test("keys of an array must match unless columns= is given", async () => {
    const r = await restFetch(srv, "/genres", { method: "POST", key: svc, headers: json, body: JSON.stringify([{ id: 45, name: "a" }, { id: 46 }]) });
    expect(r.status).toBe(400);
    expect((await body(r)).code).toBe("PGRST102");
  });

  test("request context is visible to SQL", async () => {
    const r = await restFetch(srv, "/rpc/whoami", { method: "GET" });
    expect(await body(r)).toEqual({ role: "anon", sub: null });
  });
});

describe("one statement per request", () => {
  test("100 parents with their children are one SQL statement", async () => {
    const statements: Statement[] = [];
    const db = connect(srv.database.url, { max: 2 });
    const app = await restApp({ db, url: srv.database.url }, (s) => statements.push(s));
    await srv.admin.unsafe(`
      create table public.parents (id int primary key);
      create table public.children (id serial primary key, parent_id int references public.parents(id));
      insert into public.parents select g from generate_series(1, 100) g;
      insert into public.children (parent_id) select g % 100 + 1 from generate_series(1, 300) g;`);
    await app.cache.reload();
    statements.length = 0;
    const r = await app.request("/parents?select=id,children(id)&order=id");
    const rows = (await r.json()) as Array<{ id: number; children: unknown[] }>;
    expect(rows).toHaveLength(100);
    expect(rows.every((p) => p.children.length === 3)).toBe(true);
    expect(statements).toHaveLength(1);
    await app.close();
    await db.close(1);
    // Let the server's own cache settle on this DDL before teardown drops the database.
    await waitFor(async () => (await restFetch(srv, "/parents?limit=1")).status === 200);
  });
});
