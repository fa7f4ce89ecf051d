// Attack suite, GeoJSON (Accept: application/geo+json): every caller's GeoJSON request runs
// st_asgeojson(row) with the caller's rights — service_role's too — so which function that is matters.
// A role allowed to create objects plants a same-named function in a schema that sorts first; it must
// never be chosen, with or without the real one present. Row level security decides the features for
// user A, user B and the anon key alone, and header text never reaches SQL. (The real one is a
// superuser-owned stand-in of PostGIS's signature: the embedded PostgreSQL ships no PostGIS; see
// rest.geojson.test.ts.)
import { afterAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { tokenFor } from "./support/app.ts";
import { waitFor } from "./support/rest.ts";
import { startTestServer } from "./support/server.ts";

const { url, keys, database } = await startTestServer();
const A = "00000000-0000-4000-8000-00000000000a";
const B = "00000000-0000-4000-8000-00000000000b";
const owner = postgres(database.url, { max: 1, onnotice: () => {} });
// Roles are the cluster's, shared by every test database: a name of this run's own.
const mallory = `mallory_${process.pid}_${Date.now() % 1e6}`;
afterAll(async () => {
  await owner.unsafe(`drop schema aaa cascade; drop role ${mallory}`).catch(() => {});
  await owner.end({ timeout: 1 });
});

const STANDIN_TYPE = "create schema gis; create type gis.geometry as (x float8, y float8); grant usage on schema gis to public;";
const feature = (schema: string, body: string) => `
  create function ${schema}.st_asgeojson(r record, geom_column text default '', maxdecimaldigits int default 9, pretty_bool bool default false)
  returns text language plpgsql volatile as $$ begin ${body} end $$;`;

await owner.unsafe(`
  ${STANDIN_TYPE}
  create table public.places (id int primary key, owner_id uuid not null, name text, loc gis.geometry);
  alter table public.places enable row level security;
  create policy places_owner on public.places for select to authenticated using (owner_id = auth.uid());
  grant select on public.places to anon, authenticated, service_role;
  insert into public.places values (1, '${A}', 'a home', row(1, 1)), (2, '${B}', 'b home', row(2, 2));
  -- mallory may create objects in a schema of her own, which sorts before any real one
  create role ${mallory} nologin;
  create schema aaa authorization ${mallory};
  grant usage on schema aaa to public;
  set role ${mallory};
  create table aaa.calls (caller text);
  grant insert on aaa.calls to public;
  ${feature("aaa", 'insert into aaa.calls values (current_user); return \'{"type":"Feature","properties":{"pwned":true}}\';')}
  reset role;
  notify pgrst, 'reload schema';
`);

const callers = {
  anon: { apikey: keys.anon },
  A: { apikey: keys.anon, authorization: `Bearer ${await tokenFor({ sub: A, role: "authenticated" })}` },
  B: { apikey: keys.anon, authorization: `Bearer ${await tokenFor({ sub: B, role: "authenticated" })}` },
  service: { apikey: keys.service_role },
};
function get(path: string, headers: Record<string, string>, accept = "application/geo+json") {
  return fetch(`${url}/rest/v1${path}`, { headers: { ...headers, accept } });
}
await waitFor(async () => (await get("/places?select=id", callers.service, "application/json")).status === 200);
const calls = async () => (await owner`select count(*)::int as n from aaa.calls`)[0]?.n;

describe("a planted st_asgeojson", () => {
  test("alone, it is not chosen: GeoJSON is refused as if PostGIS were absent, and it never ran", async () => {
    for (const who of Object.values(callers)) {
      const r = await get("/places?select=id,loc", who);
      expect(r.status).toBe(406);
      expect((await r.json()).code).toBe("PGRST107");
    }
    expect(await calls()).toBe(0);
  });

  test("next to a superuser's, the superuser's is used for every caller, service_role included", async () => {
    await owner.unsafe(
      `${feature("gis", "return json_build_object('type', 'Feature', 'properties', to_jsonb(r) - 'loc')::text;")} notify pgrst, 'reload schema';`,
    );
    await waitFor(async () => (await get("/places?select=id,loc", callers.service)).status === 200);
    const r = await get("/places?select=id,loc&order=id", callers.service);
    expect(await r.json()).toEqual({
      type: "FeatureCollection",
      features: [
        { type: "Feature", properties: { id: 1 } },
        { type: "Feature", properties: { id: 2 } },
      ],
    });
    expect(await calls()).toBe(0);
  });
});

describe("who sees which features", () => {
  test("A sees A's, B sees B's, the anon key alone sees none", async () => {
    const ids = async (who: Record<string, string>) =>
      ((await (await get("/places?select=id,loc", who)).json()).features as Array<{ properties: { id: number } }>).map((f) => f.properties.id);
    expect(await ids(callers.A)).toEqual([1]);
    expect(await ids(callers.B)).toEqual([2]);
    expect(await ids(callers.anon)).toEqual([]);
    // B's filters cannot widen B's view
    expect(await ids({ ...callers.B, prefer: "count=exact" })).toEqual([2]);
    const or = await get(`/places?select=id,loc&or=(owner_id.eq.${A},id.eq.1)`, callers.B);
    expect((await or.json()).features).toEqual([]);
  });

  test("text in the Accept header never reaches SQL", async () => {
    for (const accept of [
      `application/geo+json; x="');drop table public.places;--"`,
      "application/geo+json;q=1;fn=aaa.st_asgeojson",
      'application/geo+json"; select 1',
    ]) {
      const r = await get("/places?select=id,loc", callers.A, accept);
      expect([200, 406]).toContain(r.status);
      expect(r.status).toBeLessThan(500);
    }
    const [row] = await owner`select count(*)::int as n from public.places`;
    expect(row?.n).toBe(2);
    expect(await calls()).toBe(0);
  });
});
