// The REST API driven through the real @supabase/supabase-js client: reads, embedding, filters,
// writes, RPC, RLS for anon and two users, CSV and the error cases.
import { describe, expect, test } from "bun:test";
import { createClient } from "@supabase/supabase-js";
import { tokenFor } from "./support/app.ts";
import { startRestServer } from "./support/rest.ts";

const srv = await startRestServer();
const opts = { auth: { persistSession: false, autoRefreshToken: false } };
const anon = createClient(srv.url, srv.keys.anon, opts);
const service = createClient(srv.url, srv.keys.service_role, opts);
const ALICE = "11111111-1111-1111-1111-111111111111";
const BOB = "22222222-2222-2222-2222-222222222222";
const asUser = async (sub: string) =>
  createClient(srv.url, srv.keys.anon, { ...opts, global: { headers: { Authorization: `Bearer ${await tokenFor({ sub, role: "authenticated" })}` } } });

describe("reads", () => {
  test("select columns with filters and order", async () => {
    const { data, error, status } = await anon.from("books").select("id, title").gte("id", 2).lt("id", 5).order("id", { ascending: false });
    expect(error).toBeNull();
    expect(status).toBe(200);
    expect(data).toEqual([
      { id: 4, title: "Norwegian Wood" },
      { id: 3, title: "Our Sister Killjoy" },
      { id: 2, title: "Arrow of God" },
    ]);
  });

  test("aliases, casts and JSON paths", async () => {
    const { data, error } = await anon.from("books").select("name:title, price::text, pages:meta->>pages, lang:meta->lang").eq("id", 1).single();
    expect(error).toBeNull();
    expect(data).toEqual({ name: "Things Fall Apart", price: "12.50", pages: "209", lang: "en" });
  });

  test("bigint keeps its precision", async () => {
    const res = await fetch(`${srv.url}/rest/v1/books?select=big&id=eq.1`, { headers: { apikey: srv.keys.anon } });
    expect(await res.text()).toBe('[{"big":9007199254740993}]');
  });

  test("count, range, head", async () => {
    const { data, count, status } = await anon.from("books").select("id", { count: "exact" }).order("id").range(1, 2);
    expect(data).toEqual([{ id: 2 }, { id: 3 }]);
    expect(count).toBe(5);
    expect(status).toBe(206);
    const head = await anon.from("books").select("*", { count: "exact", head: true });
    expect(head.count).toBe(5);
    expect(head.data).toBeNull();
    const planned = await anon.from("books").select("*", { count: "planned", head: true });
    expect(typeof planned.count).toBe("number");
  });

  test("single and maybeSingle", async () => {
    const one = await anon.from("books").select("title").eq("id", 2).single();
    expect(one.data).toEqual({ title: "Arrow of God" });
    const many = await anon.from("books").select("title").single();
    expect(many.error?.code).toBe("PGRST116");
    expect(many.status).toBe(406);
    const none = await anon.from("books").select("title").eq("id", 999).maybeSingle();
    expect(none.data).toBeNull();
    expect(none.error).toBeNull();
  });

  test("csv", async () => {
    const { data } = await anon.from("countries").select("id,name").order("id").csv();
    expect(data).toBe("id,name\n1,Ghana\n2,France\n3,Japan");
  });

  test("stripNulls", async () => {
    const { data } = await anon.from("authors").select("name,bio").eq("id", 2).stripNulls();
    expect(data as unknown).toEqual([{ name: "Ama Ata Aidoo" }]);
  });
});

