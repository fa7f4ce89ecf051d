// PostgREST's exact answers where clients look at the details: which relationship an embed's
// `!hint` picks (and the PGRST200/PGRST201/42712 errors when none or several do), how PostgreSQL
// names a missing column of an embedded table, RAISE passthrough (DETAIL/HINT, SQLSTATE 'PGRST'
// custom responses) and the CSV body.
import { describe, expect, test } from "bun:test";
import { restFetch, startRestServer, waitFor } from "./support/rest.ts";

const srv = await startRestServer();
await srv.admin.unsafe(`
  create table public.members (id int primary key, nick text);
  -- Two keys to members; the first-created constraint sorts last.
  create table public.pairings (
    id int primary key,
    lead int constraint zz_pairings_lead references public.members,
    mate int constraint aa_pairings_mate references public.members
  );
  create table public.badges (id int primary key, title text);
  create table public.member_badges (
    member_id int references public.members, badge_id int references public.badges,
    primary key (member_id, badge_id)
  );
  -- A self-referencing tree with a named key.
  create table public.nodes (id int primary key, up int constraint nodes_up_link references public.nodes, label text);
  insert into public.members values (1, 'ann'), (2, 'bo'), (3, 'cy');
  insert into public.pairings values (10, 1, 2), (11, 3, null);
  insert into public.badges values (1, 'gold');
  insert into public.member_badges values (1, 1);
  insert into public.nodes values (1, null, 'root'), (2, 1, 'left'), (3, 1, 'right'), (4, 2, 'leaf');

  create function public.custom_teapot() returns void language plpgsql as $$
  begin
    raise sqlstate 'PGRST' using
      message = '{"code":"T418","message":"short and stout","details":"handle","hint":"tip me over"}',
      detail = '{"status":418,"status_text":"I am a teapot","headers":{"X-Pour":"now"}}';
  end $$;
  create function public.bad_message() returns void language plpgsql as $$
  begin raise sqlstate 'PGRST' using message = 'not json', detail = '{"status":400,"headers":{}}'; end $$;
  create function public.no_detail() returns void language plpgsql as $$
  begin raise sqlstate 'PGRST' using message = '{"code":"X","message":"m"}'; end $$;
  create function public.bad_detail() returns void language plpgsql as $$
  begin raise sqlstate 'PGRST' using message = '{"code":"X","message":"m"}', detail = '{"status":"x"}'; end $$;
  create function public.hinted() returns void language plpgsql as $$
  begin raise 'out of stock' using detail = 'sku 42 has 0 left', hint = 'restock first'; end $$;

  create table public.quirky (id int primary key, "a,b" text, note text, payload jsonb);
  insert into public.quirky values (1, 'x', null, '{"k": "v"}'), (2, 'say "hi"', 'line1
line2', null), (3, '', 'plain', '[1,2]');
  create table public.prefs (id int primary key, theme text default 'light', note text);
  insert into public.prefs values (1, 'dark', 'kept?');
  grant all on all tables in schema public to anon, authenticated, service_role;
  notify pgrst, 'reload schema';
`);
await waitFor(async () => (await restFetch(srv, "/quirky?limit=1")).status === 200);

async function get(path: string) {
  const r = await restFetch(srv, path);
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null, res: r };
}

