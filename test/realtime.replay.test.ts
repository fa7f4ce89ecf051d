// Broadcast replay on private channels through the real @supabase/supabase-js client: messages from
// realtime.send(), from httpSend with persist, and from websocket sends with persist come back after
// the join reply, newest `limit` since `since`, oldest first, with meta {replayed, id}; the 25 cap;
// authorisation row by row (RLS on realtime.messages); no leak across topics; public channels and
// bad params refused in Realtime's wire shape; stored broadcasts not delivered twice live; a second
// node replays what the first stored.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createClient, type RealtimeChannel, type SupabaseClient } from "@supabase/supabase-js";
import { tokenFor } from "./support/app.ts";
import { client, RawSocket, startNode, startRealtime, subscribed, waitFor, type RealtimeFixture, type Vsn } from "./support/realtime.ts";

const USER_A = "aaaaaaaa-0000-4000-8000-00000000000a";
const USER_B = "bbbbbbbb-0000-4000-8000-00000000000b";

// A reads and writes every `room-*` topic; B reads `room-*` topics too, except messages whose event
// is `secret` (a row-level policy: replay must apply it message by message).
const SETUP = `
create policy read_rooms_a on realtime.messages for select to authenticated
  using (realtime.topic() like 'room-%' and auth.uid() = '${USER_A}'::uuid);
create policy read_rooms_b on realtime.messages for select to authenticated
  using (realtime.topic() like 'room-%' and auth.uid() = '${USER_B}'::uuid and coalesce(event, '') <> 'secret');
create policy write_rooms on realtime.messages for insert to authenticated
  with check (realtime.topic() like 'room-%' and auth.uid() = '${USER_A}'::uuid);
`;

setDefaultTimeout(20_000);

const f: RealtimeFixture = await startRealtime(SETUP);
const sql = f.database.db.sql;
const tokenOf = (sub: string) => tokenFor({ sub, role: "authenticated", aud: "authenticated" });
const [tokenA, tokenB] = [await tokenOf(USER_A), await tokenOf(USER_B)];
let seq = 0;
const uniq = (p: string) => `${p}-${++seq}-${Date.now()}`;

type Msg = { event: string; payload: Record<string, unknown>; meta?: { replayed?: boolean; id: string } };

// The user's token through supabase-js's accessToken callback: with setAuth(token) alone, the client
// refreshes auth from its (signed-out) session after the join and falls back to the anon key.
const mine: SupabaseClient[] = [];
afterAll(async () => {
  for (const c of mine) await c.removeAllChannels().catch(() => {});
});
async function userClient(token: string, vsn: Vsn = "2.0.0", url = f.node.url) {
  const c = createClient(url, f.keys.anon, {
    accessToken: async () => token,
    realtime: { vsn, heartbeatIntervalMs: 5_000, timeout: 5_000 },
  });
  mine.push(c);
  return c;
}

/** Joins with replay and collects every broadcast (replayed and live). */
async function joinReplay(token: string, topic: string, replay: Record<string, unknown>, vsn: Vsn = "2.0.0", url = f.node.url) {
  const c = await userClient(token, vsn, url);
  const got: Msg[] = [];
  const ch: RealtimeChannel = c
    .channel(topic, { config: { private: true, broadcast: { replay: replay as never } } })
    .on("broadcast", { event: "*" }, (p) => got.push(p as unknown as Msg));
  const res = await subscribed(ch);
  return { c, ch, got, res };
}

/** Waits until the batched writer has stored `n` rows of the topic. */
async function stored(topic: string, n: number) {
  const deadline = Date.now() + 3000;
  for (;;) {
    const c = (await sql<{ c: number }[]>`select count(*)::int as c from realtime.messages where topic = ${topic}`)[0]!.c;
    if (c >= n) return;
    if (Date.now() > deadline) throw new Error(`only ${c} of ${n} stored`);
    await Bun.sleep(10);
  }
}

