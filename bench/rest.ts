// REST benchmark: Plinth's /rest/v1 against a bare Bun.serve + postgres.js handler running the same
// query, each server in its own process, load from wrk (-c32) or bench/loadgen.ts. Three workloads:
//   pk      GET /rest/v1/items?id=eq.<random 1..10000>    (bare: the same SELECT … json_agg)
//   embed   GET /rest/v1/parents?select=id,children(id)&id=eq.<random 1..100>
//   insert  POST /rest/v1/items_ins {name} (return=minimal)   (wrk only)
// Also checks that embedding 100 parents with their children is one SQL statement.
//   bun bench/rest.ts                       run and print the figures
// Internal modes (the processes it spawns): serve-plinth | serve-bare | serve-bare-tx | serve-bare-bun <dbUrl> <port>
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { BUN, ROOT, fmt, freePort, median, sleep, waitFor200 } from "./lib.ts";

const SECRET = "bench-secret-bench-secret-bench-secret-0123";
const DATA_DIR = process.env.PLINTH_BENCH_DIR ?? "/tmp/plinth-bench-rest";
const mode = process.argv[2];

if (mode === "serve-plinth") await servePlinth(process.argv[3]!, Number(process.argv[4]));
else if (mode === "serve-bare") await serveBare(process.argv[3]!, Number(process.argv[4]), false);
else if (mode === "serve-bare-tx") await serveBare(process.argv[3]!, Number(process.argv[4]), true);
else if (mode === "serve-bare-bun") await serveBare(process.argv[3]!, Number(process.argv[4]), false, true);
else await main();

async function servePlinth(dbUrl: string, port: number) {
  const { configSchema } = await import("../src/config/schema.ts");
  const { serve } = await import("../src/server.ts");
  const { createLogger } = await import("../src/log.ts");
  const config = configSchema.parse({ port, db: { url: dbUrl, poolMax: 10 }, rateLimit: { enabled: false } });
  // Request logs go to stdout, which the parent points at /dev/null: their cost is included.
  await serve({ config, jwtSecret: SECRET, log: createLogger("info"), banner: () => {} });
}

/**
 * The bare handler. With `asCaller`, each query runs the way any server that lets RLS decide must
 * run it: in a transaction as the caller's role with the claims set (BEGIN, set_config, query,
 * COMMIT, pipelined on one reserved connection) — the ceiling for Plinth's design.
 */
async function serveBare(dbUrl: string, port: number, asCaller: boolean, bunSql = false) {
  const pool = postgres(dbUrl, { max: 10, onnotice: () => {} });
  // bunSql: the same handler on Bun's native client (what Plinth's data API uses), for reference.
  const sql = bunSql ? (new Bun.SQL({ url: dbUrl, max: 10 }) as unknown as postgres.Sql) : asCaller ? wrapAsCaller(pool) : pool;
  Bun.serve({
    port,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      if (url.pathname === "/rest/v1/items") {
        const id = (url.searchParams.get("id") ?? "eq.0").slice(3);
        const [r] = await sql`select coalesce(json_agg(t), '[]')::text as body from (select id, name, n from items where id = ${id}) t`;
        return new Response(r!.body, { headers: { "content-type": "application/json" } });
      }
      if (url.pathname === "/rest/v1/parents") {
        const id = (url.searchParams.get("id") ?? "eq.0").slice(3);
        const [r] = await sql`select coalesce(json_agg(t), '[]')::text as body from (
          select p.id, coalesce(c.children, '[]') as children from parents p
          left join lateral (select json_agg(x) as children from (select id from children where parent_id = p.id) x) c on true
          where p.id = ${id}) t`;
        return new Response(r!.body, { headers: { "content-type": "application/json" } });
      }
      if (url.pathname === "/rest/v1/items_ins" && req.method === "POST") {
        const body = (await req.json()) as { name: string };
        await sql`insert into items_ins (name) values (${body.name})`;
        return new Response(null, { status: 201 });
      }
      return new Response("not found", { status: 404 });
    },
  });
}

/** A tagged-template `sql` whose every query runs in its own transaction as role anon. */
function wrapAsCaller(pool: postgres.Sql): postgres.Sql {
  const run = async (strings: TemplateStringsArray, ...values: unknown[]) => {
    const c = await pool.reserve();
    try {
      const all = await Promise.all([
        c.unsafe("begin"),
        c`select set_config('role', 'anon', true), set_config('request.jwt.claims', ${'{"role":"anon"}'}, true)`,
        c(strings, ...(values as never[])),
        c.unsafe("commit"),
      ]);
      return all[2];
    } finally {
      c.release();
    }
  };
  return run as unknown as postgres.Sql;
}

