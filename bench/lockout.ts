// Lockout benchmark: run by bench/run.ts (`npm run bench -- lockout`), or alone (prints, writes nothing):
//   bun bench/lockout.ts [--quick]
// Password sign-ins per second (POST /auth/v1/token?grant_type=password, right passwords, known
// devices) against Plinth with brute-force protection on (auth.lockout.enabled, the default) and
// off, each in its own process over one embedded PostgreSQL; runs alternate (see below) and
// the best of each counts (run-to-run noise on a shared machine is larger than the effect).
// Goal: on ≥ 0.9 × off. The per-sign-in cost is one indexed statement (src/auth/lockout.ts).
// Issue 14's own measure is "lockout and audit on ≥ 0.9 of both off": the audit record of a
// sign-in cannot be switched off (on purpose), so "both off" is the server as it was before issue 14
// (BEFORE_REF, a temporary git worktree, its own database migrated by itself), in the same
// alternation: on, off, before, on, off, before.
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
import { writeFileSync } from "node:fs";
import { BUN, fmt, freePort, ROOT } from "./lib.ts";
import { createRefTree, type RefTree } from "./ref-tree.ts";
import { GOALS, goalRow, pct, table, type BenchContext, type Outcome } from "./outcome.ts";

const SECRET = "bench-lockout-secret-bench-lockout-secret-01";
const keys = await apiKeys(SECRET);
const PASSWORD = "bench password 1";
const CLIENTS = 8;
/** The last commit before issue 14 (no lockout, no audit of end users' sign-ins). */
export const BEFORE_REF = "302f735";

/** `plinth serve` of the tree before issue 14, from source, with the same settings. */
async function startBefore(tree: RefTree, dbUrl: string, dir: string) {
  const port = await freePort();
  const configFile = join(dir, "before.yaml");
  writeFileSync(configFile, "rateLimit:\n  enabled: false\nlog:\n  level: silent\nauth:\n  autoconfirm: true\n");
  const proc = Bun.spawn([BUN, join(tree.root, "src/main.ts"), "serve", "--config", configFile], {
    cwd: dir,
    env: {
      ...process.env,
      PLINTH_DB_URL: dbUrl,
      PLINTH_PORT: String(port),
      PLINTH_HOST: "127.0.0.1",
      PLINTH_JWT_SECRET: SECRET,
      PLINTH_DATA_DIR: join(dir, "before-data"),
    },
    stdout: "ignore",
    stderr: "pipe",
  });
  const stderr = new Response(proc.stderr).text();
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    if (proc.exitCode !== null) throw new Error(`server before issue 14 exited (${proc.exitCode}): ${await stderr}`);
    if (
      (await fetch(`${url}/health`).then(
        (r) => r.status,
        () => 0,
      )) === 200
    )
      return { url, stop: () => proc.kill() };
    await Bun.sleep(50);
  }
  proc.kill();
  throw new Error("server before issue 14 did not start");
}

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
  before: number[];
  beforeCommit: string;
  failed: number;
  seconds: number;
}

async function measure(ctx: BenchContext): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), "plinth-bench-lockout-"));
  const embedded = await startEmbedded({ dataDir: dir });
  const admin = postgres(embedded.url, { max: 1, onnotice: () => {} });
  let tree: RefTree | null = null;
  try {
    await admin.unsafe("create database bench_lockout");
    await admin.unsafe("create database bench_before");
    const dbUrlOf = (name: string) => {
      const u = new URL(embedded.url);
      u.pathname = `/${name}`;
      return u.toString();
    };
    const dbUrl = dbUrlOf("bench_lockout");
    const mig = postgres(dbUrl, { max: 1, onnotice: () => {} });
    await applySystemMigrations(mig);
    await mig.end();
    tree = createRefTree(BEFORE_REF);
    const seconds = ctx.quick ? 1 : 5;
    const f: Figures = { on: [], off: [], before: [], beforeCommit: tree.commit.slice(0, 7), failed: 0, seconds };
    const signedUp = new Set<string>();
    for (const mode of ["on", "off", "before", "on", "off", "before"] as const) {
      ctx.progress(`lockout: password sign-ins, ${mode === "before" ? `before issue 14 (${BEFORE_REF})` : `lockout ${mode}`}`);
      const srv = mode === "before" ? await startBefore(tree, dbUrlOf("bench_before"), dir) : await startServer(mode, dbUrl);
      try {
        const db = mode === "before" ? "before" : "now";
        if (!signedUp.has(db)) {
          for (let i = 0; i < CLIENTS; i++) {
            const res = await fetch(`${srv.url}/auth/v1/signup`, {
              method: "POST",
              headers: { apikey: keys.anon, "content-type": "application/json" },
              body: JSON.stringify({ email: `lockout-bench${i}@example.com`, password: PASSWORD }),
            });
            if (!res.ok) throw new Error(`signup: ${res.status} ${await res.text()}`);
          }
          signedUp.add(db);
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
    tree?.remove();
    await admin.end({ timeout: 1 });
    await embedded.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runLockout(ctx: BenchContext): Promise<Outcome> {
  const f = await measure(ctx);
  const on = Math.max(...f.on);
  const off = Math.max(...f.off);
  const before = Math.max(...f.before);
  const share = on / off;
  const both = on / before;
  return {
    ok: true,
    summary: [
      goalRow("signInLockoutShare", `${fmt(on, 1)} vs ${fmt(off, 1)}/s (${pct(share, 1)})`, share >= GOALS.signInLockoutShare.limit && f.failed === 0),
      goalRow("signInProtectedShare", `${fmt(on, 1)} vs ${fmt(before, 1)}/s (${pct(both, 1)})`, both >= GOALS.signInProtectedShare.limit && f.failed === 0),
    ],
    body: [
      "Conditions: one embedded PostgreSQL in a temporary directory; Plinth (`serve()` with auto-confirm, rate limit off, silent log) in its own",
      `process, restarted for each run with \`auth.lockout.enabled\` on or off, or the server before issue 14 (\`${f.beforeCommit}\`, from a git worktree, on its own database); ${CLIENTS} concurrent clients (fetch, in this process), each signing`,
      `its own user in with the right password in a loop (0.5 s warm-up, then ${f.seconds} s); runs alternate on, off, before, on, off, before; best run of each.`,
      "Each sign-in is dominated by one argon2id verification; the lockout adds one indexed statement.",
      "",
      table(
        ["Measurement", "Result", "Goal"],
        [
          ["password sign-ins/s, lockout on (runs)", f.on.map((x) => fmt(x, 1)).join(", "), ""],
          ["password sign-ins/s, lockout off (runs)", f.off.map((x) => fmt(x, 1)).join(", "), ""],
          [`password sign-ins/s, before issue 14 (${f.beforeCommit}: no lockout, no sign-in audit) (runs)`, f.before.map((x) => fmt(x, 1)).join(", "), ""],
          ["failed sign-ins", String(f.failed), "0"],
          ["**on / off (best runs)**", `**${pct(share, 1)}**`, GOALS.signInLockoutShare.goal],
          ["**lockout and audit on / before issue 14 (best runs)**", `**${pct(both, 1)}**`, GOALS.signInProtectedShare.goal],
        ],
      ),
      "",
    ].join("\n"),
    lines: [
      `password sign-ins: lockout on ${fmt(on, 1)}/s, off ${fmt(off, 1)}/s (${pct(share, 1)}), before issue 14 ${fmt(before, 1)}/s (${pct(both, 1)}), ${f.failed} failed`,
    ],
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
