// Realtime through the real @supabase/supabase-js client, on both serializer versions: database
// changes with filters and RLS, broadcast (websocket, REST, SQL), presence, private channels,
// tokens (refresh, expiry, bad ones), two nodes on one database, and a server restart.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { RealtimeChannel } from "@supabase/supabase-js";
import { tokenFor } from "./support/app.ts";
import { client, startNode, startRealtime, subscribed, VERSIONS, waitFor, type RealtimeFixture } from "./support/realtime.ts";

const USER_A = "aaaaaaaa-0000-4000-8000-000000000001";
const USER_B = "bbbbbbbb-0000-4000-8000-000000000002";

const SETUP = `
create table public.items (id int primary key, n int, label text, at timestamptz default now(), tags text[], doc jsonb, big bigint, ok boolean);
alter table public.items replica identity full;
create table public.notes (id bigint primary key, owner uuid not null, body text, hidden text);
alter table public.notes enable row level security;
create policy own_notes on public.notes for select to authenticated using (owner = auth.uid());
revoke select on public.notes from authenticated;
grant select (id, owner, body) on public.notes to authenticated;
alter publication supabase_realtime add table public.items, public.notes;
create policy read_vip on realtime.messages for select to authenticated
  using (realtime.topic() like 'vip-%' and auth.uid() = '${USER_A}'::uuid);
create policy write_vip on realtime.messages for insert to authenticated
  with check (realtime.topic() like 'vip-%' and auth.uid() = '${USER_A}'::uuid);
`;

setDefaultTimeout(15_000);

// Top level: hooks registered inside beforeAll would stop the server right after it.
const f: RealtimeFixture = await startRealtime(SETUP);

const userToken = (sub: string, ttl = 3600) => tokenFor({ sub, role: "authenticated", aud: "authenticated" }, undefined, ttl);
let seq = 0;
const uniq = (p: string) => `${p}-${++seq}`;

