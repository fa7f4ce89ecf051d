// Lockout benchmark: run by bench/run.ts (`npm run bench -- lockout`), or alone (prints, writes nothing):
//   bun bench/lockout.ts [--quick]
// Password sign-ins per second (POST /auth/v1/token?grant_type=password, right passwords, known
// devices) against Plinth with brute-force protection on (auth.lockout.enabled, the default) and
// off, each in its own process over one embedded PostgreSQL; runs alternate on, off, on, off and
// the best of each counts (run-to-run noise on a shared machine is larger than the effect).
// Goal: on ≥ 0.9 × off. The per-sign-in cost is one indexed statement (src/auth/lockout.ts).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { apiKeys } from "../src/lib/jwt.ts";
import { configSchema } from "../src/config/schema.ts";
import { startEmbedded } from "../src/db/embedded/supervisor.ts";
import { applySystemMigrations } from "../src/db/migrations/system.ts";
import { silentLogger } from "../src/log.ts";
import { serve } from "../src/server.ts";
import { BUN, fmt, freePort, ROOT } from "./lib.ts";
import { GOALS, goalRow, pct, table, type BenchContext, type Outcome } from "./outcome.ts";

const SECRET = "bench-lockout-secret-bench-lockout-secret-01";
const keys = apiKeys(SECRET);
const PASSWORD = "bench password 1";
const CLIENTS = 8;

async function serveMode(lockout: string, dbUrl: string, port: number): Promise<void> {
  const config = configSchema.parse({
    host: "127.0.0.1",
    port,
    db: { url: dbUrl, poolMax: 10 },
    rateLimit: { enabled: false },
    auth: { autoconfirm: true, lockout: { enabled: lockout === "on" } },
    log: { level: "silent" },
  });
  await serve({ config, jwtSecret: SECRET, log: silentLogger, banner: () => {} });
  process.stdout.write("ready\n");
}

async function startServer(lockout: "on" | "off", dbUrl: string) {
  const port = await freePort();
  const proc = Bun.spawn([BUN, join(ROOT, "bench/lockout.ts"), "serve", lockout, dbUrl, String(port)], { stdout: "pipe", stderr: "inherit" });
  const { value } = await proc.stdout.getReader().read();
  if (!new TextDecoder().decode(value).includes("ready")) throw new Error(`server (lockout ${lockout}) did not start`);
  return { url: `http://127.0.0.1:${port}`, stop: () => proc.kill() };
}

async function signIns(url: string, seconds: number): Promise<{ perSecond: number; failed: number }> {
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
  let done = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, i) => {
      while (performance.now() < until) {
        const res = await fetch(`${url}/auth/v1/token?grant_type=password`, {
          method: "POST",
          headers: { apikey: keys.anon, "content-type": "application/json", "user-agent": `bench/${i}` },
          body: JSON.stringify({ email: `lockout-bench${i}@example.com`, password: PASSWORD }),
        });
        await res.arrayBuffer();
        if (res.ok) done++;
        else failed++;
      }
    }),
  );
  return { perSecond: done / ((performance.now() - started) / 1000), failed };
}

interface Figures {
  on: number[];
  off: number[];
  failed: number;
  seconds: number;
}

async function measure(ctx: BenchContext): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), "plinth-bench-lockout-"));
  const embedded = await startEmbedded({ dataDir: dir });
  const admin = postgres(embedded.url, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe("create database bench_lockout");
    const u = new URL(embedded.url);
    u.pathname = "/bench_lockout";
    const dbUrl = u.toString();
    const mig = postgres(dbUrl, { max: 1, onnotice: () => {} });
    await applySystemMigrations(mig);
    await mig.end();
    const seconds = ctx.quick ? 1 : 5;
    const f: Figures = { on: [], off: [], failed: 0, seconds };
    let first = true;
    for (const mode of ["on", "off", "on", "off"] as const) {
      ctx.progress(`lockout: password sign-ins, lockout ${mode}`);
      const srv = await startServer(mode, dbUrl);
      try {
        if (first) {
          for (let i = 0; i < CLIENTS; i++) {
            const res = await fetch(`${srv.url}/auth/v1/signup`, {
              method: "POST",
              headers: { apikey: keys.anon, "content-type": "application/json" },
              body: JSON.stringify({ email: `lockout-bench${i}@example.com`, password: PASSWORD }),
            });
            if (!res.ok) throw new Error(`signup: ${res.status} ${await res.text()}`);
          }
          first = false;
        }
        // Warm-up (and each client's device becomes known).
        await signIns(srv.url, 0.5);
        const r = await signIns(srv.url, seconds);
        f[mode].push(r.perSecond);
        f.failed += r.failed;
      } finally {
        srv.stop();
      }
    }
    return f;
  } finally {
    await admin.end({ timeout: 1 });
    await embedded.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runLockout(ctx: BenchContext): Promise<Outcome> {
  const f = await measure(ctx);
  const on = Math.max(...f.on);
  const off = Math.max(...f.off);
  const share = on / off;
  return {
    ok: true,
    summary: [goalRow("signInLockoutShare", `${fmt(on, 1)} vs ${fmt(off, 1)}/s (${pct(share, 1)})`, share >= GOALS.signInLockoutShare.limit && f.failed === 0)],
    body: [
      "Conditions: one embedded PostgreSQL in a temporary directory; Plinth (`serve()` with auto-confirm, rate limit off, silent log) in its own",
      `process, restarted for each run with \`auth.lockout.enabled\` on or off; ${CLIENTS} concurrent clients (fetch, in this process), each signing`,
      `its own user in with the right password in a loop (0.5 s warm-up, then ${f.seconds} s); runs alternate on, off, on, off; best run of each.`,
      "Each sign-in is dominated by one argon2id verification; the lockout adds one indexed statement.",
      "",
      table(
        ["Measurement", "Result", "Goal"],
        [
          ["password sign-ins/s, lockout on (runs)", f.on.map((x) => fmt(x, 1)).join(", "), ""],
          ["password sign-ins/s, lockout off (runs)", f.off.map((x) => fmt(x, 1)).join(", "), ""],
          ["failed sign-ins", String(f.failed), "0"],
          ["**on / off (best runs)**", `**${pct(share, 1)}**`, GOALS.signInLockoutShare.goal],
        ],
      ),
      "",
    ].join("\n"),
    lines: [`password sign-ins: lockout on ${fmt(on, 1)}/s, off ${fmt(off, 1)}/s (${pct(share, 1)}), ${f.failed} failed`],
    warnings: f.failed > 0 ? [`${f.failed} sign-ins failed`] : [],
  };
}

if (import.meta.main) {
  const [mode, ...rest] = process.argv.slice(2);
  if (mode === "serve") await serveMode(rest[0]!, rest[1]!, Number(rest[2]));
  else {
    const r = await runLockout({ quick: process.argv.includes("--quick"), progress: (s) => process.stderr.write(`${s}\n`) });
    console.log([...r.lines, ...r.warnings.map((w) => `warning: ${w}`)].join("\n"));
  }
}
