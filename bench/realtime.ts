// Realtime benchmarks: run by bench/run.ts (`npm run bench -- realtime`), or alone (prints, writes
// nothing):
//   bun bench/realtime.ts [--quick]
// Quick mode: 3 s of latency, 200 fan-out subscribers for 2 s, 1,000 idle sockets.
//
// 1. Commit-to-client latency of postgres_changes: 100 subscribers (one socket and channel each,
//    vsn 2.0.0), 1,000 single-row INSERT transactions per second from another process; latency =
//    arrival time - the change's commit_timestamp (ms precision, same clock). Goal: p99 < 50 ms.
// 2. Broadcast fan-out: 1 sender and 1,000 subscribers on one topic; delivered messages per second
//    (one message reaching one subscriber counts once), against a bare Bun websocket server that
//    publishes the very same kind-4 frame to the same 1,000 sockets. Goal: >= 70 % of the bare one.
// 3. Memory per idle connection: server RSS growth for 10,000 sockets (connected, then each joined
//    to a channel), divided by 10,000.
//
// Processes: this one (PostgreSQL via the embedded supervisor, the SQL writer, orchestration), the
// server under test, and a client process holding the sockets. Everything on 127.0.0.1.
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { apiKeys } from "../src/lib/jwt.ts";
import { configSchema } from "../src/config/schema.ts";
import { startEmbedded } from "../src/db/embedded/supervisor.ts";
import { applySystemMigrations } from "../src/db/migrations/system.ts";
import { createLogger } from "../src/log.ts";
import { encodeUserBroadcast } from "../src/realtime/protocol.ts";
import { serve } from "../src/server.ts";
import { BUN, fmt, freePort, median, pidsMentioning, processTree, rssMb, sleep } from "./lib.ts";
import { GOALS, goalRow, pct, table, type BenchContext, type Outcome } from "./outcome.ts";

const SECRET = "bench-secret-that-is-at-least-32-characters-long";
const ANON = (await apiKeys(SECRET)).anon;
const enc = new TextEncoder();
const PAYLOAD = { x: 123.5, y: 456.25, user: "bench-user", note: "a typical small cursor update" };

// ---------------------------------------------------------------------------------------------
// Roles

if (import.meta.main) {
  const role = process.argv[2];
  if (role === "server") await runServer(process.argv[3]!, Number(process.argv[4]));
  else if (role === "bare") await runBare(Number(process.argv[3]));
  else if (role === "clients") runClients();
  else {
    const r = await runRealtime({ quick: process.argv.includes("--quick"), progress: (s) => process.stderr.write(s + "\n") });
    console.log([...r.lines, ...r.warnings.map((w) => `warning: ${w}`)].join("\n"));
  }
}

/** The Plinth server under test. */
async function runServer(dbUrl: string, port: number): Promise<void> {
  const config = configSchema.parse({ port, db: { url: dbUrl, poolMax: 10 }, rateLimit: { enabled: false }, log: { level: "silent" } });
  await serve({ config, jwtSecret: SECRET, log: createLogger("silent"), banner: () => {} });
  process.send?.({ ready: true });
}

/** The ceiling: Bun's own pub/sub fanning out a fixed frame for each frame the sender sends. */
async function runBare(port: number): Promise<void> {
  const frame = encodeUserBroadcast("realtime:fan", { event: "tick", encoding: "json", body: enc.encode(JSON.stringify(PAYLOAD)), meta: null })!;
  Bun.serve({
    hostname: "127.0.0.1",
    port,
    fetch(req, srv) {
      return srv.upgrade(req, { data: undefined }) ? undefined : new Response("ws only", { status: 400 });
    },
    websocket: {
      open: (ws) => {
        ws.subscribe("fan");
      },
      message: (ws, m) => {
        if (typeof m !== "string") ws.publish("fan", frame);
      },
      backpressureLimit: 4 * 1024 * 1024,
      closeOnBackpressureLimit: true,
    },
  });
  process.send?.({ ready: true });
}