for (const vsn of VERSIONS) {
  const base = vsn === "1.0.0" ? 1000 : 2000;
  describe(`vsn ${vsn}`, () => {
    test("inserts, updates and deletes, with eq/neq/lt/lte/gt/gte/in filters", async () => {
      const c = client(f.node.url, f.keys.anon, vsn);
      const seen: Record<string, number[]> = {};
      const ops = { eq: "n=eq.5", neq: "n=neq.5", lt: "n=lt.5", lte: "n=lte.5", gt: "n=gt.5", gte: "n=gte.5", in: "n=in.(1,9)", label: "label=eq.hello world" };
      let ch: RealtimeChannel = c.channel(uniq("filters"));
      for (const [name, filter] of Object.entries(ops)) {
        seen[name] = [];
        ch = ch.on("postgres_changes", { event: "INSERT", schema: "public", table: "items", filter }, (p) => seen[name]!.push((p.new as { id: number }).id));
      }
      const all: Array<{ eventType: string; new: Record<string, unknown>; old: Record<string, unknown> }> = [];
      ch = ch.on("postgres_changes", { event: "*", schema: "public", table: "items", filter: `id=gte.${base}` }, (p) => all.push(p as never));
      expect((await subscribed(ch)).status).toBe("SUBSCRIBED");

      const sql = f.database.db.sql;
      await sql`insert into public.items (id, n, label, tags, doc, big, ok) values
        (${base + 1}, 1, 'a', '{x,"y z"}', '{"k":[1,2]}', 9007199254740993, true),
        (${base + 5}, 5, 'hello world', null, null, null, false),
        (${base + 9}, 9, null, '{}', 'null', -1, null)`;
      await sql`update public.items set label = 'changed' where id = ${base + 5}`;
      await sql`delete from public.items where id = ${base + 9}`;
      await waitFor(() => all.length >= 5, 5000, "all changes");
      await Bun.sleep(50);

      expect(seen.eq).toEqual([base + 5]);
      expect(seen.neq).toEqual([base + 1, base + 9]);
      expect(seen.lt).toEqual([base + 1]);
      expect(seen.lte).toEqual([base + 1, base + 5]);
      expect(seen.gt).toEqual([base + 9]);
      expect(seen.gte).toEqual([base + 5, base + 9]);
      expect(seen.in).toEqual([base + 1, base + 9]);
      expect(seen.label).toEqual([base + 5]);

      expect(all.map((p) => p.eventType)).toEqual(["INSERT", "INSERT", "INSERT", "UPDATE", "DELETE"]);
      const first = all[0]!.new;
      expect(first).toMatchObject({ id: base + 1, n: 1, label: "a", tags: ["x", "y z"], doc: { k: [1, 2] }, ok: true });
      expect(typeof first.at).toBe("string");
      expect(all[1]!.new.ok).toBe(false);
      expect(all[2]!.new.doc).toBeNull();
      // Replica identity full: the old row is complete.
      expect(all[3]!.old).toMatchObject({ id: base + 5, label: "hello world" });
      expect(all[3]!.new).toMatchObject({ id: base + 5, label: "changed" });
      expect(all[4]!.old).toMatchObject({ id: base + 9, n: 9 });
      await c.removeAllChannels();
    });

    test("RLS decides which user gets a change; unreadable columns are not sent", async () => {
      const [ca, cb, cn] = [client(f.node.url, f.keys.anon, vsn), client(f.node.url, f.keys.anon, vsn), client(f.node.url, f.keys.anon, vsn)];
      await ca.realtime.setAuth(await userToken(USER_A));
      await cb.realtime.setAuth(await userToken(USER_B));
      const got = { a: [] as Array<Record<string, any>>, b: [] as Array<Record<string, any>>, anon: [] as unknown[] };
      const listen = (c: typeof ca, sink: unknown[]) =>
        c.channel(uniq("rls")).on("postgres_changes", { event: "*", schema: "public", table: "notes" }, (p) => sink.push(p));
      for (const ch of [listen(ca, got.a), listen(cb, got.b), listen(cn, got.anon)]) expect((await subscribed(ch)).status).toBe("SUBSCRIBED");

      const sql = f.database.db.sql;
      await sql`insert into public.notes (id, owner, body, hidden) values (${base + 1}, ${USER_A}, 'for a', 'secret'), (${base + 2}, ${USER_B}, 'for b', 'secret')`;
      // RLS is checked against the row as it is when the change is processed: let the inserts land
      // before deleting one of the rows.
      await waitFor(() => got.a.length >= 1 && got.b.length >= 1, 5000, "rls inserts");
      await sql`delete from public.notes where id = ${base + 1}`;
      await waitFor(() => got.a.length >= 2 && got.b.length >= 2, 5000, "rls changes");
      await Bun.sleep(100);
      expect(got.a.filter((p) => p.eventType === "INSERT").map((p) => p.new)).toEqual([{ id: base + 1, owner: USER_A, body: "for a" }]);
      expect(got.b.filter((p) => p.eventType === "INSERT").map((p) => p.new)).toEqual([{ id: base + 2, owner: USER_B, body: "for b" }]);
      // Deletes cannot be checked against a row that is gone: everyone gets the primary key only.
      expect(got.a.find((p) => p.eventType === "DELETE")?.old).toEqual({ id: base + 1 });
      expect(got.b.find((p) => p.eventType === "DELETE")?.old).toEqual({ id: base + 1 });
      // anon passes no policy: no inserts, but (as on Supabase) the primary key of deletes.
      expect(got.anon.map((p) => [(p as { eventType: string }).eventType, (p as { old: unknown }).old])).toEqual([["DELETE", { id: base + 1 }]]);
    });

    test("broadcast between clients: self, ack, and no echo by default", async () => {
      const [c1, c2] = [client(f.node.url, f.keys.anon, vsn), client(f.node.url, f.keys.anon, vsn)];
      const room = uniq("room");
      const at1: unknown[] = [];
      const at2: unknown[] = [];
      const ch1 = c1.channel(room, { config: { broadcast: { self: true, ack: true } } }).on("broadcast", { event: "*" }, (p) => at1.push(p));
      const ch2 = c2.channel(room).on("broadcast", { event: "move" }, (p) => at2.push(p));
      expect((await subscribed(ch1)).status).toBe("SUBSCRIBED");
      expect((await subscribed(ch2)).status).toBe("SUBSCRIBED");
      expect(await ch1.send({ type: "broadcast", event: "move", payload: { x: 1, s: "é🎉" } })).toBe("ok");
      await ch2.send({ type: "broadcast", event: "move", payload: { x: 2 } });
      await ch2.send({ type: "broadcast", event: "other", payload: { x: 3 } });
      await waitFor(() => at1.length >= 3 && at2.length >= 1, 3000, "broadcasts");
      await Bun.sleep(50);
      expect(at2).toEqual([{ type: "broadcast", event: "move", payload: { x: 1, s: "é🎉" } }]);
      expect(at1).toEqual([
        { type: "broadcast", event: "move", payload: { x: 1, s: "é🎉" } },
        { type: "broadcast", event: "move", payload: { x: 2 } },
        { type: "broadcast", event: "other", payload: { x: 3 } },
      ]);
    });

    test("broadcast from REST (both endpoints) and from SQL with realtime.send", async () => {
      const c = client(f.node.url, f.keys.anon, vsn);
      const room = uniq("news");
      const got: Array<Record<string, any>> = [];
      const ch = c.channel(room).on("broadcast", { event: "*" }, (p) => got.push(p));
      expect((await subscribed(ch)).status).toBe("SUBSCRIBED");
      const res = await fetch(`${f.node.url}/realtime/v1/api/broadcast`, {
        method: "POST",
        headers: { apikey: f.keys.anon, "content-type": "application/json" },
        body: JSON.stringify({ messages: [{ topic: room, event: "rest", payload: { n: 1 } }] }),
      });
      expect(res.status).toBe(202);
      const sender = c.channel(uniq("unjoined"));
      const single = await fetch(`${f.node.url}/realtime/v1/api/broadcast/${encodeURIComponent(room)}/events/single`, {
        method: "POST",
        headers: { apikey: f.keys.anon, "content-type": "application/json" },
        body: JSON.stringify({ n: 2 }),
      });
      expect(single.status).toBe(202);
      await c.removeChannel(sender);
      await f.database.db.sql`select realtime.send('{"n":3}'::jsonb, 'sql', ${room}, false)`;
      await waitFor(() => got.length >= 3, 3000, "rest + sql broadcasts");
      expect(got[0]).toEqual({ type: "broadcast", event: "rest", payload: { n: 1 } });
      expect(got[1]).toEqual({ type: "broadcast", event: "single", payload: { n: 2 } });
      expect(got[2]).toMatchObject({ type: "broadcast", event: "sql", payload: { n: 3 } });
      expect(typeof got[2]!.payload.id).toBe("string");
    });

    test("presence: track, sync, untrack, and cleanup when a socket dies", async () => {
      const [c1, c2] = [client(f.node.url, f.keys.anon, vsn), client(f.node.url, f.keys.anon, vsn)];
      const room = uniq("lobby");
      const ch1 = c1.channel(room, { config: { presence: { key: "alice" } } });
      const leaves: string[] = [];
      ch1.on("presence", { event: "sync" }, () => {}).on("presence", { event: "leave" }, ({ key }) => leaves.push(key));
      expect((await subscribed(ch1)).status).toBe("SUBSCRIBED");
      expect(await ch1.track({ mood: "happy" })).toBe("ok");
      const ch2 = c2.channel(room, { config: { presence: { key: "bob" } } }).on("presence", { event: "sync" }, () => {});
      expect((await subscribed(ch2)).status).toBe("SUBSCRIBED");
      await ch2.track({ mood: "calm" });
      await waitFor(() => Object.keys(ch1.presenceState()).length === 2 && Object.keys(ch2.presenceState()).length === 2, 3000, "presence sync");
      expect(ch2.presenceState().alice?.[0]).toMatchObject({ mood: "happy" });
      await ch2.untrack();
      await waitFor(() => !ch1.presenceState().bob, 3000, "untrack");
      await ch2.track({ mood: "back" });
      await waitFor(() => (ch1.presenceState<{ mood: string }>().bob?.[0] as { mood?: string } | undefined)?.mood === "back", 3000, "retrack");
      // The socket dies without a goodbye: its presence leaves.
      c2.realtime.disconnect();
      await waitFor(() => !ch1.presenceState().bob, 3000, "presence cleanup on disconnect");
      expect(leaves).toContain("bob");
    });

    test("private channels are authorised by policies on realtime.messages", async () => {
      const [ca, cb] = [client(f.node.url, f.keys.anon, vsn), client(f.node.url, f.keys.anon, vsn)];
      await ca.realtime.setAuth(await userToken(USER_A));
      await cb.realtime.setAuth(await userToken(USER_B));
      const topic = uniq("vip");
      const got: Array<Record<string, any>> = [];
      const chA = ca.channel(topic, { config: { private: true, broadcast: { self: true, ack: true } } }).on("broadcast", { event: "*" }, (p) => got.push(p));
      expect((await subscribed(chA)).status).toBe("SUBSCRIBED");
      const denied = await subscribed(cb.channel(topic, { config: { private: true } }));
      expect(denied.status).toBe("CHANNEL_ERROR");
      expect(String(denied.err?.message)).toContain("Unauthorized");
      await cb.removeAllChannels();
      expect(await chA.send({ type: "broadcast", event: "hi", payload: { a: 1 } })).toBe("ok");
      // From SQL: private messages reach private channels only.
      await f.database.db.sql`select realtime.send('{"p":1}'::jsonb, 'db', ${topic}, true)`;
      await f.database.db.sql`select realtime.send('{"p":0}'::jsonb, 'db', ${topic}, false)`;
      await waitFor(() => got.length >= 2, 3000, "private broadcasts");
      await Bun.sleep(50);
      expect(got.map((g) => g.event)).toEqual(["hi", "db"]);
      expect(got[1]!.payload.p).toBe(1);
    });

    test("token refresh keeps a channel open; expiry closes it with a system message", async () => {
      const c = client(f.node.url, f.keys.anon, vsn);
      await c.realtime.setAuth(await userToken(USER_A, 2));
      const systems: Array<Record<string, any>> = [];
      const statuses: string[] = [];
      const ch = c.channel(uniq("expiring")).on("system", {}, (p) => systems.push(p));
      ch.subscribe((s) => statuses.push(s));
      await waitFor(() => statuses.includes("SUBSCRIBED"), 3000, "subscribed");
      await waitFor(() => statuses.includes("CLOSED"), 4000, "closed on expiry");
      expect(systems.at(-1)).toMatchObject({ extension: "system", status: "error" });
      expect(String(systems.at(-1)!.message)).toMatch(/^Token has expired/);
      await c.removeAllChannels();

      const c2 = client(f.node.url, f.keys.anon, vsn);
      await c2.realtime.setAuth(await userToken(USER_A, 2));
      const room = uniq("refreshed");
      const got: unknown[] = [];
      const ch2 = c2.channel(room, { config: { broadcast: { self: true } } }).on("broadcast", { event: "*" }, (p) => got.push(p));
      expect((await subscribed(ch2)).status).toBe("SUBSCRIBED");
      await c2.realtime.setAuth(await userToken(USER_A, 3600));
      await Bun.sleep(2600);
      await ch2.send({ type: "broadcast", event: "still", payload: {} });
      await waitFor(() => got.length === 1, 3000, "broadcast after the first token's expiry");
      expect(ch2.state).toBe("joined");
    });

    test("bad tokens never join", async () => {
      for (const token of [
        await tokenFor({ sub: USER_A, role: "authenticated" }, "another-secret-that-is-long-enough-32chars"),
        await userToken(USER_A, -60),
        "not-a-jwt",
      ]) {
        const c = client(f.node.url, f.keys.anon, vsn);
        await c.realtime.setAuth(token);
        const result = await subscribed(c.channel(uniq("bad")));
        expect(result.status).toBe("CHANNEL_ERROR");
        await c.removeAllChannels();
      }
    });
  });
}