describe("filters", () => {
  const ids = async (q: PromiseLike<{ data: unknown }>) => ((await q).data as Array<{ id: number }>).map((r) => r.id);
  test("operators", async () => {
    const b = () => anon.from("books").select("id").order("id");
    expect(await ids(b().neq("id", 1))).toEqual([2, 3, 4, 5]);
    expect(await ids(b().like("title", "%Wood"))).toEqual([4]);
    expect(await ids(b().ilike("title", "%arrow%"))).toEqual([2]);
    expect(await ids(b().likeAnyOf("title", ["Arrow%", "Kafka%"]))).toEqual([2, 5]);
    expect(await ids(b().in("title", ["Arrow of God", "Norwegian Wood"]))).toEqual([2, 4]);
    expect(await ids(b().is("price", null))).toEqual([3]);
    expect(await ids(b().not("price", "is", null))).toEqual([1, 2, 4, 5]);
    expect(await ids(b().contains("tags", ["africa"]))).toEqual([1, 2, 3]);
    expect(await ids(b().containedBy("tags", ["japan", "love"]))).toEqual([4, 5]);
    expect(await ids(b().overlaps("tags", ["love", "feminism"]))).toEqual([3, 4]);
    expect(await ids(b().contains("meta", { lang: "ja" }))).toEqual([4]);
    expect(await ids(b().textSearch("search", "'fall' & 'apart'", { config: "english" }))).toEqual([1]);
    expect(await ids(b().textSearch("search", "kafka shore", { type: "websearch" }))).toEqual([5]);
    expect(await ids(b().match({ author_id: 1, editor_id: 3 }))).toEqual([2]);
    expect(await ids(b().filter("mood", "eq", "happy"))).toEqual([1, 5]);
    expect(await ids(b().gt("meta->pages", 250))).toEqual([2, 4]);
    expect(await ids(b().eq("meta->>lang", "ja"))).toEqual([4]);
    expect(await ids(b().isDistinct("mood", "happy"))).toEqual([2, 3, 4]);
  });

  test("or / and nesting and on embeds", async () => {
    const { data } = await anon.from("books").select("id").or("id.eq.1,and(author_id.eq.3,price.gt.16)").order("id");
    expect(data).toEqual([{ id: 1 }, { id: 5 }]);
    const emb = await anon
      .from("authors")
      .select("name, books!author_id(title)")
      .or("title.eq.Arrow of God,title.eq.Norwegian Wood", { referencedTable: "books" })
      .order("id");
    expect(emb.data).toEqual([
      { name: "Chinua Achebe", books: [{ title: "Arrow of God" }] },
      { name: "Ama Ata Aidoo", books: [] },
      { name: "Haruki Murakami", books: [{ title: "Norwegian Wood" }] },
    ]);
  });

  test("ranges", async () => {
    const e = () => anon.from("events").select("id").order("id");
    expect(await ids(e().rangeGt("during", "[0,4]"))).toEqual([2]);
    expect(await ids(e().rangeAdjacent("during", "[20,30)"))).toEqual([2]);
    expect(await ids(e().overlaps("during", "[8,9)"))).toEqual([1, 2]);
    expect(await ids(e().rangeLt("during", "[30,40)"))).toEqual([1, 2]);
  });
});

describe("embedding", () => {
  test("many-to-one with hints, one-to-many, many-to-many, one-to-one", async () => {
    const { data, error } = await anon
      .from("books")
      .select("title, author:authors!author_id(name), editor:authors!books_editor_id_fkey(name), genres(name)")
      .eq("id", 4)
      .single();
    expect(error).toBeNull();
    expect(data as unknown).toEqual({
      title: "Norwegian Wood",
      author: { name: "Haruki Murakami" },
      editor: null,
      genres: [{ name: "Fiction" }, { name: "Romance" }],
    });
    const c = await anon.from("countries").select("name, capitals(cities(name))").eq("id", 2).single();
    expect(c.data as unknown).toEqual({ name: "France", capitals: { cities: { name: "Paris" } } });
  });

  test("ambiguous embed is a 300 with PGRST201", async () => {
    const { error, status } = await anon.from("books").select("title, authors(name)");
    expect(status).toBe(300);
    expect(error?.code).toBe("PGRST201");
  });

  test("inner join, embedded order/limit, spread, self reference", async () => {
    const inner = await anon.from("countries").select("name, cities!inner(name)").eq("cities.name", "Lyon");
    expect(inner.data).toEqual([{ name: "France", cities: [{ name: "Lyon" }] }]);
    const ordered = await anon
      .from("countries")
      .select("name, cities(name)")
      .eq("id", 1)
      .order("name", { referencedTable: "cities", ascending: false })
      .limit(1, { referencedTable: "cities" });
    expect(ordered.data).toEqual([{ name: "Ghana", cities: [{ name: "Kumasi" }] }]);
    const spread = await anon.from("books").select("title, ...authors!author_id(author_name:name)").eq("id", 3).single();
    expect(spread.data).toEqual({ title: "Our Sister Killjoy", author_name: "Ama Ata Aidoo" });
    const self = await anon.from("employees").select("name, manager:manager_id(name), reports:employees(name)").eq("id", 2).single();
    expect(self.data as unknown).toEqual({ name: "Bo", manager: { name: "Ada" }, reports: [{ name: "Di" }] });
  });

  test("null filter on an embed and aggregates", async () => {
    const { data } = await anon.from("books").select("id, editor:authors!editor_id(name)").not("editor", "is", null).order("id");
    expect((data ?? []).map((r) => r.id)).toEqual([1, 2, 3, 5]);
    // `count` without () counts when there is no such column (PostgREST's backwards compatibility).
    const agg = await anon.from("authors").select("name, books!author_id(count)").order("id");
    expect((agg.data ?? []).map((a) => (a.books as unknown as Array<{ count: number }>)[0]!.count)).toEqual([2, 1, 2]);
    const agg2 = await anon.from("authors").select("name, books!author_id(count())").order("id");
    expect(agg2.data).toEqual([
      { name: "Chinua Achebe", books: [{ count: 2 }] },
      { name: "Ama Ata Aidoo", books: [{ count: 1 }] },
      { name: "Haruki Murakami", books: [{ count: 2 }] },
    ]);
  });
});

