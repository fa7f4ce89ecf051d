// The realtime websocket at the frame level: both serializers, binary user broadcasts, and the ugly
// cases a real client never produces (garbage, unknown topics, oversize frames, stalled readers).
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { connect as tcpConnect, type Socket } from "node:net";
import { tokenFor } from "./support/app.ts";
import { RawSocket, startRealtime, waitFor, type RealtimeFixture } from "./support/realtime.ts";

setDefaultTimeout(15_000);

const f: RealtimeFixture = await startRealtime(
  `create table public.things (id int primary key, name text);
   alter publication supabase_realtime add table public.things;`,
  { realtime: { maxSocketBuffer: 1024 * 1024 }, http: { bodyLimit: 64 * 1024 } },
);

type V1 = { topic: string; event: string; payload: any; ref: string | null; join_ref: string | null };
type V2 = [string | null, string | null, string, string, any];

async function open(vsn: "1.0.0" | "2.0.0", key = f.keys.anon): Promise<RawSocket> {
  const s = new RawSocket(f.node.url, `apikey=${key}&vsn=${vsn}`);
  await s.opened();
  return s;
}

function joinV1(s: RawSocket, topic: string, payload: unknown = { config: {} }): string {
  const ref = s.nextRef();
  s.send({ topic, event: "phx_join", payload, ref, join_ref: ref });
  return ref;
}

