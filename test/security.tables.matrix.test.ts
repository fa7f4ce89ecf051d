// The table security matrix: every template × anon, the owner, another user, a team member and
// service_role × select/insert/update/delete, through REST with real JWTs on a whole server, and
// through realtime change events (who is sent an INSERT); then a template on storage.objects, felt
// through the storage API. Each template gets its own table, set with PUT
// /admin/v1/tables/{schema}/{table}/security; every operation targets row 1 (owner OWNER, team 1).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { tokenFor } from "./support/app.ts";
import { startRealtime, subscribed, waitFor } from "./support/realtime.ts";

setDefaultTimeout(60_000);

const OWNER = "0a0a0a0a-0000-4000-8000-000000000001";
const MEMBER = "0b0b0b0b-0000-4000-8000-000000000002";
const OTHER = "0c0c0c0c-0000-4000-8000-000000000003";

const CALLERS = ["anon", "owner", "other", "member", "service_role"] as const;
type Caller = (typeof CALLERS)[number];
const OPS = ["select", "insert", "update", "delete"] as const;
type Op = (typeof OPS)[number];

const team = { column: "team_id", membership: { table: "public.members", team_column: "team_id", user_column: "user_id" } };
const ALL: Caller[] = [...CALLERS];
const TEMPLATES: Array<{ name: string; doc: Record<string, unknown>; allowed: Record<Op, Caller[]> }> = [
  {
    name: "owner_only",
    doc: { template: "owner_only", owner_column: "owner_id" },
    allowed: { select: ["owner", "service_role"], insert: ["owner", "service_role"], update: ["owner", "service_role"], delete: ["owner", "service_role"] },
  },
  {
    name: "public_read_owner_write",
    doc: { template: "public_read_owner_write", owner_column: "owner_id" },
    allowed: { select: ALL, insert: ["owner", "service_role"], update: ["owner", "service_role"], delete: ["owner", "service_role"] },
  },
  {
    name: "authenticated_read",
    doc: { template: "authenticated_read" },
    allowed: { select: ["owner", "other", "member", "service_role"], insert: ["service_role"], update: ["service_role"], delete: ["service_role"] },
  },
  {
    name: "team",
    doc: { template: "team", team },
    allowed: { select: ["member", "service_role"], insert: ["member", "service_role"], update: ["member", "service_role"], delete: ["member", "service_role"] },
  },
  {
    name: "admin_only",
    doc: { template: "admin_only" },
    allowed: { select: ["service_role"], insert: ["service_role"], update: ["service_role"], delete: ["service_role"] },
  },
  {
    name: "custom",
    doc: {
      template: "custom",
      owner_column: "owner_id",
      team,
      operations: { select: ["anon", "owner", "team"], insert: ["authenticated"], update: ["owner"], delete: ["team"] },
    },
    allowed: {
      select: ["anon", "owner", "member", "service_role"],
      insert: ["owner", "other", "member", "service_role"],
      update: ["owner", "service_role"],
      delete: ["member", "service_role"],
    },
  },
];

const table = (tpl: string) => `m_${tpl}`;
const SETUP = `
  create table public.members (team_id bigint not null, user_id uuid not null, primary key (team_id, user_id));
  insert into public.members values (1, '${MEMBER}'), (2, '${OTHER}');
  ${TEMPLATES.map(
    (t) => `
    create table public.${table(t.name)} (id bigint primary key, owner_id uuid, team_id bigint, title text);
    insert into public.${table(t.name)} values (1, '${OWNER}', 1, 'a');
    alter publication supabase_realtime add table public.${table(t.name)};`,
  ).join("\n")}
  create table public.m_columns (id bigint primary key, owner_id uuid, email text, title text);
  insert into public.m_columns values (1, '${OWNER}', 'owner@example.com', 'a');
  alter publication supabase_realtime add table public.m_columns;
`;

const migrations = mkdtempSync(join(tmpdir(), "plinth-h3-matrix-"));
const storageDir = mkdtempSync(join(tmpdir(), "plinth-h3-matrix-objects-"));
const f = await startRealtime(SETUP, { migrationsDir: migrations, storage: { localDir: storageDir } });
const sql = f.database.db.sql;
const url = f.node.url;

const userToken = (sub: string) => tokenFor({ sub, role: "authenticated", aud: "authenticated" });
const bearer: Record<Caller, string> = {
  anon: f.keys.anon,
  service_role: f.keys.service_role,
  owner: await userToken(OWNER),
  other: await userToken(OTHER),
  member: await userToken(MEMBER),
};

