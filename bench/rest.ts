// REST benchmark: Plinth's /rest/v1 against a bare Bun.serve + postgres.js handler running the same
// query, each server in its own process, load from wrk (-c32) or bench/loadgen.ts. Three workloads:
//   pk      GET /rest/v1/items?id=eq.<random 1..10000>    (bare: the same SELECT … json_agg)
//   embed   GET /rest/v1/parents?select=id,children(id)&id=eq.<random 1..100>
//   insert  POST /rest/v1/items_ins {name} (return=minimal)   (wrk only)
// Also checks that embedding 100 parents with their children is one SQL statement. Besides req/s,
// the CPU time the server process and the PostgreSQL processes spent per request (from /proc).
// bench/run.ts runs it (`npm run bench -- rest`) and renders it with bench/rest-report.ts.
// With `refRoot` (the before/after comparison) Plinth from that older source tree joins every
// repetition, on its own database migrated by its own migrations; only bare is kept as a control.
//   bun bench/rest.ts [--quick]             run and print the figures
// Internal modes (the processes it spawns): serve-plinth <dbUrl> <port> [source root] |
//   serve-bare | serve-bare-tx | serve-bare-bun <dbUrl> <port>
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { BUN, ROOT, cpuSeconds, freePort, median, processTree, sleep, waitFor200 } from "./lib.ts";

const SECRET = "bench-secret-bench-secret-bench-secret-0123";
const DATA_DIR = process.env.PLINTH_BENCH_DIR ?? "/tmp/plinth-bench-rest";

if (import.meta.main) {
  const [mode, dbUrl, port, root] = process.argv.slice(2);
  if (mode === "serve-plinth") await servePlinth(dbUrl!, Number(port), root ?? ROOT);
  else if (mode === "serve-bare") await serveBare(dbUrl!, Number(port), false);
  else if (mode === "serve-bare-tx") await serveBare(dbUrl!, Number(port), true);
  else if (mode === "serve-bare-bun") await serveBare(dbUrl!, Number(port), false, true);
}