// ---------------------------------------------------------------------------------------------
// Client process: holds the sockets, driven by messages from the parent.

type Cmd =
  | { cmd: "latency"; url: string; subscribers: number }
  | { cmd: "record"; on: boolean }
  | { cmd: "report" }
  | { cmd: "fanout"; url: string; subscribers: number; seconds: number; bare: boolean }
  | { cmd: "idle"; url: string; sockets: number; join: boolean }
  | { cmd: "close" };

function runClients(): void {
  const sockets: WebSocket[] = [];
  let recording = false;
  const latencies: number[] = [];
  let received = 0;

  const wsUrl = (url: string) => `${url.replace(/^http/, "ws")}/realtime/v1/websocket?apikey=${ANON}&vsn=2.0.0`;
  const openSocket = (url: string) =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.binaryType = "arraybuffer";
      ws.onopen = () => resolve(ws);
      ws.onerror = () => reject(new Error("connect failed"));
      sockets.push(ws);
    });
  const join = (ws: WebSocket, topic: string, config: unknown) =>
    new Promise<void>((resolve) => {
      const prev = ws.onmessage;
      ws.onmessage = (e) => {
        if (typeof e.data === "string" && e.data.includes('"phx_reply"')) {
          ws.onmessage = prev;
          resolve();
        }
      };
      ws.send(JSON.stringify(["1", "1", topic, "phx_join", { config }]));
    });
  const heartbeat = setInterval(() => {
    for (const ws of sockets) if (ws.readyState === WebSocket.OPEN) ws.send('[null,"hb","phoenix","heartbeat",{}]');
  }, 20_000);
  heartbeat.unref?.();

  async function inBatches(n: number, size: number, fn: (i: number) => Promise<void>): Promise<void> {
    for (let i = 0; i < n; i += size) await Promise.all(Array.from({ length: Math.min(size, n - i) }, (_, k) => fn(i + k)));
  }

  process.on("message", async (msg: Cmd) => {
    switch (msg.cmd) {
      case "latency": {
        await inBatches(msg.subscribers, 50, async (i) => {
          const ws = await openSocket(wsUrl(msg.url));
          await join(ws, `realtime:lat-${i}`, { postgres_changes: [{ event: "INSERT", schema: "public", table: "bench_changes" }] });
          ws.onmessage = (e) => {
            if (!recording || typeof e.data !== "string") return;
            const at = Date.now();
            const m = /"commit_timestamp":"([^"]+)"/.exec(e.data);
            if (m) latencies.push(at - Date.parse(m[1]!));
          };
        });
        process.send!({ ready: true });
        break;
      }
      case "record":
        recording = msg.on;
        process.send!({ ok: true });
        break;
      case "report": {
        const s = latencies.sort((a, b) => a - b);
        const pct = (p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
        process.send!({ count: s.length, p50: pct(50), p90: pct(90), p99: pct(99), max: s.at(-1) ?? NaN });
        break;
      }
      case "fanout": {
        const url = msg.bare ? `ws://${new URL(msg.url).host}/` : wsUrl(msg.url);
        await inBatches(msg.subscribers, 100, async (i) => {
          const ws = await openSocket(url);
          if (!msg.bare) await join(ws, "realtime:fan", {});
          ws.onmessage = () => {
            received++;
          };
          void i;
        });
        const sender = await openSocket(url);
        if (!msg.bare) await join(sender, "realtime:fan", {});
        sender.onmessage = () => {};
        const push = new Uint8Array(
          (() => {
            const parts = ["1", "", "realtime:fan", "tick", ""].map((x) => enc.encode(x));
            const body = enc.encode(JSON.stringify(PAYLOAD));
            const out = new Uint8Array(7 + parts.reduce((n, p) => n + p.length, 0) + body.length);
            out.set([3, parts[0]!.length, parts[1]!.length, parts[2]!.length, parts[3]!.length, 0, 1]);
            let at = 7;
            for (const p of [...parts, body]) {
              out.set(p, at);
              at += p.length;
            }
            return out;
          })(),
        );
        // Windowed sending: at most WINDOW messages not yet delivered to every subscriber.
        const WINDOW = 64;
        received = 0;
        let sent = 0;
        const started = performance.now();
        const deadline = started + msg.seconds * 1000;
        while (performance.now() < deadline) {
          while (sent - received / msg.subscribers < WINDOW) {
            sender.send(push);
            sent++;
          }
          await new Promise((r) => setImmediate(r));
        }
        const elapsed = (performance.now() - started) / 1000;
        const delivered = received;
        process.send!({ delivered, elapsed, sent });
        for (const ws of sockets.splice(0)) ws.close();
        break;
      }
      case "idle": {
        if (!msg.join) {
          await inBatches(msg.sockets, 200, async () => {
            const ws = await openSocket(wsUrl(msg.url));
            ws.onmessage = () => {};
          });
        } else {
          const open = sockets.filter((s) => s.readyState === WebSocket.OPEN);
          await inBatches(open.length, 200, (i) => join(open[i]!, `realtime:idle-${i % 100}`, {}));
        }
        process.send!({ open: sockets.filter((s) => s.readyState === WebSocket.OPEN).length });
        break;
      }
      case "close":
        for (const ws of sockets.splice(0)) ws.close();
        process.send!({ ok: true });
        setTimeout(() => process.exit(0), 200);
        break;
    }
  });
  process.send!({ ready: true });
}

