// Auth benchmarks: run by bench/run.ts (`npm run bench -- auth`), or alone (prints, writes nothing):
//   bun bench/auth.ts [--quick]
// 1. argon2id: parameters and the time of one hash / one verify on this machine (median of 15).
// 2. Refresh-token exchanges per second: 16 concurrent clients, each rotating its own session's
//    token in a loop for 5 s against a Plinth server in its own process (goal ≥ 1,000/s).
// 3. GET /auth/v1/user with a valid token: Plinth (gateway + auth service) against a bare
//    Bun.serve + postgres.js handler that verifies the same JWT and runs the same lookup query, both
//    in their own process, loaded by bench/loadgen.ts (32 keep-alive connections, 1 s warm-up, 5 s).
//    Goal: Plinth ≥ 80 % of the bare server's throughput.
// Uses its own embedded PostgreSQL in a temporary directory (removed at the end).
import { verify } from "@node-rs/argon2";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { apiKeys, verifyJwt } from "../src/lib/jwt.ts";
import { ARGON2_PARAMS, hashPassword } from "../src/auth/passwords.ts";
import { USER_COLUMNS, userJson, type UserRow } from "../src/auth/users.ts";
import { configSchema } from "../src/config/schema.ts";
import { startEmbedded } from "../src/db/embedded/supervisor.ts";
import { applySystemMigrations } from "../src/db/migrations/system.ts";
import { silentLogger } from "../src/log.ts";
import { serve } from "../src/server.ts";
import { BUN, fmt, freePort, median, ROOT } from "./lib.ts";
import { GOALS, goalRow, pct, table, type BenchContext, type Outcome } from "./outcome.ts";

const SECRET = "bench-auth-secret-bench-auth-secret-0123456";
const keys = await apiKeys(SECRET);

async function serveMode(kind: string, dbUrl: string, port: number): Promise<void> {
  if (kind === "plinth") {
    const config = configSchema.parse({
      host: "127.0.0.1",
      port,
      db: { url: dbUrl, poolMax: 10 },
      rateLimit: { enabled: false },
      auth: { autoconfirm: true },
      log: { level: "silent" },
    });
    await serve({ config, jwtSecret: SECRET, log: silentLogger, banner: () => {} });
  } else {
    const sql = postgres(dbUrl, { max: 10, onnotice: () => {} });
    const query = `select ${USER_COLUMNS},
       exists(select 1 from auth.sessions s where s.id = $2 and s.user_id = u.id and (s.not_after is null or s.not_after > now())) as session_live
     from auth.users u where u.id = $1`;
    Bun.serve({
      hostname: "127.0.0.1",
      port,
      async fetch(req) {
        const m = /^Bearer (\S+)$/.exec(req.headers.get("authorization") ?? "");
        const v = m ? await verifyJwt(m[1]!, SECRET) : null;
        if (!v?.ok) return new Response("{}", { status: 401 });
        const rows = (await sql.unsafe(query, [v.claims.sub as string, v.claims.session_id as string])) as (UserRow & { session_live: boolean })[];
        if (!rows[0]?.session_live) return new Response("{}", { status: 403 });
        return new Response(JSON.stringify(userJson(rows[0])), { headers: { "content-type": "application/json; charset=utf-8" } });
      },
    });
  }
  process.stdout.write("ready\n");
}

async function startServer(kind: "plinth" | "bare", dbUrl: string) {
  const port = await freePort();
  const proc = Bun.spawn([BUN, join(ROOT, "bench/auth.ts"), "serve", kind, dbUrl, String(port)], { stdout: "pipe", stderr: "inherit" });
  const reader = proc.stdout.getReader();
  const { value } = await reader.read();
  if (!new TextDecoder().decode(value).includes("ready")) throw new Error(`${kind} server did not start`);
  return { url: `http://127.0.0.1:${port}`, stop: () => proc.kill() };
}

interface Load {
  rps: number;
  non200: number;
  p50: number;
  p99: number;
}

async function loadGet(url: string, headers: Record<string, string>, seconds: number): Promise<Load> {
  const opts = { url, connections: 32, seconds, warmupSeconds: 1, headers };
  const proc = Bun.spawn([BUN, join(ROOT, "bench/loadgen.ts"), JSON.stringify(opts)], { stdout: "pipe", stderr: "inherit" });
  const out = await new Response(proc.stdout).text();
  const r = JSON.parse(out.trim().split("\n").pop()!);
  return { rps: r.rps, non200: r.non200, p50: r.latencyMs.p50, p99: r.latencyMs.p99 };
}