/** Plinth's server as `plinth serve` assembles it, from the source tree at `root`. */
async function servePlinth(dbUrl: string, port: number, root: string) {
  // Typed as this checkout's modules; an older tree's must have the same shape to be compared.
  const { configSchema } = (await import(join(root, "src/config/schema.ts"))) as typeof import("../src/config/schema.ts");
  const { serve } = (await import(join(root, "src/server.ts"))) as typeof import("../src/server.ts");
  const { createLogger } = (await import(join(root, "src/log.ts"))) as typeof import("../src/log.ts");
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

/** plinth-ref: Plinth from the older source tree of a before/after comparison. */
export type Kind = "plinth" | "plinth-ref" | "bare" | "bare-tx" | "bare-bun";

function startServer(kind: Kind, dbUrl: string, port: number, pin: boolean, refRoot?: string): ChildProcess {
  const args = [join(ROOT, "bench/rest.ts"), kind === "plinth-ref" ? "serve-plinth" : `serve-${kind}`, dbUrl, String(port)];
  if (kind === "plinth-ref") args.push(refRoot!);
  const cmd = pin ? "taskset" : BUN;
  const full = pin ? ["-c", "0", BUN, ...args] : args;
  return spawn(cmd, full, { stdio: ["ignore", "ignore", "inherit"], cwd: ROOT });
}

interface Load {
  rps: number;
  requests: number;
  non2xx: number;
  p50: string;
}

/**
 * `url` may end in `{id:N}`: each request then asks for a random id in 1..N (a different row per
 * request, so no layer can answer from a cache of identical requests).
 */
function wrk(url: string, headers: Record<string, string>, seconds: number, pin: boolean, post?: string): Load {
  const script = join(DATA_DIR, "load.lua");
  const spec = url;
  const random = /\{id:(\d+)\}$/.exec(url);
  if (post) writeFileSync(script, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(post)}\n`);
  else if (random) {
    const path = new URL(url.slice(0, random.index)).pathname + new URL(url.slice(0, random.index)).search;
    writeFileSync(
      script,
      `math.randomseed(42)\nrequest = function()\n  return wrk.format(nil, ${JSON.stringify(path)} .. math.random(1, ${random[1]}))\nend\n`,
    );
    url = url.slice(0, random.index);
  }
  const hdrs = Object.entries(headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]);
  const args = ["-t1", "-c32", `-d${seconds}s`, "--latency", ...hdrs, ...(post || random ? ["-s", script] : []), url];
  const res = spawnSync(pin ? "taskset" : "wrk", pin ? ["-c", "1", "wrk", ...args] : args, { encoding: "utf8" });
  const out = res.stdout;
  if (res.status !== 0) throw new Error(`wrk failed on ${spec} (exit ${res.status}): ${res.stderr.trim()}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const p50 = /^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? "?";
  return { rps, requests, non2xx, p50 };
}

export interface Workload {
  name: string;
  /** Ends in {id:N}: a random id in 1..N per request. */
  path: string;
  post?: string;
}

export const WORKLOADS: Workload[] = [
  { name: "pk read", path: "/rest/v1/items?id=eq.{id:10000}" },
  { name: "embed, random parent + 10 children", path: "/rest/v1/parents?select=id,children(id)&id=eq.{id:100}" },
  { name: "single-row insert", path: "/rest/v1/items_ins", post: JSON.stringify({ name: "x" }) },
];

/** One server's runs of one workload. */
export interface ServerRuns {
  rps: number[];
  /** Server process CPU per request, µs, per run. */
  serverUs: number[];
  /** CPU of all PostgreSQL processes per request, µs, per run. */
  pgUs: number[];
  p50: string;
  non2xx: number;
}

export interface RestFigures {
  pinned: boolean;
  seconds: number;
  reps: number;
  kinds: Kind[];
  workloads: { workload: Workload; runs: Partial<Record<Kind, ServerRuns>> }[];
  embed: { parents: number; statements: string[] };
}

export interface RestOptions {
  quick: boolean;
  progress: (s: string) => void;
  refRoot?: string;
}

/** The figures, or why the benchmark cannot run. */
export async function measureRest(o: RestOptions): Promise<RestFigures | string> {
  const hasWrk = spawnSync("wrk", ["--version"]).error === undefined;
  if (!hasWrk) return "wrk is not installed (the insert workload needs its POST scripts; Debian: apt-get install wrk)";
  const pin = (navigator.hardwareConcurrency ?? 1) >= 2 && spawnSync("taskset", ["-c", "0", "true"]).status === 0;
  mkdirSync(DATA_DIR, { recursive: true });
  const { startEmbedded } = await import("../src/db/embedded/supervisor.ts");
  const { applySystemMigrations } = await import("../src/db/migrations/system.ts");
  const { apiKeys } = await import("../src/lib/jwt.ts");
  const embedded = await startEmbedded({ dataDir: DATA_DIR });
  const admin = postgres(embedded.url, { max: 1, onnotice: () => {} });
  const dbs: postgres.Sql[] = [];
  try {
    const dbUrl = await createFixture(admin, embedded.url, "bench_rest", applySystemMigrations, dbs);
    // The older tree's server applies its own system migrations at start (checksummed): it gets its own database.
    const refDbUrl = o.refRoot ? await createFixture(admin, embedded.url, "bench_rest_ref", await refSystemMigrations(o.refRoot), dbs) : undefined;
    const postmaster = Number(readFileSync(join(DATA_DIR, "pg", "postmaster.pid"), "utf8").split("\n")[0]);
    return await measureServers(o, { pin, dbUrl, refDbUrl, postmaster, anon: (await apiKeys(SECRET)).anon, dbs });
  } finally {
    for (const db of dbs) await db.end({ timeout: 1 });
    await admin.unsafe("drop database if exists bench_rest with (force)");
    await admin.unsafe("drop database if exists bench_rest_ref with (force)");
    await admin.end();
    await embedded.stop();
  }
}

/** A database with the system migrations of one source tree and the benchmark's tables; returns its URL. */
async function createFixture(
  admin: postgres.Sql,
  serverUrl: string,
  name: string,
  migrate: (sql: postgres.Sql) => Promise<unknown>,
  dbs: postgres.Sql[],
): Promise<string> {
  await admin.unsafe(`drop database if exists ${name} with (force)`); // name: one of two constants above
  await admin.unsafe(`create database ${name}`);
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  const db = postgres(u.toString(), { max: 1, onnotice: () => {} });
  dbs.push(db);
  await migrate(db);
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
  return u.toString();
}

async function measureServers(
  o: RestOptions,
  env: { pin: boolean; dbUrl: string; refDbUrl?: string; postmaster: number; anon: string; dbs: postgres.Sql[] },
): Promise<RestFigures> {
  const { pin, dbUrl, refDbUrl, postmaster, anon } = env;
  const headers = { apikey: anon };
  const seconds = o.quick ? 1 : Number(process.env.BENCH_SECONDS ?? 5);
  const reps = o.quick ? 1 : Number(process.env.BENCH_REPS ?? 3);
  // Comparing: the two Plinths and bare as the control; otherwise Plinth and the three references.
  const kinds: Kind[] = o.refRoot ? ["plinth-ref", "plinth", "bare"] : ["plinth", "bare-tx", "bare-bun", "bare"];
  const workloads: RestFigures["workloads"] = [];

  for (const w of WORKLOADS) {
    const runs: Partial<Record<Kind, ServerRuns>> = {};
    for (const k of kinds) runs[k] = { rps: [], serverUs: [], pgUs: [], p50: "?", non2xx: 0 };
    for (let r = 0; r < reps; r++) {
      // Alternate the order so drift in the machine's load does not favour one server.
      for (const kind of r % 2 ? [...kinds].reverse() : kinds) {
        o.progress(`rest: ${w.name}, repetition ${r + 1}/${reps}, ${kind}`);
        const url = kind === "plinth-ref" ? refDbUrl! : dbUrl;
        const db = env.dbs[kind === "plinth-ref" ? 1 : 0]!;
        // Every server starts from the same database state: an empty insert table, nothing dirty to
        // flush (a checkpoint landing in one server's run would otherwise decide the comparison).
        if (w.post) await db.unsafe("truncate items_ins restart identity");
        await db.unsafe("checkpoint");
        const port = await freePort();
        const proc = startServer(kind, url, port, pin, o.refRoot);
        try {
          const base = `http://127.0.0.1:${port}`;
          const ok = await waitFor200(`${base}/rest/v1/items?id=eq.1&apikey=${anon}`, { intervalMs: 50, deadline: performance.now() + 20_000 });
          if (!ok) throw new Error(`the ${kind} server did not start`);
          const h = w.post ? { ...headers, "content-type": "application/json" } : headers;
          wrk(base + w.path, h, 1, pin, w.post); // warm-up
          const pgPids = processTree(postmaster);
          const before = [cpuSeconds([proc.pid!]), cpuSeconds(pgPids)];
          const load = wrk(base + w.path, h, seconds, pin, w.post);
          const after = [cpuSeconds([proc.pid!]), cpuSeconds(pgPids)];
          const s = runs[kind]!;
          s.rps.push(load.rps);
          s.serverUs.push(((after[0]! - before[0]!) * 1e6) / Math.max(1, load.requests));
          s.pgUs.push(((after[1]! - before[1]!) * 1e6) / Math.max(1, load.requests));
          s.p50 = load.p50;
          s.non2xx += load.non2xx;
        } finally {
          proc.kill("SIGTERM");
          await new Promise((res) => proc.once("exit", res));
        }
        await sleep(200);
      }
    }
    workloads.push({ workload: w, runs });
  }

  // One statement for 100 parents with their children.
  const { connect } = await import("../src/db/pool.ts");
  const { createSchemaCache } = await import("../src/schema-cache/live.ts");
  const { planRequest } = await import("../src/rest/plan/plan.ts");
  const { executePlan } = await import("../src/rest/execute.ts");
  const { createLogger } = await import("../src/log.ts");
  o.progress("rest: one statement for 100 parents with their children");
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

  return { pinned: pin, seconds, reps, kinds, workloads, embed: { parents: parents.length, statements } };
}

/** The older tree's system migrations, wherever that tree kept them (src/db/ before issue 12's split). */
async function refSystemMigrations(root: string): Promise<typeof import("../src/db/migrations/system.ts").applySystemMigrations> {
  const { existsSync } = await import("node:fs");
  const path = ["src/db/migrations/system.ts", "src/db/system-migrations.ts"].map((p) => join(root, p)).find((p) => existsSync(p))!;
  return ((await import(path)) as typeof import("../src/db/migrations/system.ts")).applySystemMigrations;
}

// Alone (`bun bench/rest.ts [--quick]`): at the end of the module, so that everything above it (the
// workloads) is initialised before rest-report.ts, which imports this module, runs it.
if (import.meta.main && !process.argv[2]?.startsWith("serve-")) {
  const { runRest } = await import("./rest-report.ts");
  const r = await runRest({ quick: process.argv.includes("--quick"), progress: (s) => process.stderr.write(s + "\n") });
  console.log([r.ok ? "" : `not run: ${r.reason}`, ...r.lines, ...r.warnings.map((w) => `warning: ${w}`)].join("\n").trim());
}
