// The REST API's advanced features over HTTP: computed fields and relationships, embedding through
// views, overloads with unnamed parameters, EXPLAIN output, limited and empty PATCH/DELETE, and
// Plinth's rich_text (sanitised writes) and file_ref (validated, expandable, owned) columns.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { tokenFor } from "./support/app.ts";
import { restFetch, startRestServer, waitFor } from "./support/rest.ts";
import { XSS_CORPUS } from "./rest.sanitize.test.ts";
import { sanitizeHtml } from "../src/rest/sanitize/html.ts";

const srv = await startRestServer({ rest: { planEnabled: true }, publicUrl: "https://api.example.com" });
await srv.admin.unsafe(readFileSync(resolve(import.meta.dir, "fixtures/rest.advanced.sql"), "utf8"));
await srv.admin.unsafe(`notify pgrst, 'reload schema'`);
await waitFor(
  async () =>
    (await restFetch(srv, "/posts?select=id")).status === 200 && (await restFetch(srv, "/authors?select=full_title:author_books(id)&limit=1")).status === 200,
);

const svc = srv.keys.service_role;
const alice = await tokenFor({ sub: "11111111-1111-1111-1111-111111111111", role: "authenticated" });
const bob = await tokenFor({ sub: "22222222-2222-2222-2222-222222222222", role: "authenticated" });
const json = { "content-type": "application/json" };
const repr = { ...json, prefer: "return=representation" };

