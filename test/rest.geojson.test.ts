// Accept: application/geo+json, as PostgREST answers it: a FeatureCollection made by PostGIS's
// st_asgeojson(row) per row. The embedded PostgreSQL ships no PostGIS, so this file checks two things
// against it: without PostGIS the media type is refused with PGRST107 (before any SQL, so a write asked
// for as GeoJSON writes nothing); and, with a stand-in `st_asgeojson(record, …)` of PostGIS's signature
// over a `geometry` type of its own, what Plinth adds around it — the function found in whatever schema
// holds it and called qualified, the collection, the content type, empty results, writes, RPC, RLS, the
// plan cache, and refusal when nothing spatial is selected. The real PostGIS is exercised by
// postgrest-js's own `geojson` test (scripts/client-suites.sh with PLINTH_SUITE_POSTGIS=1 against a
// PostgreSQL with PostGIS; README "Compatibility").
import { beforeAll, describe, expect, test } from "bun:test";
import { tokenFor } from "./support/app.ts";
import { restFetch, startRestServer, waitFor } from "./support/rest.ts";

const srv = await startRestServer();
const geo = { accept: "application/geo+json" };
const svc = srv.keys.service_role;

await srv.admin.unsafe(`
  create table public.shops (id int primary key, address text, owner uuid, loc text);
  insert into public.shops values (1, '1369 Cambridge St', '11111111-1111-1111-1111-111111111111', 'x');
  grant select, insert on public.shops to anon, authenticated, service_role;
`);
await srv.admin.unsafe(`notify pgrst, 'reload schema'`);
await waitFor(async () => (await restFetch(srv, "/shops?select=id")).status === 200);

describe("without PostGIS", () => {
  test("a read asked for as GeoJSON is 406 PGRST107, saying why", async () => {
    const r = await restFetch(srv, "/shops", { headers: geo });
    expect(r.status).toBe(406);
    const e = await r.json();
    expect(e.code).toBe("PGRST107");
    expect(e.message).toBe("None of these media types are available: application/geo+json");
    expect(e.details).toContain("PostGIS is not installed");
  });

  test("a write asked for as GeoJSON is refused before anything is written", async () => {
    const r = await restFetch(srv, "/shops", {
      method: "POST",
      key: svc,
      headers: { ...geo, "content-type": "application/json", prefer: "return=representation" },
      body: JSON.stringify({ id: 9, address: "nowhere" }),
    });
    expect(r.status).toBe(406);
    const [row] = await srv.admin`select count(*)::int as n from public.shops where id = 9`;
    expect(row?.n).toBe(0);
  });
});

describe("with st_asgeojson(record) installed", () => {
  let alice = "";
  beforeAll(async () => {
    // The stand-in: PostGIS's name and argument list, in a schema of its own (PostGIS is often in
    // `extensions`), over a composite `geometry` type: it makes a Feature of the row's `loc` point and
    // puts the other columns in its properties.
    await srv.admin.unsafe(`
    create schema gis;
    create type gis.geometry as (x float8, y float8);
    create function gis.st_asgeojson(r record, geom_column text default '', maxdecimaldigits int default 9, pretty_bool bool default false)
    returns text language plpgsql stable as $$
    begin
      return json_build_object('type', 'Feature',
        'geometry', json_build_object('type', 'Point', 'coordinates', json_build_array((to_jsonb(r)->'loc'->>'x')::float8, (to_jsonb(r)->'loc'->>'y')::float8)),
        'properties', to_jsonb(r) - 'loc')::text;
    end $$;
    alter table public.shops alter column loc type gis.geometry using row(-71.10044, 42.373695)::gis.geometry;
    grant usage on schema gis to anon, authenticated, service_role;
    create function public.shops_near(x float8) returns setof public.shops language sql stable as $$ select * from public.shops $$;
    create function public.shop_count() returns int language sql stable as $$ select count(*)::int from public.shops $$;
    alter table public.shops enable row level security;
    create policy shops_read on public.shops for select using (owner is null or owner = auth.uid());
    create policy shops_write on public.shops for insert with check (true);
  `);
    await srv.admin.unsafe(`notify pgrst, 'reload schema'`);
    await waitFor(async () => (await restFetch(srv, "/shops", { headers: geo })).status !== 406 && (await restFetch(srv, "/rpc/shop_count")).status === 200);
    alice = await tokenFor({ sub: "11111111-1111-1111-1111-111111111111", role: "authenticated" });
  });

  test("a read is a FeatureCollection of the rows, as application/geo+json", async () => {
    const r = await restFetch(srv, "/shops?select=id,address,loc", { headers: geo, token: alice });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/geo+json; charset=utf-8");
    expect(await r.json()).toEqual({
      type: "FeatureCollection",
      features: [{ type: "Feature", geometry: { type: "Point", coordinates: [-71.10044, 42.373695] }, properties: { id: 1, address: "1369 Cambridge St" } }],
    });
  });

  test("the same shape again (the plan cache's path) and an empty result", async () => {
    for (let i = 0; i < 3; i++) {
      const r = await restFetch(srv, "/shops?select=id,loc&id=eq.1", { headers: geo, token: alice });
      expect((await r.json()).features).toHaveLength(1);
    }
    const none = await restFetch(srv, "/shops?select=id,loc&id=eq.42", { headers: geo, token: alice });
    expect(await none.json()).toEqual({ type: "FeatureCollection", features: [] });
  });

  test("row level security decides the features: anon sees none of alice's shops", async () => {
    const r = await restFetch(srv, "/shops?select=id,loc", { headers: geo });
    expect(await r.json()).toEqual({ type: "FeatureCollection", features: [] });
  });

  test("a selection without a geometry column is 406, not a database error", async () => {
    const r = await restFetch(srv, "/shops?select=id,address", { headers: geo, token: alice });
    expect(r.status).toBe(406);
    const e = await r.json();
    expect(e.code).toBe("PGRST107");
    expect(e.details).toContain("no geometry");
    const cast = await restFetch(srv, "/shops?select=id,loc::text", { headers: geo, token: alice });
    expect(cast.status).toBe(406);
  });

  test("a write's representation and a set-returning function answer GeoJSON; a scalar function is 406", async () => {
    const w = await restFetch(srv, "/shops?select=id,loc", {
      method: "POST",
      key: svc,
      headers: { ...geo, "content-type": "application/json", prefer: "return=representation" },
      body: JSON.stringify({ id: 2, address: "2 Main St", loc: "(1.5,2.5)" }),
    });
    expect(w.status).toBe(201);
    expect(await w.json()).toEqual({
      type: "FeatureCollection",
      features: [{ type: "Feature", geometry: { type: "Point", coordinates: [1.5, 2.5] }, properties: { id: 2 } }],
    });
    const rpc = await restFetch(srv, "/rpc/shops_near?x=1&select=id,loc&order=id", { headers: geo, token: alice });
    expect(rpc.status).toBe(200);
    expect((await rpc.json()).features.map((f: { properties: { id: number } }) => f.properties.id)).toEqual([1, 2]);
    const scalar = await restFetch(srv, "/rpc/shop_count", { headers: geo });
    expect(scalar.status).toBe(406);
  });

  test("JSON is unchanged for the same table", async () => {
    const r = await restFetch(srv, "/shops?select=id&id=eq.1", { token: alice });
    expect(await r.json()).toEqual([{ id: 1 }]);
  });
});