function joinV2(s: RawSocket, topic: string, payload: unknown = { config: {} }): string {
  const ref = s.nextRef();
  s.send([ref, ref, topic, "phx_join", payload]);
  return ref;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A kind-3 frame as realtime-js's serializer builds it. */
function userBroadcastPush(joinRef: string, ref: string, topic: string, event: string, body: Uint8Array, json: boolean): Uint8Array {
  const parts = [joinRef, ref, topic, event, ""].map((x) => enc.encode(x));
  const out = new Uint8Array(7 + parts.reduce((n, p) => n + p.length, 0) + body.length);
  out.set([3, parts[0]!.length, parts[1]!.length, parts[2]!.length, parts[3]!.length, 0, json ? 1 : 0]);
  let at = 7;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  out.set(body, at);
  return out;
}

/** Decodes a kind-4 frame (what realtime-js's serializer reads). */
function readUserBroadcast(b: Uint8Array) {
  const [kind, tl, el, ml, encoding] = b;
  let at = 5;
  const topic = dec.decode(b.subarray(at, (at += tl!)));
  const event = dec.decode(b.subarray(at, (at += el!)));
  const meta = dec.decode(b.subarray(at, (at += ml!)));
  return { kind, topic, event, meta, encoding, body: b.subarray(at) };
}

describe("connecting", () => {
  test("an API key is required and the serializer version must be known", async () => {
    const noKey = await fetch(`${f.node.url}/realtime/v1/websocket?vsn=1.0.0`, { headers: { upgrade: "websocket", connection: "upgrade" } });
    expect(noKey.status).toBe(401);
    const badVsn = await fetch(`${f.node.url}/realtime/v1/websocket?vsn=3.0.0&apikey=${f.keys.anon}`, {
      headers: { upgrade: "websocket", connection: "upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" },
    });
    expect(badVsn.status).toBe(400);
  });

  test("heartbeats are answered on both versions", async () => {
    const s1 = await open("1.0.0");
    s1.send({ topic: "phoenix", event: "heartbeat", payload: {}, ref: "7", join_ref: null });
    const r1 = await s1.expect<V1>((m) => m.ref === "7");
    expect(r1).toEqual({ topic: "phoenix", event: "phx_reply", payload: { status: "ok", response: {} }, ref: "7", join_ref: null });
    const s2 = await open("2.0.0");
    s2.send([null, "8", "phoenix", "heartbeat", {}]);
    expect(await s2.expect<V2>((m) => m[1] === "8")).toEqual([null, "8", "phoenix", "phx_reply", { status: "ok", response: {} }]);
  });
});

describe("joining", () => {
  test("postgres_changes ids come back in order; a bad filter is reported by a system message", async () => {
    const s = await open("1.0.0");
    const changes = [
      { event: "INSERT", schema: "public", table: "things" },
      { event: "*", schema: "public", table: "things", filter: "id=eq.1" },
      { event: "*", schema: "public", table: "things", filter: "name=eq.x" },
    ];
    const ref = joinV1(s, "realtime:ids", { config: { postgres_changes: changes } });
    const reply = await s.expect<V1>((m) => m.ref === ref);
    expect(reply.payload.status).toBe("ok");
    const got = reply.payload.response.postgres_changes as Array<Record<string, unknown>>;
    expect(got.map(({ id: _id, ...rest }) => rest)).toEqual(changes);
    expect(got.every((c) => typeof c.id === "number")).toBe(true);
    expect(await s.expect<V1>((m) => m.event === "system")).toMatchObject({ payload: { extension: "postgres_changes", status: "ok", channel: "ids" } });

    const bad = joinV1(s, "realtime:bad-filter", { config: { postgres_changes: [{ event: "*", schema: "public", table: "things", filter: "nope=eq.1" }] } });
    expect((await s.expect<V1>((m) => m.ref === bad)).payload.status).toBe("ok");
    const sys = await s.expect<V1>((m) => m.event === "system" && m.topic === "realtime:bad-filter");
    expect(sys.payload).toMatchObject({ extension: "postgres_changes", status: "error" });
    expect(sys.payload.message).toContain("nope");
  });

  test("unknown topics, empty topic names and a second join of the same topic", async () => {
    const s = await open("2.0.0");
    s.send([null, "1", "realtime:never-joined", "broadcast", { type: "broadcast", event: "x", payload: {} }]);
    expect((await s.expect<V2>((m) => m[1] === "1"))[4]).toEqual({ status: "error", response: { reason: "unmatched topic" } });
    const r2 = joinV2(s, "elsewhere:room");
    expect((await s.expect<V2>((m) => m[1] === r2))[4].response.reason).toBe("unmatched topic");
    const r3 = joinV2(s, "realtime:");
    expect((await s.expect<V2>((m) => m[1] === r3))[4].response.reason).toContain("TopicNameRequired");
    const first = joinV2(s, "realtime:twice");
    await s.expect<V2>((m) => m[1] === first && m[3] === "phx_reply");
    const second = joinV2(s, "realtime:twice");
    expect(await s.expect<V2>((m) => m[3] === "phx_close")).toEqual([first, first, "realtime:twice", "phx_close", {}]);
    expect((await s.expect<V2>((m) => m[1] === second))[4].status).toBe("ok");
    const leave = s.nextRef();
    s.send([second, leave, "realtime:twice", "phx_leave", {}]);
    expect((await s.expect<V2>((m) => m[1] === leave))[4]).toEqual({ status: "ok", response: {} });
  });

  test("a refresh with a bad token closes the channel with a system message", async () => {
    const s = await open("1.0.0");
    const token = await tokenFor({ sub: "u1", role: "authenticated" });
    const ref = joinV1(s, "realtime:tok", { config: {}, access_token: token });
    expect((await s.expect<V1>((m) => m.ref === ref)).payload.status).toBe("ok");
    s.send({ topic: "realtime:tok", event: "access_token", payload: { access_token: "garbage" }, ref: "99", join_ref: ref });
    const sys = await s.expect<V1>((m) => m.event === "system");
    expect(sys.payload).toEqual({ extension: "system", status: "error", message: "The token provided is not a valid JWT", channel: "tok" });
    expect(await s.expect<V1>((m) => m.event === "phx_close")).toMatchObject({ topic: "realtime:tok", ref, join_ref: ref });
  });
});

describe("database changes on the wire", () => {
  test("the legacy join (no config) names schema:table:filter in the topic and gets events by type", async () => {
    const s = await open("1.0.0");
    const ref = joinV1(s, "realtime:public:things:id=eq.7", {});
    expect((await s.expect<V1>((m) => m.ref === ref)).payload.status).toBe("ok");
    await s.expect<V1>((m) => m.event === "system");
    await f.database.db.sql`insert into public.things (id, name) values (6, 'six'), (7, 'seven')`;
    const ev = await s.expect<V1>((m) => m.event === "INSERT");
    expect(ev.payload).toMatchObject({ schema: "public", table: "things", type: "INSERT", record: { id: 7, name: "seven" }, errors: null });
    expect(ev.payload.columns).toEqual([
      { name: "id", type: "int4" },
      { name: "name", type: "text" },
    ]);
    expect(ev.payload.commit_timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  test("TRUNCATE reaches unfiltered '*' subscriptions", async () => {
    const s = await open("2.0.0");
    const ref = joinV2(s, "realtime:trunc", { config: { postgres_changes: [{ event: "*", schema: "public", table: "things" }] } });
    const reply = await s.expect<V2>((m) => m[1] === ref);
    const id = reply[4].response.postgres_changes[0].id;
    await s.expect<V2>((m) => m[3] === "system");
    await f.database.db.sql`truncate public.things`;
    const ev = await s.expect<V2>((m) => m[3] === "postgres_changes" && m[4].data.type === "TRUNCATE");
    expect(ev[4]).toMatchObject({ ids: [id], data: { schema: "public", table: "things", type: "TRUNCATE" } });
  });
});

describe("binary broadcasts (vsn 2.0.0)", () => {
  test("kind 3 in, kind 4 out; JSON-encoded ones also reach vsn 1 clients", async () => {
    const sender = await open("2.0.0");
    const v2 = await open("2.0.0");
    const v1 = await open("1.0.0");
    const js = joinV2(sender, "realtime:bin");
    joinV2(v2, "realtime:bin");
    joinV1(v1, "realtime:bin");
    await sender.expect<V2>((m) => m[1] === js);
    await v2.expect<V2>((m) => m[3] === "phx_reply");
    await v1.expect<V1>((m) => m.event === "phx_reply");

    sender.send(userBroadcastPush(js, "2", "realtime:bin", "cursor", enc.encode(JSON.stringify({ x: 1 })), true));
    const bin = readUserBroadcast(await v2.expect<Uint8Array>((m) => m instanceof Uint8Array));
    expect(bin).toMatchObject({ kind: 4, topic: "realtime:bin", event: "cursor", meta: "", encoding: 1 });
    expect(JSON.parse(dec.decode(bin.body))).toEqual({ x: 1 });
    expect(await v1.expect<V1>((m) => m.event === "broadcast")).toEqual({
      topic: "realtime:bin",
      event: "broadcast",
      payload: { type: "broadcast", event: "cursor", payload: { x: 1 } },
      ref: null,
      join_ref: null,
    });

    v2.frames.length = 0;
    sender.send(userBroadcastPush(js, "3", "realtime:bin", "blob", new Uint8Array([0, 1, 2, 255]), false));
    const raw = readUserBroadcast(await v2.expect<Uint8Array>((m) => m instanceof Uint8Array));
    expect(raw).toMatchObject({ event: "blob", encoding: 0 });
    expect([...raw.body]).toEqual([0, 1, 2, 255]);
    // The sender does not hear itself (self: false), and vsn 1 cannot carry raw bytes.
    await Bun.sleep(100);
    expect(sender.frames.some((m) => m instanceof Uint8Array)).toBe(false);
    expect(v1.frames.filter((m) => (m as V1).event === "broadcast").length).toBe(1);
  });

  test("REST octet-stream bodies reach vsn 2 clients as binary", async () => {
    const s = await open("2.0.0");
    const r = joinV2(s, "realtime:rest-bin");
    await s.expect<V2>((m) => m[1] === r);
    const res = await fetch(`${f.node.url}/realtime/v1/api/broadcast/rest-bin/events/file`, {
      method: "POST",
      headers: { apikey: f.keys.anon, "content-type": "application/octet-stream" },
      body: new Uint8Array([9, 8, 7]),
    });
    expect(res.status).toBe(202);
    const b = readUserBroadcast(await s.expect<Uint8Array>((m) => m instanceof Uint8Array));
    expect(b).toMatchObject({ event: "file", encoding: 0 });
    expect([...b.body]).toEqual([9, 8, 7]);
  });
});

describe("ugly input", () => {
  test("garbage text frames close the socket with 1003", async () => {
    for (const [vsn, junk] of [
      ["1.0.0", "{not json"],
      ["1.0.0", "[1,2,3]"],
      ["2.0.0", '{"topic":"x"}'],
      ["2.0.0", '[null,null,"realtime:x","broadcast","not an object"]'],
    ] as const) {
      const s = await open(vsn);
      s.send(junk);
      await waitFor(() => s.closed, 3000, "close");
      expect(s.closed!.code).toBe(1003);
    }
  });

  test("binary frames on vsn 1, and malformed ones on vsn 2, close the socket", async () => {
    const s1 = await open("1.0.0");
    s1.send(new Uint8Array([3, 0, 0, 0, 0, 0, 1]));
    await waitFor(() => s1.closed, 3000, "close v1");
    expect(s1.closed!.code).toBe(1003);
    const s2 = await open("2.0.0");
    s2.send(new Uint8Array([3, 200, 0, 0]));
    await waitFor(() => s2.closed, 3000, "close v2");
    expect(s2.closed!.code).toBe(1003);
  });

  test("frames above the size limit close the socket with 1009", async () => {
    const s = await open("1.0.0");
    s.send({ topic: "phoenix", event: "heartbeat", payload: { pad: "x".repeat(100 * 1024) }, ref: "1", join_ref: null });
    await waitFor(() => s.closed, 3000, "close");
    expect(s.closed!.code).toBe(1009);
  });

  test("a stalled reader is disconnected while the others keep receiving", async () => {
    const topic = "realtime:flood";
    const stalled = await stalledSocket(topic);
    const reader = await open("1.0.0");
    joinV1(reader, topic);
    await reader.expect<V1>((m) => m.event === "phx_reply");
    const sender = await open("1.0.0");
    const sref = joinV1(sender, topic);
    await sender.expect<V1>((m) => m.ref === sref);
    const payload = { pad: "y".repeat(16 * 1024) };
    const N = 600; // ~10 MB: beyond the 1 MB socket buffer plus what the kernel buffers (~4 MB)
    const count = () => reader.frames.filter((m) => (m as V1).event === "broadcast").length;
    // Server and clients share this process, so the sender is paced: a "fast" reader is one that
    // keeps up, which it can only do when the event loop gets to read.
    for (let i = 0; i < N; i += 10) {
      for (let j = i; j < i + 10; j++)
        sender.send({ topic, event: "broadcast", payload: { type: "broadcast", event: "e", payload }, ref: null, join_ref: sref });
      await waitFor(() => count() >= i - 20, 5_000, "reader keeping up");
    }
    await waitFor(() => count() === N, 10_000, "all broadcasts at the fast reader");
    expect(reader.closed).toBeNull();
    stalled.resume();
    await waitFor(() => stalled.destroyed || stalled.readableEnded, 5000, "stalled socket closed");
  });
});

/** A websocket (hand-rolled over TCP) that joins a topic and then stops reading. */
async function stalledSocket(topic: string): Promise<Socket> {
  const { port } = f.node;
  const sock = tcpConnect({ host: "127.0.0.1", port });
  await new Promise<void>((resolve) => sock.once("connect", () => resolve()));
  sock.write(
    `GET /realtime/v1/websocket?apikey=${f.keys.anon}&vsn=1.0.0 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let received = "";
  await new Promise<void>((resolve) => {
    const onData = (d: Buffer) => {
      received += d.toString("latin1");
      if (received.includes("\r\n\r\n")) {
        sock.off("data", onData);
        resolve();
      }
    };
    sock.on("data", onData);
  });
  const text = enc.encode(JSON.stringify({ topic, event: "phx_join", payload: { config: {} }, ref: "1", join_ref: "1" }));
  const mask = [1, 2, 3, 4];
  const header = text.length < 126 ? [0x81, 0x80 | text.length] : [0x81, 0x80 | 126, text.length >> 8, text.length & 255];
  sock.write(Buffer.from([...header, ...mask, ...text.map((b, i) => b ^ mask[i % 4]!)]));
  await Bun.sleep(200);
  sock.pause();
  sock.on("data", () => {});
  return sock;
}