// ---------------------------------------------------------------------------------------------
// Orchestration

interface Child {
  proc: ReturnType<typeof Bun.spawn>;
  next(): Promise<Record<string, unknown>>;
  ask(msg: Cmd): Promise<Record<string, unknown>>;
}

function child(args: string[]): Child {
  const inbox: Record<string, unknown>[] = [];
  const waiters: Array<(m: Record<string, unknown>) => void> = [];
  const proc = Bun.spawn([BUN, import.meta.path, ...args], {
    stdout: "inherit",
    stderr: "inherit",
    ipc(message) {
      const w = waiters.shift();
      if (w) w(message as Record<string, unknown>);
      else inbox.push(message as Record<string, unknown>);
    },
  });
  const next = () => (inbox.length ? Promise.resolve(inbox.shift()!) : new Promise<Record<string, unknown>>((r) => waiters.push(r)));
  return {
    proc,
    next,
    ask(msg) {
      proc.send(msg);
      return next();
    },
  };
}

function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds of several process groups at once, for "who was busy" lines. */
function cpuSnapshot(groups: Record<string, () => number[]>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, pids] of Object.entries(groups)) out[name] = pids().reduce((t, pid) => t + cpuSeconds(pid), 0);
  return out;
}

interface RealtimeFigures {
  latency: {
    subscribers: number;
    target: number;
    achieved: number;
    seconds: number;
    count: number;
    expected: number;
    p50: number;
    p90: number;
    p99: number;
    max: number;
    cpu: string;
  };
  fanout: {
    subscribers: number;
    seconds: number;
    payloadBytes: number;
    plinth: number[];
    bare: number[];
    plinthRate: number;
    bareRate: number;
    cpuPlinth: number;
    cpuBare: number;
    clientBusy: number[];
  };
  idle: { sockets: number; joined: number; rss: [number, number, number]; perSocketKb: number; perJoinedKb: number; fdLimit: number };
}