type Kind = "plinth" | "bare" | "bare-tx" | "bare-bun";

function startServer(kind: Kind, dbUrl: string, port: number, pin: boolean): ChildProcess {
  const args = [join(ROOT, "bench/rest.ts"), `serve-${kind}`, dbUrl, String(port)];
  const cmd = pin ? "taskset" : BUN;
  const full = pin ? ["-c", "0", BUN, ...args] : args;
  return spawn(cmd, full, { stdio: ["ignore", "ignore", "inherit"], cwd: ROOT });
}

interface Load {
  rps: number;
  non2xx: number;
  p50: string;
}

/**
 * `url` may end in `{id:N}`: each request then asks for a random id in 1..N (a different row per
 * request, so no layer can answer from a cache of identical requests).
 */
function wrk(url: string, headers: Record<string, string>, seconds: number, pin: boolean, post?: string): Load {
  const script = join(DATA_DIR, "load.lua");
  const random = /\{id:(\d+)\}$/.exec(url);
  if (post) writeFileSync(script, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(post)}\n`);
  else if (random) {
    const path = new URL(url.slice(0, random.index)).pathname + new URL(url.slice(0, random.index)).search;
    writeFileSync(script, `math.randomseed(42)\nrequest = function()\n  return wrk.format(nil, ${JSON.stringify(path)} .. math.random(1, ${random[1]}))\nend\n`);
    url = url.slice(0, random.index);
  }
  const hdrs = Object.entries(headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]);
  const args = ["-t1", "-c32", `-d${seconds}s`, "--latency", ...hdrs, ...(post || random ? ["-s", script] : []), url];
  const res = spawnSync(pin ? "taskset" : "wrk", pin ? ["-c", "1", "wrk", ...args] : args, { encoding: "utf8" });
  const out = res.stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const p50 = /^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? "?";
  return { rps, non2xx, p50 };
}

async function main() {
  const hasWrk = spawnSync("wrk", ["--version"]).error === undefined;
  if (!hasWrk) {
    console.log("wrk is not installed; this benchmark needs it (POST workload).");
    process.exit(1);
  }
  const pin = (navigator.hardwareConcurrency ?? 1) >= 2 && spawnSync("taskset", ["-c", "0", "true"]).status === 0;
  mkdirSync(DATA_DIR, { recursive: true });
  const { startEmbedded } = await import("../src/db/embedded.ts");
  const { applySystemMigrations } = await import("../src/db/system-migrations.ts");
  const { apiKeys } = await import("../src/auth/jwt.ts");
  const embedded = await startEmbedded({ dataDir: DATA_DIR });
  const admin = postgres(embedded.url, { max: 1, onnotice: () => {} });
  await admin.unsafe("drop database if exists bench_rest with (force)");
  await admin.unsafe("create database bench_rest");
  const u = new URL(embedded.url);
  u.pathname = "/bench_rest";
  const dbUrl = u.toString();
  const db = postgres(dbUrl, { max: 1, onnotice: () => {} });
  await applySystemMigrations(db);
  await db.unsafe(`
    create table items (id int primary key, name text, n int);
    insert into items select g, 'item ' || g, g % 7 from generate_series(1, 10000) g;
    create table parents (id int primary key);
    create table children (id serial primary key, parent_id int references parents(id));
    create index on children(parent_id);
    insert into parents select g from generate_series(1, 100) g;
    insert into children (parent_id) select g % 100 + 1 from generate_series(1, 1000) g;
    create table items_ins (id serial primary key, name text);
    analyze;`);

  const anon = apiKeys(SECRET).anon;
  const headers = { apikey: anon };
  const seconds = Number(process.env.BENCH_SECONDS ?? 5);
  const reps = Number(process.env.BENCH_REPS ?? 3);
  const workloads = [
    { name: "pk select (random id)", path: "/rest/v1/items?id=eq.{id:10000}", post: undefined as string | undefined },
    { name: "embed (random parent + 10 children)", path: "/rest/v1/parents?select=id,children(id)&id=eq.{id:100}", post: undefined },
    { name: "single-row insert", path: "/rest/v1/items_ins", post: JSON.stringify({ name: "x" }) },
  ];
  const results: Array<{ name: string; plinth: number; bare: number; bareTx: number; bareBun: number; p50: [string, string] }> = [];

  for (const w of workloads) {
    const runs: Record<Kind, number[]> = { plinth: [], bare: [], "bare-tx": [], "bare-bun": [] };
    const p50: Record<Kind, string> = { plinth: "?", bare: "?", "bare-tx": "?", "bare-bun": "?" };
    for (let r = 0; r < reps; r++) {
      for (const kind of r % 2 ? (["bare", "bare-bun", "bare-tx", "plinth"] as const) : (["plinth", "bare-tx", "bare-bun", "bare"] as const)) {
        // Every server starts from the same database state: an empty insert table, nothing dirty to
        // flush (a checkpoint landing in one server's run would otherwise decide the comparison).
        if (w.post) await db.unsafe("truncate items_ins restart identity");
        await db.unsafe("checkpoint");
        const port = await freePort();
        const proc = startServer(kind, dbUrl, port, pin);
        const base = `http://127.0.0.1:${port}`;
        const ok = await waitFor200(`${base}/rest/v1/items?id=eq.1&apikey=${anon}`, { intervalMs: 50, deadline: performance.now() + 20_000 });
        if (!ok) throw new Error(`${kind} server did not start`);
        const h = w.post ? { ...headers, "content-type": "application/json" } : headers;
        wrk(base + w.path, h, 1, pin, w.post); // warm-up
        const load = wrk(base + w.path, h, seconds, pin, w.post);
        if (load.non2xx) console.warn(`  ${kind} ${w.name}: ${load.non2xx} non-2xx responses`);
        runs[kind].push(load.rps);
        p50[kind] = load.p50;
        proc.kill("SIGTERM");
        await new Promise((res) => proc.once("exit", res));
        await sleep(200);
      }
    }
    results.push({ name: w.name, plinth: median(runs.plinth), bare: median(runs.bare), bareTx: median(runs["bare-tx"]), bareBun: median(runs["bare-bun"]), p50: [p50.plinth, p50.bare] });
  }

  // One statement for 100 parents with their children.
  const { connect } = await import("../src/db/pool.ts");
  const { createSchemaCache } = await import("../src/schema-cache/index.ts");
  const { planRequest } = await import("../src/rest/plan/index.ts");
  const { executePlan } = await import("../src/rest/execute.ts");
  const { createLogger } = await import("../src/log.ts");
  const pool = connect(dbUrl, { max: 2 });
  const cache = await createSchemaCache({ sql: pool.sql, schemas: ["public"], log: createLogger("silent") });
  const statements: string[] = [];
  const planned = planRequest(cache.current, {
    method: "GET",
    target: { kind: "table", name: "parents" },
    query: [["select", "id,children(id)"]],
    headers: { accept: null, prefer: [], range: null, acceptProfile: null, contentProfile: null, contentType: null },
    body: null,
  });
  const res = await executePlan(pool, { role: "anon", claims: {} }, {}, planned, { onStatement: (s) => statements.push(s.text) });
  const parents = JSON.parse(res.body ?? "[]") as unknown[];
  await cache.stop();
  await pool.close(1);

  console.log(`\nREST benchmark (${pin ? "server on CPU 0, wrk on CPU 1" : "unpinned"}, wrk -c32, ${seconds}s × ${reps}, medians)\n`);
  console.log("workload                              plinth rps   bare rps   ratio   bare-as-caller rps   ratio   bare on Bun.SQL rps   ratio   p50 plinth / bare");
  for (const r of results) {
    console.log(
      `${r.name.padEnd(38)}${fmt(r.plinth, 0).padStart(10)} ${fmt(r.bare, 0).padStart(10)}   ${fmt(r.plinth / r.bare, 2).padStart(5)}` +
        `   ${fmt(r.bareTx, 0).padStart(18)}   ${fmt(r.plinth / r.bareTx, 2).padStart(5)}` +
        `   ${fmt(r.bareBun, 0).padStart(19)}   ${fmt(r.plinth / r.bareBun, 2).padStart(5)}   ${r.p50[0]} / ${r.p50[1]}`,
    );
  }
  console.log("bare: Bun.serve + postgres.js running the same query (the goal's reference); bare-as-caller: that handler running each query in a");
  console.log("transaction as role anon with claims set; bare on Bun.SQL: the bare handler on Bun's native client, which Plinth's data API uses");
  console.log(`\nembedding ${parents.length} parents with their children: ${statements.length} SQL statement(s)`);
  console.log(statements[0]);

  await db.end();
  await admin.unsafe("drop database if exists bench_rest with (force)");
  await admin.end();
  await embedded.stop();
}