describe("embed hints", () => {
  test("two keys to the same table are ambiguous, candidates in PostgREST's order", async () => {
    const { status, body } = await get("/pairings?select=id,members(*)");
    expect(status).toBe(300);
    expect(body).toEqual({
      code: "PGRST201",
      message: "Could not embed because more than one relationship was found for 'pairings' and 'members'",
      details: [
        { cardinality: "many-to-one", embedding: "pairings with members", relationship: "aa_pairings_mate using pairings(mate) and members(id)" },
        { cardinality: "many-to-one", embedding: "pairings with members", relationship: "zz_pairings_lead using pairings(lead) and members(id)" },
      ],
      hint: "Try changing 'members' to one of the following: 'members!aa_pairings_mate', 'members!zz_pairings_lead'. Find the desired relationship in the 'details' key.",
    });
    // From the other side: two one-to-many and no junction (pairings' key is not made of both).
    const back = await get("/members?select=pairings(*)");
    expect(back.status).toBe(300);
    expect(back.body.details.map((d: { relationship: string }) => d.relationship)).toEqual([
      "aa_pairings_mate using members(id) and pairings(mate)",
      "zz_pairings_lead using members(id) and pairings(lead)",
    ]);
  });

  test("a hint names the constraint or a column; the referenced column alone stays ambiguous", async () => {
    expect((await get("/pairings?select=id,members!zz_pairings_lead(nick)&order=id")).body).toEqual([
      { id: 10, members: { nick: "ann" } },
      { id: 11, members: { nick: "cy" } },
    ]);
    expect((await get("/pairings?select=id,members!mate(nick)&order=id")).body).toEqual([
      { id: 10, members: { nick: "bo" } },
      { id: 11, members: null },
    ]);
    const byRef = await get("/pairings?select=members!id(*)");
    expect(byRef.status).toBe(300);
    expect(byRef.body.details).toHaveLength(2);
    const none = await get("/pairings?select=members!nope(*)");
    expect(none.status).toBe(400);
    expect(none.body).toEqual({
      code: "PGRST200",
      message: "Could not find a relationship between 'pairings' and 'members' in the schema cache",
      details:
        "Searched for a foreign key relationship between 'pairings' and 'members' using the hint 'nope' in the schema 'public', but no matches were found.",
      hint: null,
    });
  });

  test("many-to-many is hinted by the junction table, not by a constraint", async () => {
    expect((await get("/members?select=nick,badges!member_badges(title)&id=eq.1")).body).toEqual([{ nick: "ann", badges: [{ title: "gold" }] }]);
    const r = await get("/members?select=badges!member_badges_badge_id_fkey(title)");
    expect(r.status).toBe(400);
    expect(r.body.code).toBe("PGRST200");
  });

  test("self-reference: the table is the children, the key column the parent, a hint only the children's column", async () => {
    expect((await get("/nodes?select=label,nodes(label)&id=eq.1")).body).toEqual([{ label: "root", nodes: [{ label: "left" }, { label: "right" }] }]);
    expect((await get("/nodes?select=label,up(label)&id=eq.4")).body).toEqual([{ label: "leaf", up: { label: "left" } }]);
    expect((await get("/nodes?select=label,kids:nodes!up(label)&id=eq.2")).body).toEqual([{ label: "left", kids: [{ label: "leaf" }] }]);
    const byConstraint = await get("/nodes?select=*,nodes!nodes_up_link(*)");
    expect(byConstraint.status).toBe(400);
    expect(byConstraint.body).toEqual({
      code: "PGRST200",
      message: "Could not find a relationship between 'nodes' and 'nodes' in the schema cache",
      details:
        "Searched for a foreign key relationship between 'nodes' and 'nodes' using the hint 'nodes_up_link' in the schema 'public', but no matches were found.",
      hint: null,
    });
  });

  test("a misspelt target gets PostgREST's suggestion", async () => {
    const r = await get("/pairings?select=membres(*)");
    expect(r.status).toBe(400);
    expect(r.body.hint).toBe("Perhaps you meant 'members' instead of 'membres'.");
  });

  test("two embeds under one name fail as PostgREST's SQL does (42712); aliases avoid it", async () => {
    const dup = await get("/pairings?select=members!lead(*),members!mate(*)");
    expect(dup.status).toBe(400);
    expect(dup.body).toEqual({ code: "42712", details: null, hint: null, message: `table name "pairings_members_1" specified more than once` });
    const aliased = await get("/pairings?select=members:members!lead(*),members!mate(*)");
    expect(aliased.body.code).toBe("42712");
    expect((await get("/pairings?select=a:members!lead(nick),b:members!mate(nick)&id=eq.10")).body).toEqual([{ a: { nick: "ann" }, b: { nick: "bo" } }]);
  });

  test("relationship errors anywhere in the tree come before missing columns", async () => {
    const r = await get("/pairings?select=nosuch,members!lead(nick,members_x(*))");
    expect(r.body.code).toBe("PGRST200");
    expect(r.body.message).toBe("Could not find a relationship between 'members' and 'members_x' in the schema cache");
  });
});

describe("missing columns name the relation as PostgreSQL sees PostgREST's query", () => {
  test("root, embedded (aliased by depth) and many-to-many", async () => {
    expect((await get("/pairings?select=sum")).body).toEqual({ code: "42703", details: null, hint: null, message: "column pairings.sum does not exist" });
    expect((await get("/pairings?select=id,members!lead(sum)")).body.message).toBe("column members_1.sum does not exist");
    expect((await get("/nodes?select=id,nodes(id,nodes(sum))")).body.message).toBe("column nodes_2.sum does not exist");
    expect((await get("/members?select=id,badges(sum)")).body.message).toBe("column badges.sum does not exist");
    expect((await get("/pairings?select=id,members!lead(nick)&members.sum=eq.1")).body.message).toBe("column members_1.sum does not exist");
  });
});