export async function runRealtime(ctx: BenchContext): Promise<Outcome> {
  const f = await measure(ctx);
  const { latency: l, fanout: b, idle: i } = f;
  const share = b.plinthRate / b.bareRate;
  return {
    ok: true,
    summary: [
      goalRow(
        "realtimeP99Ms",
        `p50 ${l.p50} ms, p99 ${l.p99} ms (max ${l.max} ms)`,
        l.p99 < GOALS.realtimeP99Ms.limit,
        `${GOALS.realtimeP99Ms.what}, ${l.subscribers} subscribers, ${fmt(l.achieved, 0)} inserts/s`,
      ),
      goalRow(
        "realtimeBroadcastShare",
        `${fmt(b.plinthRate / 1e6, 2)} M vs ${fmt(b.bareRate / 1e6, 2)} M deliveries/s (${pct(share)})`,
        share >= GOALS.realtimeBroadcastShare.limit,
        `${GOALS.realtimeBroadcastShare.what}, 1 → ${b.subscribers.toLocaleString("en-US")}`,
      ),
      [
        `Realtime: memory per idle connection, ${i.sockets.toLocaleString("en-US")} connections`,
        `${fmt(i.perSocketKb, 1)} kB, ${fmt(i.perJoinedKb, 1)} kB with a channel joined`,
        "report",
        "info",
      ],
    ],
    body: render(f),
    lines: [
      `postgres_changes: p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms (${l.count} deliveries of ~${fmt(l.expected, 0)})`,
      `broadcast: Plinth ${fmt(b.plinthRate, 0)}, bare ${fmt(b.bareRate, 0)} deliveries/s (${pct(share)}); idle ${fmt(i.perSocketKb, 1)} kB per socket`,
    ],
    warnings: l.count < l.expected * 0.99 ? [`postgres_changes: ${l.count} deliveries, ~${fmt(l.expected, 0)} expected`] : [],
  };
}

function render(f: RealtimeFigures): string {
  const { latency: l, fanout: b, idle: i } = f;
  const runs = (xs: number[]) => xs.map((x) => fmt(x / 1e6, 2)).join(", ");
  return [
    "Conditions: PostgreSQL (embedded, in a temporary directory) and the SQL writer in the benchmark process, the Plinth server",
    "(`serve()`, silent log, rate limit off) in its own process, and a client process holding every socket; all on 127.0.0.1, vsn 2.0.0.",
    `- Latency: ${l.subscribers} subscribers (one socket and channel each) on INSERTs into one table; single-row INSERT transactions at`,
    `  ${l.target}/s from the benchmark process for ${l.seconds} s measured (after a warm-up); latency = arrival time − the change's`,
    "  `commit_timestamp` (ms precision, same clock).",
    `- Broadcast: 1 sender and ${b.subscribers.toLocaleString("en-US")} subscribers on one topic, ${b.payloadBytes}-byte JSON payload, at most 64 messages not yet delivered to`,
    `  everyone; ${b.seconds} s per run, runs in the order Plinth, bare, bare, Plinth, medians. The bare reference is a \`Bun.serve\` websocket`,
    "  server publishing the very same binary frame to the same sockets. One delivery = one message reaching one subscriber.",
    `- Idle memory: server RSS before, after opening ${i.sockets.toLocaleString("en-US")} sockets, and after each joined a channel (2 s settling each; fd limit ${i.fdLimit}).`,
    "",
    table(
      ["Measurement", "Result", "Goal"],
      [
        [
          `commit-to-client latency, ${l.subscribers} subscribers, ${fmt(l.achieved, 0)} inserts/s, ${l.seconds} s`,
          `p50 ${l.p50} ms, p90 ${l.p90} ms, **p99 ${l.p99} ms**, max ${l.max} ms (${l.count.toLocaleString("en-US")} deliveries, ~${fmt(l.expected, 0)} expected)`,
          GOALS.realtimeP99Ms.goal,
        ],
        [
          `broadcast, 1 sender → ${b.subscribers.toLocaleString("en-US")} subscribers`,
          `Plinth ${fmt(b.plinthRate / 1e6, 2)} M deliveries/s (runs ${runs(b.plinth)} M), bare Bun ${fmt(b.bareRate / 1e6, 2)} M (runs ${runs(b.bare)} M): **${pct(b.plinthRate / b.bareRate)}**`,
          GOALS.realtimeBroadcastShare.goal,
        ],
        [
          "server CPU per 1,000 deliveries (includes connecting the sockets)",
          `Plinth ${fmt(b.cpuPlinth, 0)} µs, bare ${fmt(b.cpuBare, 0)} µs (${pct(b.cpuBare / b.cpuPlinth)}); client process busy ${b.clientBusy.map((x) => pct(x)).join(", ")}`,
          "—",
        ],
        [
          `memory per idle connection, ${i.sockets.toLocaleString("en-US")} connections`,
          `${fmt(i.perSocketKb, 1)} kB per socket, ${fmt(i.perJoinedKb, 1)} kB with one channel joined (RSS ${i.rss.map((x) => fmt(x, 0)).join(" → ")} MB)`,
          "report",
        ],
      ],
    ),
    "",
    `CPU used during the measured latency window, per process group: ${l.cpu}.`,
    "",
  ].join("\n");
}