async function body(res: Response) {
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

describe("computed fields and relationships", () => {
  test("a computed field is selected, filtered and ordered like a column, but not part of *", async () => {
    let r = await restFetch(srv, "/books?select=id,full_title&id=lte.2&order=id");
    expect(await body(r)).toEqual([
      { id: 1, full_title: "Things Fall Apart (1958)" },
      { id: 2, full_title: "Arrow of God (1964)" },
    ]);
    r = await restFetch(srv, "/books?select=id&full_title=like.*1987*");
    expect(await body(r)).toEqual([{ id: 4 }]);
    r = await restFetch(srv, "/books?select=id&author_id=eq.1&order=full_title.desc");
    expect(await body(r)).toEqual([{ id: 1 }, { id: 2 }]);
    r = await restFetch(srv, "/books?id=eq.1");
    expect(Object.keys((await body(r))[0])).not.toContain("full_title");
    // also inside an embed, and in the representation of a write
    r = await restFetch(srv, "/authors?select=name,books!books_author_id_fkey(full_title)&id=eq.2");
    expect(await body(r)).toEqual([{ name: "Ama Ata Aidoo", books: [{ full_title: "Our Sister Killjoy (1977)" }] }]);
    r = await restFetch(srv, "/books?id=eq.4&select=id,full_title", {
      method: "PATCH",
      key: svc,
      headers: repr,
      body: JSON.stringify({ title: "Norwegian Wood!" }),
    });
    expect(await body(r)).toEqual([{ id: 4, full_title: "Norwegian Wood! (1987)" }]);
  });

  test("computed relationships: SETOF is to-many, ROWS 1 is to-one", async () => {
    const r = await restFetch(srv, "/authors?select=name,author_books(id),first_book(title)&id=eq.1");
    expect(await body(r)).toEqual([{ name: "Chinua Achebe", author_books: [{ id: 1 }, { id: 2 }], first_book: { title: "Things Fall Apart" } }]);
    const r2 = await restFetch(srv, "/authors?select=name,author_books!inner(id)&author_books.id=eq.3");
    expect(await body(r2)).toEqual([{ name: "Ama Ata Aidoo", author_books: [{ id: 3 }] }]);
  });
});

describe("embedding through views", () => {
  test("view → table, table → view, view → view (renamed columns) and in one statement", async () => {
    let r = await restFetch(srv, "/book_titles?select=title,authors(name)&id=eq.3");
    expect(await body(r)).toEqual([{ title: "Our Sister Killjoy", authors: { name: "Ama Ata Aidoo" } }]);
    r = await restFetch(srv, "/authors?select=name,priced_books(title)&id=eq.3&priced_books.order=id");
    expect(await body(r)).toEqual([{ name: "Haruki Murakami", priced_books: [{ title: "Norwegian Wood!" }, { title: "Kafka on the Shore" }] }]);
    r = await restFetch(srv, "/priced_books?select=title,author_names(name)&id=eq.1");
    expect(await body(r)).toEqual([{ title: "Things Fall Apart", author_names: { name: "Chinua Achebe" } }]);
    r = await restFetch(srv, "/author_names?select=name,book_titles(id)&author_key=eq.2");
    expect(await body(r)).toEqual([{ name: "Ama Ata Aidoo", book_titles: [{ id: 3 }] }]);
  });
});

describe("RPC overloads with unnamed parameters", () => {
  test('a single unnamed text parameter takes the key ""; other unnamed types are not callable', async () => {
    let r = await restFetch(srv, "/rpc/poly", { method: "POST", headers: json, body: JSON.stringify({ "": "a" }) });
    expect(await body(r)).toBe("text:a");
    r = await restFetch(srv, "/rpc/poly", { method: "POST", headers: json, body: JSON.stringify({ "": 7 }) });
    expect(await body(r)).toBe("text:7");
    r = await restFetch(srv, "/rpc/poly_default", { method: "POST", headers: json, body: "{}" });
    expect(r.status).toBe(300);
    expect((await body(r)).message).toBe("Could not choose the best candidate function between: public.poly_default(), public.poly_default( => text)");
    r = await restFetch(srv, "/rpc/poly_defaul", { method: "POST", headers: json, body: "{}" });
    expect(r.status).toBe(404);
    expect((await body(r)).hint).toBe("Perhaps you meant to call the function public.poly_default");
  });
});

describe("EXPLAIN (rest.planEnabled)", () => {
  test("json and text plans; writes are rolled back even with analyze", async () => {
    let r = await restFetch(srv, "/books?select=id", { headers: { accept: 'application/vnd.pgrst.plan+json; for="application/json"; options=;' } });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toContain("application/vnd.pgrst.plan+json");
    expect((await body(r))[0].Plan).toBeDefined();
    r = await restFetch(srv, "/books?select=id", { headers: { accept: "application/vnd.pgrst.plan+text; options=analyze|verbose" } });
    const text = await r.text();
    expect(text).toMatch(/^Aggregate {2}\(cost=/);
    expect(text).toContain("actual time");
    r = await restFetch(srv, "/queue?id=eq.1", { method: "DELETE", key: svc, headers: { accept: "application/vnd.pgrst.plan+json; options=analyze" } });
    expect(r.status).toBe(200);
    expect((await body(await restFetch(srv, "/queue?id=eq.1&select=id"))).length).toBe(1);
  });

  test("options as PostgREST answers them: its order in the Content-Type, settings show its search_path, a cached plan explains the request's own values", async () => {
    let r = await restFetch(srv, "/books?select=id", { headers: { accept: "application/vnd.pgrst.plan+json; options=settings|verbose|analyze|bogus|verbose" } });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe('application/vnd.pgrst.plan+json; for="application/json"; options=analyze|verbose|settings; charset=utf-8');
    const [plan] = await body(r);
    expect(plan.Plan["Actual Rows"]).toBeDefined();
    expect(plan.Plan.Output).toBeDefined();
    expect(plan.Settings.search_path).toBe('"public", "public", "extensions"');
    r = await restFetch(srv, "/books?select=id", { headers: { accept: "application/vnd.pgrst.plan+text" } });
    expect(r.headers.get("content-type")).toBe('application/vnd.pgrst.plan+text; for="application/json"; charset=utf-8');
    // The same shape twice (the second from the plan cache): each plan filters by its own value.
    for (const id of [101, 202]) {
      r = await restFetch(srv, `/books?select=id&id=eq.${id}`);
      r = await restFetch(srv, `/books?select=id&id=eq.${id}`, { headers: { accept: "application/vnd.pgrst.plan+text; options=verbose" } });
      expect(await r.text()).toContain(`= ${id}`);
    }
  });
});

describe("PATCH and DELETE", () => {
  test("limit with order affects only the first rows", async () => {
    let r = await restFetch(srv, "/queue?state=eq.new&order=priority.desc,id.asc&limit=2&select=id", {
      method: "PATCH",
      key: svc,
      headers: repr,
      body: JSON.stringify({ state: "taken" }),
    });
    expect(await body(r)).toEqual([{ id: 2 }, { id: 5 }]);
    r = await restFetch(srv, "/queue?state=eq.new&order=id.desc&limit=1", { method: "DELETE", key: svc, headers: repr });
    expect(await body(r)).toEqual([{ id: 9, state: "new", priority: 0 }]);
    r = await restFetch(srv, "/queue?select=id&state=eq.taken&order=id");
    expect(await body(r)).toEqual([{ id: 2 }, { id: 5 }]);
    r = await restFetch(srv, "/book_titles?id=eq.1&limit=1", { method: "DELETE", key: svc });
    expect(r.status).toBe(400);
  });

  test("PATCH with an empty object changes nothing", async () => {
    let r = await restFetch(srv, "/queue?id=eq.1", { method: "PATCH", key: svc, headers: json, body: "{}" });
    expect(r.status).toBe(204);
    r = await restFetch(srv, "/queue?id=eq.1", { method: "PATCH", key: svc, headers: repr, body: "{}" });
    expect(r.status).toBe(200);
    expect(await body(r)).toEqual([]);
  });
});

describe("plinth.rich_text", () => {
  test("every XSS vector written through the API is stored sanitised", async () => {
    const rows = XSS_CORPUS.map((html, i) => ({ title: `xss ${i}`, body: html }));
    const r = await restFetch(srv, "/posts?select=title,body", { method: "POST", key: svc, headers: repr, body: JSON.stringify(rows) });
    expect(r.status).toBe(201);
    const stored = (await body(r)) as Array<{ body: { html: string } }>;
    expect(stored.length).toBe(XSS_CORPUS.length);
    for (let i = 0; i < stored.length; i++) {
      expect(stored[i]!.body.html).toBe(sanitizeHtml(XSS_CORPUS[i]!));
      expect(stored[i]!.body.html).not.toMatch(/<script|javascript:/i);
    }
  });

  test("documents, PATCH and CSV are sanitised too; reads are untouched", async () => {
    let r = await restFetch(srv, "/posts?select=id,body", {
      method: "POST",
      key: svc,
      headers: repr,
      body: JSON.stringify({
        body: {
          type: "doc",
          content: [
            { type: "iframe", attrs: { src: "https://x" } },
            { type: "paragraph", attrs: { onclick: "x" }, html: "<b onmouseover=x>b</b>" },
          ],
        },
      }),
    });
    const [{ id, body: doc }] = await body(r);
    expect(doc).toEqual({ type: "doc", content: [{ type: "paragraph", attrs: {}, html: "<b>b</b>" }] });
    r = await restFetch(srv, `/posts?id=eq.${id}&select=body`, {
      method: "PATCH",
      key: svc,
      headers: repr,
      body: JSON.stringify({ body: `<a href="javascript:alert(1)">x</a>` }),
    });
    expect(await body(r)).toEqual([{ body: { html: "<a>x</a>" } }]);
    r = await restFetch(srv, "/posts?select=title,body&columns=title,body", {
      method: "POST",
      key: svc,
      headers: { "content-type": "text/csv", prefer: "return=representation" },
      body: `title,body\ncsv,"<img src=x onerror=alert(1)>"`,
    });
    expect(await body(r)).toEqual([{ title: "csv", body: { html: `<img src="x">` } }]);
    // a stored value that was written around the API is returned as it is
    await srv.admin.unsafe(`update public.posts set body = '{"html": "<i>raw</i>"}' where id = ${id}`);
    r = await restFetch(srv, `/posts?id=eq.${id}&select=body`);
    expect(await body(r)).toEqual([{ body: { html: "<i>raw</i>" } }]);
  });
});

describe("plinth.file_ref", () => {
  test("writes must name a storage object the caller can see", async () => {
    let r = await restFetch(srv, "/posts", {
      method: "POST",
      key: svc,
      headers: json,
      body: JSON.stringify({ title: "c", cover: { bucket: "media", path: "covers/b.png" } }),
    });
    expect(r.status).toBe(201);
    r = await restFetch(srv, "/posts", {
      method: "POST",
      key: svc,
      headers: json,
      body: JSON.stringify({ title: "c", cover: { bucket: "media", path: "nope.png" } }),
    });
    expect(r.status).toBe(409);
    expect((await body(r)).code).toBe("23503");
    // the private object exists, but alice may not see it under storage RLS; bob may
    const ref = { bucket: "private", path: "secret.txt" };
    await srv.admin.unsafe(`grant all on public.posts to authenticated`);
    r = await restFetch(srv, "/posts", { method: "POST", token: alice, headers: json, body: JSON.stringify({ title: "a", cover: ref }) });
    expect(r.status).toBe(409);
    r = await restFetch(srv, "/posts", { method: "POST", token: bob, headers: json, body: JSON.stringify({ title: "b", cover: ref }) });
    expect(r.status).toBe(201);
    r = await restFetch(srv, "/posts", { method: "POST", key: svc, headers: json, body: JSON.stringify({ title: "bad", cover: { bucket: 1 } }) });
    expect(r.status).toBe(400);
    expect((await body(r)).code).toBe("23514");
  });

  test("Prefer: plinth-file-refs=expand answers {bucket, path, size, mimetype, url}", async () => {
    const expand = { prefer: "plinth-file-refs=expand" };
    let r = await restFetch(srv, "/posts?select=title,cover&title=in.(hello,secret)&order=id", { headers: expand });
    expect(r.headers.get("preference-applied")).toContain("plinth-file-refs=expand");
    expect(await body(r)).toEqual([
      {
        title: "hello",
        cover: {
          bucket: "media",
          path: "covers/a.png",
          size: 1234,
          mimetype: "image/png",
          url: "https://api.example.com/storage/v1/object/public/media/covers/a.png",
        },
      },
      // anon may not see the private object: the reference comes back without metadata
      { title: "secret", cover: { bucket: "private", path: "secret.txt", size: null, mimetype: null, url: null } },
    ]);
    r = await restFetch(srv, "/posts?select=cover&title=eq.secret", { token: bob, headers: expand });
    expect((await body(r))[0].cover).toEqual({
      bucket: "private",
      path: "secret.txt",
      size: 10,
      mimetype: "text/plain",
      url: "https://api.example.com/storage/v1/object/authenticated/private/secret.txt",
    });
    // without the preference the raw reference; and expansion inside embeds
    r = await restFetch(srv, "/posts?select=cover&title=eq.hello");
    expect(await body(r)).toEqual([{ cover: { bucket: "media", path: "covers/a.png" } }]);
    await srv.admin.unsafe(
      `insert into public.post_comments (post_id, avatar) select id, '{"bucket": "media", "path": "covers/b.png"}' from public.posts where title = 'hello'`,
    );
    r = await restFetch(srv, "/post_comments?select=avatar,posts(cover)", { headers: expand });
    const [c] = await body(r);
    expect(c.avatar.size).toBe(99);
    expect(c.posts.cover.size).toBe(1234);
  });

  test("removing an owned reference deletes the object (as the caller, unless still referenced)", async () => {
    const exists = async (path: string) => (await srv.admin`select 1 from storage.objects where bucket_id = 'media' and name = ${path}`).length === 1;
    const doc = (n: number) => ({ bucket: "media", path: `files/doc${n}.pdf` });
    let r = await restFetch(srv, "/posts?select=id", {
      method: "POST",
      token: alice,
      headers: repr,
      body: JSON.stringify({ title: "owned", attachment: doc(1) }),
    });
    const [{ id }] = await body(r);
    // replacing the reference removes the old object
    r = await restFetch(srv, `/posts?id=eq.${id}`, { method: "PATCH", token: alice, headers: json, body: JSON.stringify({ attachment: doc(2) }) });
    expect(r.status).toBe(204);
    expect(await exists("files/doc1.pdf")).toBe(false);
    expect(await exists("files/doc2.pdf")).toBe(true);
    // a second row shares doc2: deleting the first row keeps it
    r = await restFetch(srv, "/posts", { method: "POST", token: alice, headers: json, body: JSON.stringify({ title: "owned2", attachment: doc(2) }) });
    r = await restFetch(srv, `/posts?id=eq.${id}`, { method: "DELETE", token: alice });
    expect(r.status).toBe(204);
    expect(await exists("files/doc2.pdf")).toBe(true);
    // bob may not delete alice's object: the reference goes, the object stays
    r = await restFetch(srv, "/posts?title=eq.owned2", { method: "PATCH", token: bob, headers: json, body: JSON.stringify({ attachment: null }) });
    expect(r.status).toBe(204);
    expect(await exists("files/doc2.pdf")).toBe(true);
    // cover has no on_remove flag: nothing is deleted
    r = await restFetch(srv, "/posts?title=eq.hello", { method: "PATCH", key: svc, headers: json, body: JSON.stringify({ cover: null }) });
    expect(await exists("covers/a.png")).toBe(true);
    // tx=rollback undoes the deletion with the write
    r = await restFetch(srv, "/posts?select=id", {
      method: "POST",
      token: alice,
      headers: repr,
      body: JSON.stringify({ title: "owned3", attachment: doc(3) }),
    });
    const [{ id: id3 }] = await body(r);
    r = await restFetch(srv, `/posts?id=eq.${id3}`, { method: "DELETE", token: alice, headers: { prefer: "tx=rollback" } });
    expect(await exists("files/doc3.pdf")).toBe(true);
  });
});