describe("RAISE passthrough", () => {
  test("DETAIL and HINT of a plain RAISE reach the client", async () => {
    const r = await restFetch(srv, "/rpc/hinted", { method: "POST" });
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({ code: "P0001", message: "out of stock", details: "sku 42 has 0 left", hint: "restock first" });
  });

  test("SQLSTATE 'PGRST' sets the status, headers and body", async () => {
    const r = await restFetch(srv, "/rpc/custom_teapot", { method: "POST" });
    expect(r.status).toBe(418);
    expect(r.headers.get("x-pour")).toBe("now");
    expect(await r.json()).toEqual({ code: "T418", message: "short and stout", details: "handle", hint: "tip me over" });
  });

  test("SQLSTATE 'PGRST' with JSON that does not fit is PGRST121", async () => {
    const title = `Could not parse JSON in the "RAISE SQLSTATE 'PGRST'" error`;
    let r = await restFetch(srv, "/rpc/bad_message", { method: "POST" });
    expect(r.status).toBe(500);
    expect(await r.json()).toEqual({
      code: "PGRST121",
      message: title,
      details: "Invalid JSON value for MESSAGE: 'not json'",
      hint: "MESSAGE must be a JSON object with obligatory keys: 'code', 'message' and optional keys: 'details', 'hint'.",
    });
    r = await restFetch(srv, "/rpc/no_detail", { method: "POST" });
    expect(await r.json()).toEqual({
      code: "PGRST121",
      message: title,
      details: "DETAIL is missing in the RAISE statement",
      hint: "DETAIL must be a JSON object with obligatory keys: 'status', 'headers' and optional key: 'status_text'.",
    });
    r = await restFetch(srv, "/rpc/bad_detail", { method: "POST" });
    expect((await r.json()).details).toBe(`Invalid JSON value for DETAIL: '{"status":"x"}'`);
  });
});

describe("upsert with missing=default", () => {
  test("a merged row's left-out columns take their defaults, as in PostgREST's statement", async () => {
    const r = await restFetch(srv, "/prefs?columns=id,theme,note", {
      method: "POST",
      headers: { "content-type": "application/json", prefer: "resolution=merge-duplicates,missing=default,return=representation" },
      body: JSON.stringify([{ id: 1 }, { id: 2, note: "new" }]),
    });
    expect(r.status).toBe(201);
    const rows = (await r.json()) as Array<{ id: number; theme: string; note: string | null }>;
    expect(rows.sort((a, b) => a.id - b.id)).toEqual([
      { id: 1, theme: "light", note: null },
      { id: 2, theme: "light", note: "new" },
    ]);
  });
});

describe("insert with missing=default", () => {
  test("rows keep their order, and every row draws its defaults (a sequence advances for each), as PostgREST", async () => {
    await srv.admin.unsafe(`
      create table public.channels_md (id bigint generated by default as identity primary key, slug text, made timestamptz default now(), tags text[] default '{x}');
      grant all on public.channels_md to anon;
      notify pgrst, 'reload schema';`);
    await waitFor(async () => (await restFetch(srv, "/channels_md")).status === 200);
    const r = await restFetch(srv, "/channels_md?columns=id,slug,tags&select=id,slug,tags", {
      method: "POST",
      headers: { "content-type": "application/json", prefer: "missing=default,return=representation" },
      body: JSON.stringify([{ slug: "a" }, { id: 100 }, { slug: "b", tags: ["y"] }, { slug: null, id: 101 }]),
    });
    expect(r.status).toBe(201);
    // The identity's sequence is drawn for all four rows (1..4), used by the two that left id out.
    expect(await r.json()).toEqual([
      { id: 1, slug: "a", tags: ["x"] },
      { id: 100, slug: null, tags: ["x"] },
      { id: 3, slug: "b", tags: ["y"] },
      { id: 101, slug: null, tags: ["x"] },
    ]);
    const [made] = await srv.admin<{ n: number }[]>`select count(*)::int as n from public.channels_md where made is not null`;
    expect(made!.n).toBe(4);
  });
});

describe("CSV", () => {
  test("header, RFC 4180 quoting, NULL as nothing, no trailing newline", async () => {
    const r = await restFetch(srv, "/quirky?order=id", { headers: { accept: "text/csv" } });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(await r.text()).toBe([`id,"a,b",note,payload`, `1,x,,"{""k"": ""v""}"`, `2,"say ""hi""","line1\nline2",`, `3,"",plain,"[1, 2]"`].join("\n"));
  });
});