async function measure(ctx: BenchContext): Promise<RealtimeFigures> {
  const QUICK = ctx.quick;
  const nproc = navigator.hardwareConcurrency ?? 1;
  const dir = mkdtempSync(join(tmpdir(), "plinth-bench-rt-"));
  chmodSync(dir, 0o711);
  const pg = await startEmbedded({ dataDir: dir });
  const sql = postgres(pg.url, { max: 8, onnotice: () => {} });
  const children: Child[] = [];
  try {
    await applySystemMigrations(sql);
    await sql.unsafe(`create table if not exists public.bench_changes (id bigserial primary key, v int not null, note text);
                      alter publication supabase_realtime add table public.bench_changes;`);

    // ---- 1. latency
    ctx.progress("realtime: postgres_changes latency");
    const port = await freePort();
    const server = child(["server", pg.url, String(port)]);
    children.push(server);
    await server.next();
    const url = `http://127.0.0.1:${port}`;
    const clients = child(["clients"]);
    children.push(clients);
    await clients.next();
    const subscribers = 100;
    await clients.ask({ cmd: "latency", url, subscribers });
    const rate = 1000;
    const warm = QUICK ? 1 : 2;
    const measured = QUICK ? 3 : 8;
    const postmaster = pidsMentioning(join(dir, "pg")).find((pid) => processTree(pid).length > 1);
    const groups = {
      server: () => [server.proc.pid],
      clients: () => [clients.proc.pid],
      "writer (this process)": () => [process.pid],
      postgres: () => (postmaster ? processTree(postmaster) : []),
    };
    const writer = writeAtRate(sql, rate, warm + measured);
    await sleep(warm * 1000);
    await clients.ask({ cmd: "record", on: true });
    const before = cpuSnapshot(groups);
    const achieved = await writer;
    const after = cpuSnapshot(groups);
    await sleep(300);
    await clients.ask({ cmd: "record", on: false });
    const busy = Object.keys(groups)
      .map((k) => `${k} ${fmt(((after[k]! - before[k]!) / measured) * 100, 0)} %`)
      .join(", ");
    const lat = await clients.ask({ cmd: "report" });
    const latency = {
      subscribers,
      target: rate,
      achieved,
      seconds: measured,
      count: Number(lat.count),
      expected: achieved * measured * subscribers,
      p50: Number(lat.p50),
      p90: Number(lat.p90),
      p99: Number(lat.p99),
      max: Number(lat.max),
      cpu: `${busy} (of ${nproc * 100} %)`,
    };

    // ---- 2. broadcast fan-out: Plinth and bare alternately (P B B P), so drift in the machine's
    // load hits both sides alike; medians of each side's runs.
    const fanSubs = QUICK ? 200 : 1000;
    ctx.progress(`realtime: broadcast to ${fanSubs} subscribers`);
    const seconds = QUICK ? 2 : 4;
    const barePort = await freePort();
    const bare = child(["bare", String(barePort)]);
    children.push(bare);
    await bare.next();
    const runs: Record<"plinth" | "bare", number[]> = { plinth: [], bare: [] };
    // Server CPU time per 1,000 deliveries, and the client's CPU share: throughput on a shared
    // 2-CPU machine can be client-bound, the server's cost per delivery is not.
    const cost: Record<"plinth" | "bare", number[]> = { plinth: [], bare: [] };
    const clientBusy: number[] = [];
    for (const side of ["plinth", "bare", "bare", "plinth"] as const) {
      const serverPid = side === "plinth" ? server.proc.pid : bare.proc.pid;
      const before = cpuSnapshot({ server: () => [serverPid], clients: () => [clients.proc.pid] });
      const r = await clients.ask({
        cmd: "fanout",
        url: side === "plinth" ? url : `http://127.0.0.1:${barePort}`,
        subscribers: fanSubs,
        seconds,
        bare: side === "bare",
      });
      const after = cpuSnapshot({ server: () => [serverPid], clients: () => [clients.proc.pid] });
      runs[side].push(Number(r.delivered) / Number(r.elapsed));
      cost[side].push(((after.server! - before.server!) * 1e6) / (Number(r.delivered) / 1000));
      clientBusy.push((after.clients! - before.clients!) / Number(r.elapsed));
    }
    await clients.ask({ cmd: "close" });
    server.proc.kill();
    bare.proc.kill();
    await server.proc.exited;
    const fanout = {
      subscribers: fanSubs,
      seconds,
      payloadBytes: JSON.stringify(PAYLOAD).length,
      plinth: runs.plinth,
      bare: runs.bare,
      plinthRate: median(runs.plinth),
      bareRate: median(runs.bare),
      cpuPlinth: median(cost.plinth),
      cpuBare: median(cost.bare),
      clientBusy,
    };

    // ---- 3. memory per idle connection
    const sockets = Math.min(QUICK ? 1_000 : 10_000, fdLimit() - 200);
    ctx.progress(`realtime: ${sockets} idle connections`);
    const memPort = await freePort();
    const memServer = child(["server", pg.url, String(memPort)]);
    children.push(memServer);
    await memServer.next();
    const memUrl = `http://127.0.0.1:${memPort}`;
    const clients3 = child(["clients"]);
    children.push(clients3);
    await clients3.next();
    await sleep(1500);
    const rss0 = rssMb(memServer.proc.pid)!;
    const connected = await clients3.ask({ cmd: "idle", url: memUrl, sockets, join: false });
    await sleep(2000);
    const rss1 = rssMb(memServer.proc.pid)!;
    const joined = await clients3.ask({ cmd: "idle", url: memUrl, sockets, join: true });
    await sleep(2000);
    const rss2 = rssMb(memServer.proc.pid)!;
    await clients3.ask({ cmd: "close" });
    const open = Number(connected.open);
    const idle = {
      sockets: open,
      joined: Number(joined.open),
      rss: [rss0, rss1, rss2] as [number, number, number],
      perSocketKb: ((rss1 - rss0) * 1024) / open,
      perJoinedKb: ((rss2 - rss0) * 1024) / open,
      fdLimit: fdLimit(),
    };
    return { latency, fanout, idle };
  } finally {
    for (const c of children) c.proc.kill();
    await Promise.all(children.map((c) => c.proc.exited));
    await sql.end({ timeout: 1 });
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Single-row INSERT transactions at `rate` per second for `seconds`; returns the achieved rate. */
async function writeAtRate(sql: postgres.Sql, rate: number, seconds: number): Promise<number> {
  const tick = 10; // ms
  const perTick = Math.max(1, Math.round((rate * tick) / 1000));
  const start = performance.now();
  let done = 0;
  const inflight = new Set<Promise<unknown>>();
  for (let k = 0; performance.now() - start < seconds * 1000; k++) {
    const due = start + k * tick;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    for (let i = 0; i < perTick; i++) {
      const p = sql`insert into public.bench_changes (v, note) values (${k}, 'benchmark row')`.then(() => {
        done++;
        inflight.delete(p);
      });
      inflight.add(p);
    }
  }
  await Promise.all(inflight);
  return done / ((performance.now() - start) / 1000);
}

function fdLimit(): number {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    return Number(line?.split(/\s+/)[3]) || 1024;
  } catch {
    return 1024;
  }
}