async function rest(caller: Caller, method: string, path: string, body?: unknown, prefer = "return=representation") {
  const res = await fetch(`${url}/rest/v1/${path}`, {
    method,
    headers: {
      apikey: caller === "service_role" ? f.keys.service_role : f.keys.anon,
      authorization: `Bearer ${bearer[caller]}`,
      "content-type": "application/json",
      prefer,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function admin(method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}/admin/v1${path}`, {
    method,
    headers: { apikey: f.keys.anon, authorization: `Bearer ${f.keys.service_role}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** Whether the caller could do `op` to row 1 (the change, if any, is undone as the owner of the database). */
async function attempt(tpl: string, caller: Caller, op: Op, n: number): Promise<boolean> {
  const t = table(tpl);
  switch (op) {
    case "select": {
      const r = await rest(caller, "GET", `${t}?id=eq.1&select=id`);
      return r.status === 200 && r.body.length === 1;
    }
    case "insert": {
      const id = 1000 + n;
      const r = await rest(caller, "POST", t, { id, owner_id: OWNER, team_id: 1, title: "new" }, "return=minimal");
      await sql.unsafe(`delete from public.${t} where id = $1`, [id]);
      return r.status === 201;
    }
    case "update": {
      const r = await rest(caller, "PATCH", `${t}?id=eq.1&select=id`, { title: `by ${caller}` });
      const ok = r.status === 200 && r.body.length === 1;
      await sql.unsafe(`update public.${t} set title = 'a' where id = 1`);
      return ok;
    }
    case "delete": {
      const r = await rest(caller, "DELETE", `${t}?id=eq.1&select=id`);
      const ok = r.status === 200 && r.body.length === 1;
      await sql.unsafe(`insert into public.${t} values (1, '${OWNER}', 1, 'a') on conflict (id) do nothing`);
      return ok;
    }
  }
}

beforeAll(async () => {
  for (const tpl of TEMPLATES) {
    const put = await admin("PUT", `/tables/public/${table(tpl.name)}/security`, tpl.doc);
    if (put.status !== 200) throw new Error(`PUT ${tpl.name}: ${put.status} ${JSON.stringify(put.body)}`);
  }
});

describe("REST: every template × caller × operation", () => {
  let n = 0;
  for (const tpl of TEMPLATES) {
    test(tpl.name, async () => {
      const got: Record<string, Caller[]> = {};
      for (const op of OPS) {
        got[op] = [];
        for (const caller of CALLERS) if (await attempt(tpl.name, caller, op, ++n)) got[op]!.push(caller);
      }
      expect(got).toEqual(tpl.allowed);
    });
  }
});

const clients: SupabaseClient[] = [];
afterAll(async () => {
  for (const c of clients) await c.removeAllChannels().catch(() => {});
});

async function realtimeClient(caller: Caller): Promise<SupabaseClient> {
  const c = createClient(url, caller === "service_role" ? f.keys.service_role : f.keys.anon, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { vsn: "2.0.0", heartbeatIntervalMs: 5_000, timeout: 5_000 } as never,
  });
  if (caller !== "anon" && caller !== "service_role") await c.realtime.setAuth(bearer[caller]);
  clients.push(c);
  return c;
}

describe("realtime: who is sent an INSERT, per template", () => {
  const conns = {} as Record<Caller, SupabaseClient>;
  let id = 5000;
  for (const tpl of TEMPLATES) {
    test(tpl.name, async () => {
      // Fresh clients per template: supabase-js takes the token for later joins from its (empty)
      // auth session again, so a client reused after setAuth would join the next channel as anon.
      for (const caller of CALLERS) conns[caller] = await realtimeClient(caller);
      const received: Record<Caller, number[]> = { anon: [], owner: [], other: [], member: [], service_role: [] };
      const channels = [];
      for (const caller of CALLERS) {
        const ch = conns[caller]
          .channel(`${tpl.name}-${caller}`)
          .on("postgres_changes", { event: "INSERT", schema: "public", table: table(tpl.name) }, (p) =>
            received[caller].push(Number((p.new as { id: string | number }).id)),
          );
        expect((await subscribed(ch)).status).toBe("SUBSCRIBED");
        channels.push(ch);
      }
      const row = ++id;
      await sql.unsafe(`insert into public.${table(tpl.name)} values ($1, '${OWNER}', 1, 'rt')`, [row]);
      const expected = tpl.allowed.select;
      await waitFor(() => expected.every((c) => received[c].includes(row)), 10_000, `events for ${expected.join(", ")}`);
      await Bun.sleep(500); // time for a wrongly sent event to arrive
      expect(CALLERS.filter((c) => received[c].includes(row))).toEqual(expected);
      for (const ch of channels) await ch.unsubscribe();
    });
  }
});

describe("storage: owner_only on storage.objects", () => {
  test("the owner uploads, reads, overwrites and removes its object; other users and anon cannot reach it", async () => {
    const put = await admin("PUT", "/tables/storage/objects/security", { template: "owner_only", owner_column: "owner" });
    expect(put.status).toBe(200);
    const service = createClient(url, f.keys.service_role, { auth: { persistSession: false } });
    expect((await service.storage.createBucket("files", { public: false })).error).toBeNull();
    const as = (caller: Caller) =>
      caller === "service_role"
        ? service
        : createClient(url, f.keys.anon, {
            auth: { persistSession: false },
            global: caller === "anon" ? {} : { headers: { Authorization: `Bearer ${bearer[caller]}` } },
          });
    const bytes = (s: string) => new Blob([s], { type: "text/plain" });

    expect((await as("owner").storage.from("files").upload("owner/a.txt", bytes("mine"))).error).toBeNull();
    const [row] = await sql`select owner::text from storage.objects where bucket_id = 'files' and name = 'owner/a.txt'`;
    expect(row!.owner).toBe(OWNER);
    // Anyone signed in may upload an object of its own; anon has no policy at all.
    expect((await as("other").storage.from("files").upload("other/b.txt", bytes("theirs"))).error).toBeNull();
    expect((await as("anon").storage.from("files").upload("anon/c.txt", bytes("x"))).error).not.toBeNull();

    const readers: Caller[] = [];
    for (const caller of CALLERS) {
      const { data } = await as(caller).storage.from("files").download("owner/a.txt");
      if (data && (await data.text()) === "mine") readers.push(caller);
    }
    expect(readers).toEqual(["owner", "service_role"]);

    for (const caller of ["anon", "other", "member"] as Caller[]) {
      await as(caller)
        .storage.from("files")
        .update("owner/a.txt", bytes(`overwritten by ${caller}`));
      await as(caller).storage.from("files").remove(["owner/a.txt"]);
    }
    const still = await service.storage.from("files").download("owner/a.txt");
    expect(await still.data!.text()).toBe("mine");
    expect((await as("owner").storage.from("files").update("owner/a.txt", bytes("mine, again"))).error).toBeNull();
    expect((await as("owner").storage.from("files").remove(["owner/a.txt"])).data?.length).toBe(1);
    expect((await sql`select count(*)::int as n from storage.objects where name = 'owner/a.txt'`)[0]!.n).toBe(0);
  });
});

describe("column rules: a column hidden from anon, another read-only", () => {
  test("through REST and realtime", async () => {
    const doc = { template: "public_read_owner_write", owner_column: "owner_id", columns: { email: { read: ["authenticated"] }, title: { write: [] } } };
    expect((await admin("PUT", "/tables/public/m_columns/security", doc)).status).toBe(200);
    // anon reads rows but not email.
    expect((await rest("anon", "GET", "m_columns?select=id,title")).body).toEqual([{ id: 1, title: "a" }]);
    const hidden = await rest("anon", "GET", "m_columns?select=email");
    expect(hidden.status).toBe(401);
    expect((await rest("other", "GET", "m_columns?select=email")).body).toEqual([{ email: "owner@example.com" }]);
    // title is read-only for everyone but service_role; the owner may still write the rest.
    const title = await rest("owner", "PATCH", "m_columns?id=eq.1&select=id", { title: "changed" });
    expect(title.status).toBe(403);
    expect((await rest("owner", "PATCH", "m_columns?id=eq.1&select=id", { email: "new@example.com" })).body).toEqual([{ id: 1 }]);
    expect((await rest("service_role", "PATCH", "m_columns?id=eq.1&select=title", { title: "by service" })).body).toEqual([{ title: "by service" }]);

    const anon = await realtimeClient("anon");
    const user = await realtimeClient("other");
    const got: Record<string, Record<string, unknown>> = {};
    for (const [who, c] of [
      ["anon", anon],
      ["other", user],
    ] as const) {
      const ch = c.channel(`columns-${who}`).on("postgres_changes", { event: "INSERT", schema: "public", table: "m_columns" }, (p) => (got[who] = p.new));
      expect((await subscribed(ch)).status).toBe("SUBSCRIBED");
    }
    await sql.unsafe(`insert into public.m_columns values (2, '${OWNER}', 'two@example.com', 't')`);
    await waitFor(() => got.anon && got.other, 10_000, "both events");
    expect(got.anon).toEqual({ id: 2, owner_id: OWNER, title: "t" });
    expect(got.other).toEqual({ id: 2, owner_id: OWNER, email: "two@example.com", title: "t" });
  });
});