describe("writes", () => {
  test("insert, update, upsert, delete with return representation", async () => {
    const ins = await service.from("genres").insert({ id: 10, name: "Poetry" }).select().single();
    expect(ins.status).toBe(201);
    expect(ins.data).toEqual({ id: 10, name: "Poetry" });
    const bulk = await service
      .from("genres")
      .insert([
        { id: 11, name: "Drama" },
        { id: 12, name: "Essay" },
      ])
      .select("id");
    expect(bulk.data).toEqual([{ id: 11 }, { id: 12 }]);
    const upd = await service.from("genres").update({ name: "Plays" }).eq("id", 11).select("name");
    expect(upd.data).toEqual([{ name: "Plays" }]);
    const ups = await service
      .from("genres")
      .upsert([
        { id: 12, name: "Essays" },
        { id: 13, name: "Satire" },
      ])
      .select()
      .order("id");
    expect(ups.data).toEqual([
      { id: 12, name: "Essays" },
      { id: 13, name: "Satire" },
    ]);
    const ign = await service.from("genres").upsert({ id: 13, name: "ignored" }, { ignoreDuplicates: true }).select();
    expect(ign.data).toEqual([]);
    const del = await service.from("genres").delete().gte("id", 10).select("id");
    expect((del.data ?? []).length).toBe(4);
  });

  test("minimal return, default values, arrays and jsonb", async () => {
    const r = await service.from("books").insert({ title: "New", author_id: 1, tags: ["a", "b,c"], meta: { x: [1, { y: null }] } });
    expect(r.status).toBe(201);
    expect(r.data).toBeNull();
    const { data } = await service.from("books").select("tags, meta, mood").eq("title", "New").single();
    expect(data).toEqual({ tags: ["a", "b,c"], meta: { x: [1, { y: null }] }, mood: null });
    const withDefault = await service
      .from("books")
      .insert([{ title: "D1" }, { title: "D2", tags: ["z"] }], { defaultToNull: false })
      .select("title, tags")
      .order("title");
    expect(withDefault.data).toEqual([
      { title: "D1", tags: [] },
      { title: "D2", tags: ["z"] },
    ]);
    await service.from("books").delete().in("title", ["New", "D1", "D2"]);
  });

  test("update and delete without filters are refused", async () => {
    const u = await service.from("genres").update({ name: "x" });
    expect(u.status).toBe(400);
    expect(u.error?.message).toContain("requires a WHERE clause");
    const d = await service.from("genres").delete();
    expect(d.status).toBe(400);
  });

  test("constraint errors map to PostgREST statuses", async () => {
    const dup = await service.from("genres").insert({ id: 1, name: "dup" });
    expect(dup.status).toBe(409);
    expect(dup.error?.code).toBe("23505");
    const fk = await service.from("book_genres").insert({ book_id: 1, genre_id: 999 });
    expect(fk.status).toBe(409);
    expect(fk.error?.code).toBe("23503");
    const nn = await service.from("genres").insert({ id: 50 });
    expect(nn.status).toBe(400);
    expect(nn.error?.code).toBe("23502");
    const col = await service.from("genres").insert({ id: 51, nope: 1 });
    expect(col.error?.code).toBe("PGRST204");
  });

  test("rollback and max-affected", async () => {
    const r = await service.from("genres").insert({ id: 60, name: "Temp" }).select().rollback();
    expect(r.data).toEqual([{ id: 60, name: "Temp" }]);
    const after = await service.from("genres").select().eq("id", 60);
    expect(after.data).toEqual([]);
    // maxAffected is typed for PostgREST 13+ clients only; the untyped client still sends it.
    type MaxAffected = { maxAffected(n: number): PromiseLike<{ error: { code: string } | null }> };
    const m = await (service.from("books").update({ price: 1 }).gt("id", 0) as unknown as MaxAffected).maxAffected(1);
    expect(m.error?.code).toBe("PGRST124");
    const still = await service.from("books").select("price").eq("id", 2).single();
    expect(still.data).toEqual({ price: 10.0 });
  });
});