/** realtime.send() rows with distinct inserted_at (one statement each). */
async function sendSql(topic: string, n: number, from = 0, event = "e") {
  for (let i = from; i < from + n; i++) await sql`select realtime.send(${sql.json({ i })}::jsonb, ${event}, ${topic}, true)`;
}

describe("replay", () => {
  for (const vsn of ["1.0.0", "2.0.0"] as const) {
    test(`vsn ${vsn}: since/limit give the newest messages since, oldest first, with meta {replayed, id}`, async () => {
      const topic = uniq("room");
      await sendSql(topic, 3, 0);
      await Bun.sleep(5);
      const since = Date.now();
      await Bun.sleep(5);
      await sendSql(topic, 5, 3);
      const { got, res } = await joinReplay(tokenA, topic, { since, limit: 3 }, vsn);
      expect(res.status).toBe("SUBSCRIBED");
      await waitFor(() => got.length >= 3, 3000, "replayed");
      await Bun.sleep(100);
      // Messages 3..7 are since `since`; the newest three, oldest first.
      expect(got.map((m) => m.payload.i)).toEqual([5, 6, 7]);
      for (const m of got) {
        expect(m.event).toBe("e");
        expect(m.meta?.replayed).toBe(true);
        expect(m.meta?.id).toMatch(/^[0-9a-f-]{36}$/);
      }
      // The id is the row's (and the payload's, as realtime.send() sets it).
      expect(got.map((m) => m.meta!.id)).toEqual(got.map((m) => m.payload.id as string));
      // No limit: Supabase's 25 default; since in the past: everything, in order.
      const all = await joinReplay(tokenA, topic, { since: 0 }, vsn);
      await waitFor(() => all.got.length >= 8, 3000, "all replayed");
      await Bun.sleep(100);
      expect(all.got.map((m) => m.payload.i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    });
  }

  test("limit is capped at 25 (and at least 1), as Supabase clamps it", async () => {
    const topic = uniq("room");
    await sql`insert into realtime.messages (topic, extension, event, payload, private, inserted_at)
              select ${topic}, 'broadcast', 'bulk', jsonb_build_object('i', g), true, localtimestamp - make_interval(secs => 40 - g)
                from generate_series(1, 30) g`;
    const big = await joinReplay(tokenA, topic, { since: 0, limit: 1000 });
    expect(big.res.status).toBe("SUBSCRIBED");
    await waitFor(() => big.got.length >= 25, 3000, "capped replay");
    await Bun.sleep(150);
    expect(big.got.map((m) => m.payload.i)).toEqual(Array.from({ length: 25 }, (_, k) => k + 6));
    const tiny = await joinReplay(tokenA, topic, { since: 0, limit: -5 });
    await waitFor(() => tiny.got.length >= 1, 3000, "clamped to one");
    await Bun.sleep(150);
    expect(tiny.got.map((m) => m.payload.i)).toEqual([30]);
  });

  test("httpSend and websocket send with persist are stored and replayed; live subscribers get them once", async () => {
    const topic = uniq("room");
    const a = await userClient(tokenA);
    const live: Msg[] = [];
    const sender = a
      .channel(topic, { config: { private: true, broadcast: { ack: true } } })
      .on("broadcast", { event: "*" }, (p) => live.push(p as unknown as Msg));
    expect((await subscribed(sender)).status).toBe("SUBSCRIBED");
    const b = await userClient(tokenB);
    const liveB: Msg[] = [];
    const listener = b.channel(topic, { config: { private: true } }).on("broadcast", { event: "*" }, (p) => liveB.push(p as unknown as Msg));
    expect((await subscribed(listener)).status).toBe("SUBSCRIBED");

    expect(await sender.httpSend("http", { n: 1 }, { persist: true })).toEqual({ success: true });
    expect(await sender.send({ type: "broadcast", event: "ws", payload: { n: 2 }, persist: true } as never)).toBe("ok");
    expect(await sender.send({ type: "broadcast", event: "plain", payload: { n: 3 } })).toBe("ok");
    expect(await sender.httpSend("ttl", { n: 4 }, { persist: { ttl: 60 } })).toEqual({ success: true });
    await waitFor(() => liveB.length >= 4, 3000, "live");
    await Bun.sleep(200);
    expect(liveB.map((m) => m.payload.n)).toEqual([1, 2, 3, 4]);
    // Persisted ones carry their stored id live; the plain one has no meta.
    expect(liveB[0]!.meta?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(liveB[2]!.meta).toBeUndefined();

    await stored(topic, 3);
    const r = await joinReplay(tokenB, topic, { since: Date.now() - 60_000 });
    await waitFor(() => r.got.length >= 3, 3000, "replayed persisted");
    await Bun.sleep(150);
    // Only what asked to be persisted is replayed, in send order, with the ids seen live.
    expect(r.got.map((m) => [m.event, m.payload.n])).toEqual([
      ["http", 1],
      ["ws", 2],
      ["ttl", 4],
    ]);
    expect(r.got[0]!.meta).toEqual({ replayed: true, id: liveB[0]!.meta!.id });
    // The trigger did not announce the stored rows a second time.
    expect(liveB.length).toBe(4);
    const rows = await sql<{ n: number; ttl: boolean }[]>`
      select (payload->>'n')::int as n, plinth_expires_at is not null as ttl from realtime.messages where topic = ${topic} order by inserted_at`;
    expect([...rows]).toEqual([
      { n: 1, ttl: false },
      { n: 2, ttl: false },
      { n: 4, ttl: true },
    ]);
    // An expired message is not replayed.
    await sql`update realtime.messages set plinth_expires_at = localtimestamp - interval '1 second' where topic = ${topic} and event = 'ttl'`;
    const r2 = await joinReplay(tokenB, topic, { since: 0 });
    await waitFor(() => r2.got.length >= 2, 3000, "replay without expired");
    await Bun.sleep(150);
    expect(r2.got.map((m) => m.event)).toEqual(["http", "ws"]);
  });

  test("replay is read under RLS message by message; other topics never leak", async () => {
    const topic = uniq("room");
    const other = uniq("room");
    await sendSql(topic, 1, 0, "open");
    await sendSql(topic, 1, 1, "secret");
    await sendSql(other, 3, 100, "open");
    await sendSql(topic, 1, 2, "open");
    // Same name, public message: not part of a private replay.
    await sql`select realtime.send('{"i":999}'::jsonb, 'open', ${topic}, false)`;
    const a = await joinReplay(tokenA, topic, { since: 0 });
    const b = await joinReplay(tokenB, topic, { since: 0 });
    await waitFor(() => a.got.length >= 3 && b.got.length >= 2, 3000, "replays");
    await Bun.sleep(150);
    expect(a.got.map((m) => m.payload.i)).toEqual([0, 1, 2]);
    expect(b.got.map((m) => m.payload.i)).toEqual([0, 2]);
  });

  test("a user who may not read the topic can neither join nor replay", async () => {
    const topic = uniq("vault");
    await sendSql(topic, 2);
    const res = await joinReplay(tokenA, topic, { since: 0 });
    expect(res.res.status).toBe("CHANNEL_ERROR");
    expect(String(res.res.err?.message)).toContain("Unauthorized: You do not have permissions to read from this Channel topic");
    expect(res.got).toEqual([]);
    const anon = client(f.node.url, f.keys.anon, "2.0.0");
    const got: Msg[] = [];
    const ch = anon.channel(uniq("room"), { config: { private: true, broadcast: { replay: { since: 0 } } } }).on("broadcast", { event: "*" }, (p) => got.push(p as unknown as Msg));
    expect((await subscribed(ch)).status).toBe("CHANNEL_ERROR");
    expect(got).toEqual([]);
  });

  test("a second node replays what the first stored", async () => {
    const node2 = await startNode(f.database.url);
    const topic = uniq("room");
    const a = await userClient(tokenA);
    const ch = a.channel(topic, { config: { private: true } });
    expect(await ch.httpSend("x", { n: 7 }, { persist: true })).toEqual({ success: true });
    await stored(topic, 1);
    const r = await joinReplay(tokenB, topic, { since: 0 }, "1.0.0", node2.url);
    expect(r.res.status).toBe("SUBSCRIBED");
    await waitFor(() => r.got.length >= 1, 3000, "replay on node 2");
    expect(r.got[0]).toMatchObject({ event: "x", payload: { n: 7 }, meta: { replayed: true } });
    await node2.stop();
  });
});

describe("refusals in Realtime's wire shape", () => {
  async function rawJoin(config: Record<string, unknown>, token: string | undefined = tokenA) {
    const s = new RawSocket(f.node.url, `apikey=${f.keys.anon}&vsn=1.0.0`);
    await s.opened();
    const ref = s.nextRef();
    const topic = `realtime:${uniq("room")}`;
    s.send({ topic, event: "phx_join", payload: { config, access_token: token }, ref, join_ref: ref });
    const reply = await s.expect<{ event: string; ref: string; payload: { status: string; response: { reason?: string } } }>(
      (x) => x.event === "phx_reply" && x.ref === ref,
    );
    return { s, reply };
  }

  test("public channels: replay is refused as Supabase refuses it", async () => {
    const { s, reply } = await rawJoin({ private: false, broadcast: { replay: { since: 0 } } });
    expect(reply.payload).toEqual({ status: "error", response: { reason: "UnableToReplayMessages: Replay is not allowed for public channels" } });
    s.ws.close();
  });

  test("invalid since/limit: an error reply, never a crash; the socket stays usable", async () => {
    const bad = [{ since: "0" }, { since: 1.5 }, {}, { since: null }, { since: 1e30 }, { since: -1e16 }, { since: 0, limit: "5" }, { since: 0, limit: 2.5 }, { since: 0, limit: [] }];
    for (const replay of bad) {
      const { s, reply } = await rawJoin({ private: true, broadcast: { replay } });
      expect(reply.payload).toEqual({ status: "error", response: { reason: "UnableToReplayMessages: Replay params are not valid" } });
      // Heartbeat still answered: the connection survived.
      const ref = s.nextRef();
      s.send({ topic: "phoenix", event: "heartbeat", payload: {}, ref, join_ref: null });
      await s.expect<{ ref: string }>((x) => x.ref === ref);
      s.ws.close();
    }
    // A replay that is not an object is ignored on private channels (as upstream's join does).
    const { s, reply } = await rawJoin({ private: true, broadcast: { replay: "yes" } });
    expect(reply.payload.status).toBe("ok");
    s.ws.close();
  });

  test("persist on a public channel, or with a bad ttl, is refused", async () => {
    const a = await userClient(tokenA);
    const pub = a.channel(uniq("room"));
    // The client refuses on its own; the server refuses too when asked directly.
    const url = `${f.node.url}/realtime/v1/api/broadcast/${encodeURIComponent(uniq("room"))}/events/x`;
    const headers = { apikey: f.keys.anon, authorization: `Bearer ${tokenA}`, "content-type": "application/json" };
    const r1 = await fetch(`${url}?persist=true`, { method: "POST", headers, body: "{}" });
    expect(r1.status).toBe(400);
    const r2 = await fetch(`${url}?private=true&persist[ttl]=-1`, { method: "POST", headers, body: "{}" });
    expect(r2.status).toBe(400);
    const r3 = await fetch(`${url}?private=true&persist=maybe`, { method: "POST", headers, body: "{}" });
    expect(r3.status).toBe(400);
    await expect(pub.httpSend("x", {}, { persist: true })).rejects.toThrow();
  });
});