describe("cluster", () => {
  test("two nodes on one database: broadcast and presence cross, each change arrives once", async () => {
    const node2 = await startNode(f.database.url);
    const [c1, c2] = [client(f.node.url, f.keys.anon, "2.0.0"), client(node2.url, f.keys.anon, "1.0.0")];
    const room = uniq("cluster");
    const at1: unknown[] = [];
    const at2: unknown[] = [];
    const changes2: unknown[] = [];
    const ch1 = c1
      .channel(room, { config: { presence: { key: "one" } } })
      .on("broadcast", { event: "*" }, (p) => at1.push(p))
      .on("presence", { event: "sync" }, () => {});
    const ch2 = c2
      .channel(room, { config: { presence: { key: "two" } } })
      .on("broadcast", { event: "*" }, (p) => at2.push(p))
      .on("presence", { event: "sync" }, () => {})
      .on("postgres_changes", { event: "INSERT", schema: "public", table: "items", filter: "id=eq.31337" }, (p) => changes2.push(p));
    expect((await subscribed(ch1)).status).toBe("SUBSCRIBED");
    expect((await subscribed(ch2)).status).toBe("SUBSCRIBED");
    // Each node learns of the other through heartbeats/hello: wait until node 1 relays.
    await waitFor(
      () => {
        void ch1.send({ type: "broadcast", event: "ping", payload: {} });
        return at2.length > 0;
      },
      8000,
      "cross-node broadcast",
    );
    await ch2.send({ type: "broadcast", event: "pong", payload: { from: 2 } });
    await waitFor(() => at1.some((p) => (p as { event: string }).event === "pong"), 3000, "reverse broadcast");
    await ch1.track({ n: 1 });
    await ch2.track({ n: 2 });
    await waitFor(() => Object.keys(ch1.presenceState()).length === 2 && Object.keys(ch2.presenceState()).length === 2, 3000, "cross-node presence");
    await f.database.db.sql`insert into public.items (id, n) values (31337, 1)`;
    await waitFor(() => changes2.length === 1, 3000, "change on node 2");
    await Bun.sleep(300);
    expect(changes2.length).toBe(1);
    await node2.stop();
    await waitFor(() => !ch1.presenceState().two, 5000, "presence of a stopped node leaves");
  });

  test("clients reconnect and rejoin after the server restarts", async () => {
    const node = await startNode(f.database.url);
    const port = node.port;
    const c = client(node.url, f.keys.anon, "2.0.0");
    const got: unknown[] = [];
    const statuses: string[] = [];
    const ch = c
      .channel(uniq("restart"))
      .on("postgres_changes", { event: "INSERT", schema: "public", table: "items", filter: "id=eq.42424" }, (p) => got.push(p));
    ch.subscribe((s) => statuses.push(s));
    await waitFor(() => statuses.includes("SUBSCRIBED"), 3000, "subscribed");
    await node.stop();
    const again = await startNode(f.database.url, { port });
    await waitFor(() => ch.state === "joined" && c.realtime.isConnected(), 10_000, "rejoin after restart");
    await Bun.sleep(100);
    await f.database.db.sql`insert into public.items (id, n) values (42424, 1)`;
    await waitFor(() => got.length === 1, 5000, "change after restart");
    await again.stop();
  }, 20_000);
});