describe("rpc", () => {
  test("scalar, set-returning with filters, table, json arg, void, errors", async () => {
    expect((await anon.rpc("add", { a: 2, b: 40 })).data).toBe(42);
    expect((await anon.rpc("add", { a: 1, b: 1 }, { get: true })).data).toBe(2);
    expect((await anon.rpc("numbers", { n: 3 })).data).toEqual([1, 2, 3]);
    const books = await anon.rpc("books_by", { author: 3 }).select("title").order("title", { ascending: false });
    expect(books.data).toEqual([{ title: "Norwegian Wood" }, { title: "Kafka on the Shore" }]);
    const stats = await anon.rpc("author_stats").eq("author_id", 2);
    expect(stats.data).toEqual([{ author_id: 2, books: 1 }]);
    expect((await anon.rpc("echo_json", { any: ["thing"] })).data).toEqual({ any: ["thing"] });
    expect((await anon.rpc("sum_array", { xs: [1, 2, 3] })).data).toBe(6);
    const v = await service.rpc("bump_author", { aid: 2 });
    expect(v.status).toBe(204);
    const fail = await anon.rpc("fail", { msg: "boom" });
    expect(fail.status).toBe(400);
    expect(fail.error).toMatchObject({ code: "P0001", message: "boom", hint: "raised on purpose" });
    const tea = await anon.rpc("teapot");
    expect(tea.status).toBe(418);
    const missing = await anon.rpc("nope", { x: 1 });
    expect(missing.status).toBe(404);
    expect(missing.error?.code).toBe("PGRST202");
    const head = await anon.rpc("numbers", { n: 4 }, { head: true, count: "exact" });
    expect(head.count).toBe(4);
  });

  test("volatile function refused over GET", async () => {
    const r = await service.rpc("bump_author", { aid: 1 }, { get: true });
    expect(r.status).toBe(405);
  });
});

describe("security", () => {
  test("RLS for anon and two users", async () => {
    const pub = await anon.from("notes").select("body").order("id");
    expect(pub.data).toEqual([{ body: "alice public" }]);
    const alice = await asUser(ALICE);
    const bob = await asUser(BOB);
    expect((await alice.from("notes").select("body").order("id")).data).toEqual([{ body: "alice private" }, { body: "alice public" }]);
    expect((await bob.from("notes").select("body").order("id")).data).toEqual([{ body: "alice public" }, { body: "bob private" }]);
    const w = await bob.from("notes").insert({ body: "bob new" }).select("body, owner").single();
    expect(w.data).toEqual({ body: "bob new", owner: BOB });
    const forged = await bob.from("notes").insert({ body: "as alice", owner: ALICE });
    expect(forged.status).toBe(403);
    expect(forged.error?.code).toBe("42501");
    const anonWrite = await anon.from("notes").insert({ body: "anon" });
    expect(anonWrite.status).toBe(401);
    const upd = await bob.from("notes").update({ body: "hacked" }).eq("body", "alice private").select();
    expect(upd.data).toEqual([]);
    const who = await alice.rpc("whoami");
    expect(who.data).toEqual({ role: "authenticated", sub: ALICE });
  });

  test("insert-only table: minimal return works, representation is refused", async () => {
    const ok = await anon.from("feedback").insert({ message: "hi" });
    expect(ok.status).toBe(201);
    const rep = await anon.from("feedback").insert({ message: "hi" }).select();
    expect(rep.error?.code).toBe("42501");
  });

  test("column privileges", async () => {
    expect((await anon.from("accounts").select("id, name")).data).toEqual([{ id: 1, name: "acme" }]);
    const secret = await anon.from("accounts").select("secret");
    expect(secret.status).toBe(401);
    expect(secret.error?.code).toBe("42501");
  });

  test("unknown table and column", async () => {
    const t = await anon.from("nope").select();
    expect(t.status).toBe(404);
    expect(t.error?.code).toBe("PGRST205");
    const c = await anon.from("books").select("nope");
    expect(c.status).toBe(400);
    expect(c.error?.code).toBe("42703");
  });
});