async function post(url: string, body: unknown): Promise<any> {
  const res = await fetch(url, { method: "POST", headers: { apikey: keys.anon, "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

interface AuthFigures {
  argon2: { hashMs: number; verifyMs: number; runs: number; phcPrefix: string };
  refresh: { perSecond: number; done: number; failed: number; seconds: number; clients: number };
  user: { plinth: Load; bare: Load; seconds: number };
}

export async function runAuth(ctx: BenchContext): Promise<Outcome> {
  const f = await measure(ctx);
  const share = f.user.plinth.rps / f.user.bare.rps;
  const a = f.argon2;
  return {
    ok: true,
    summary: [
      ["Auth: argon2id hash (verify), median", `${fmt(a.hashMs, 2)} ms (${fmt(a.verifyMs, 2)} ms)`, "report", "info"],
      goalRow(
        "refreshPerSecond",
        `${fmt(f.refresh.perSecond, 0)}/s, ${f.refresh.failed} failures`,
        f.refresh.perSecond >= GOALS.refreshPerSecond.limit && f.refresh.failed === 0,
      ),
      goalRow("authUserShare", `${fmt(f.user.plinth.rps, 0)} vs ${fmt(f.user.bare.rps, 0)} req/s (${pct(share, 1)})`, share >= GOALS.authUserShare.limit),
    ],
    body: render(f),
    lines: [
      `argon2id hash ${fmt(a.hashMs, 2)} ms, verify ${fmt(a.verifyMs, 2)} ms; refresh ${fmt(f.refresh.perSecond, 0)}/s (${f.refresh.failed} failed)`,
      `GET /auth/v1/user: Plinth ${fmt(f.user.plinth.rps, 0)} req/s, bare ${fmt(f.user.bare.rps, 0)} req/s (${pct(share, 1)})`,
    ],
    warnings: [f.user.plinth, f.user.bare].some((l) => l.non200 > 0)
      ? [`GET /auth/v1/user: non-200 responses, Plinth ${f.user.plinth.non200}, bare ${f.user.bare.non200}`]
      : [],
  };
}

function render(f: AuthFigures): string {
  const { plinth: p, bare: b } = f.user;
  return [
    "Conditions: one embedded PostgreSQL in a temporary directory; Plinth (`serve()` with auto-confirm, rate limit off, silent log)",
    "and the bare reference each in their own process; clients on the same machine.",
    `- argon2id with Plinth's parameters (m=${ARGON2_PARAMS.memoryCost} KiB, t=${ARGON2_PARAMS.timeCost}, p=${ARGON2_PARAMS.parallelism}, \`@node-rs/argon2\`, hashes look like \`${f.argon2.phcPrefix}…\`): ${f.argon2.runs} hashes and verifies in this process, medians.`,
    `- Refresh: ${f.refresh.clients} concurrent clients (fetch, in this process), each rotating its own session's refresh token in a loop for ${fmt(f.refresh.seconds, 0)} s.`,
    `- GET /auth/v1/user with a valid access token (and the anon apikey): bench/loadgen.ts, 32 keep-alive connections, 1 s warm-up, ${f.user.seconds} s`,
    "  measured, against Plinth (gateway + auth service) and against a bare `Bun.serve` + postgres.js handler that verifies the same JWT and",
    "  runs the same user-and-live-session query.",
    "",
    table(
      ["Measurement", "Result", "Goal"],
      [
        ["argon2id hash / verify, median", `${fmt(f.argon2.hashMs, 2)} ms / ${fmt(f.argon2.verifyMs, 2)} ms`, "report"],
        [
          `refresh-token exchanges, ${f.refresh.clients} concurrent clients`,
          `${fmt(f.refresh.perSecond, 0)}/s (${f.refresh.done.toLocaleString("en-US")} in ${fmt(f.refresh.seconds, 1)} s), ${f.refresh.failed} failures`,
          GOALS.refreshPerSecond.goal,
        ],
        ["`GET /auth/v1/user`, Plinth", `${fmt(p.rps, 0)} req/s (p50 ${fmt(p.p50, 2)} ms, p99 ${fmt(p.p99, 2)} ms, non-200 ${p.non200})`, ""],
        [
          "`GET /auth/v1/user`, bare Bun.serve + postgres.js",
          `${fmt(b.rps, 0)} req/s (p50 ${fmt(b.p50, 2)} ms, p99 ${fmt(b.p99, 2)} ms, non-200 ${b.non200})`,
          "",
        ],
        ["**Plinth / bare**", `**${pct(p.rps / b.rps, 1)}**`, GOALS.authUserShare.goal],
      ],
    ),
    "",
  ].join("\n");
}

async function measure(ctx: BenchContext): Promise<AuthFigures> {
  const dir = mkdtempSync(join(tmpdir(), "plinth-bench-auth-"));
  const embedded = await startEmbedded({ dataDir: dir });
  const admin = postgres(embedded.url, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe("create database bench_auth");
    const u = new URL(embedded.url);
    u.pathname = "/bench_auth";
    const dbUrl = u.toString();
    const mig = postgres(dbUrl, { max: 1, onnotice: () => {} });
    await applySystemMigrations(mig);
    await mig.end();

    // 1. argon2id
    ctx.progress("auth: argon2id");
    const hashTimes: number[] = [];
    const verifyTimes: number[] = [];
    let phc = "";
    const hashes = ctx.quick ? 3 : 15;
    for (let i = 0; i < hashes; i++) {
      let t = performance.now();
      phc = await hashPassword(`password number ${i}`);
      hashTimes.push(performance.now() - t);
      t = performance.now();
      await verify(phc, `password number ${i}`);
      verifyTimes.push(performance.now() - t);
    }
    const argon2 = { hashMs: median(hashTimes), verifyMs: median(verifyTimes), runs: hashes, phcPrefix: phc.slice(0, 30) };

    // 2. refresh exchanges
    ctx.progress("auth: refresh-token exchanges");
    const plinth = await startServer("plinth", dbUrl);
    try {
      const workers = 16;
      const sessions: { refresh_token: string; access_token: string }[] = [];
      for (let i = 0; i < workers; i++) {
        sessions.push(await post(`${plinth.url}/auth/v1/signup`, { email: `bench${i}@example.com`, password: "bench password 1" }));
      }
      const refreshUrl = `${plinth.url}/auth/v1/token?grant_type=refresh_token`;
      let done = 0;
      let failed = 0;
      const seconds = ctx.quick ? 1 : 5;
      const until = performance.now() + seconds * 1000;
      const started = performance.now();
      await Promise.all(
        sessions.map(async (s) => {
          let token = s.refresh_token;
          while (performance.now() < until) {
            const res = await fetch(refreshUrl, {
              method: "POST",
              headers: { apikey: keys.anon, "content-type": "application/json" },
              body: JSON.stringify({ refresh_token: token }),
            });
            const body = (await res.json()) as { refresh_token?: string };
            if (res.ok && body.refresh_token) {
              token = body.refresh_token;
              done++;
            } else failed++;
          }
        }),
      );
      const elapsed = (performance.now() - started) / 1000;
      const refresh = { perSecond: done / elapsed, done, failed, seconds: elapsed, clients: workers };

      // 3. GET /user
      ctx.progress("auth: GET /auth/v1/user, Plinth then bare");
      const s0 = await post(`${plinth.url}/auth/v1/token?grant_type=password`, { email: "bench0@example.com", password: "bench password 1" });
      const headers = { apikey: keys.anon, authorization: `Bearer ${s0.access_token}` };
      const loadSeconds = ctx.quick ? 1 : 5;
      const p = await loadGet(`${plinth.url}/auth/v1/user`, headers, loadSeconds);
      plinth.stop();
      const bare = await startServer("bare", dbUrl);
      let b: Load;
      try {
        b = await loadGet(`${bare.url}/auth/v1/user`, headers, loadSeconds);
      } finally {
        bare.stop();
      }
      return { argon2, refresh, user: { plinth: p, bare: b, seconds: loadSeconds } };
    } finally {
      plinth.stop();
    }
  } finally {
    await admin.end({ timeout: 1 });
    await embedded.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const [mode, ...rest] = process.argv.slice(2);
  if (mode === "serve") await serveMode(rest[0]!, rest[1]!, Number(rest[2]));
  else {
    const r = await runAuth({ quick: process.argv.includes("--quick"), progress: (s) => process.stderr.write(s + "\n") });
    console.log([...r.lines, ...r.warnings.map((w) => `warning: ${w}`)].join("\n"));
  }
}
