// Benchmarks 2–4 — the compiled binary dist/plinth: cold start (fresh data dir, initdb included),
// warm start (same data dir, PostgreSQL start included), `--version`, idle RSS, binary size.
//   bun bench/startup.ts            run it alone and print the figures
// Each start: spawn `dist/plinth serve`, poll GET /health every 5 ms until the first 200, then
// SIGTERM, wait for the exit and check that no postgres process of that data dir is left.
import { chmodSync, closeSync, lstatSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { BUN, ROOT, alive, exists, fmt, freePort, median, pidsMentioning, processTree, pssMb, rssMb, sleep, tail, waitFor200 } from "./lib.ts";

/** dist/plinth, or another build named by BENCH_BINARY (never built by the benchmark). */
export const BINARY = process.env.BENCH_BINARY ? resolve(process.env.BENCH_BINARY) : join(ROOT, "dist", "plinth");
const SHOWN = process.env.BENCH_BINARY ? BINARY : "dist/plinth";

export interface StartupOptions {
  warmRuns: number;
  versionRuns: number;
  /** How long the server idles after its first 200 before its memory is read. */
  idleMs: number;
  pollMs: number;
  /** Build dist/plinth when it is missing or older than the sources (default true). */
  build: boolean;
}

export const DEFAULT_STARTUP_OPTIONS: StartupOptions = { warmRuns: 5, versionRuns: 10, idleMs: 3_000, pollMs: 5, build: true };

export interface MemorySample {
  /** VmRSS of the plinth process. */
  plinthRssMb: number;
  plinthPssMb: number | null;
  /** Postmaster and its children. */
  pgProcesses: number;
  pgRssMb: number;
  pgPssMb: number;
}

export interface StartRun {
  /** Spawn to first 200 on /health. */
  ms: number;
  /** SIGTERM to process exit. */
  stopMs: number;
  exitCode: number | null;
  pgPids: number[];
  memory?: MemorySample;
}

export interface BinaryInfo {
  path: string;
  sizeBytes: number;
  /** What happened about building it, e.g. "built (was missing) in 12.3 s". */
  buildNote: string;
  builtAt: string;
}

export type StartupResult =
  | { ok: false; reason: string; binary?: BinaryInfo; version?: { runsMs: number[]; medianMs: number } }
  | {
      ok: true;
      options: StartupOptions;
      binary: BinaryInfo;
      version: { runsMs: number[]; medianMs: number };
      cold: StartRun;
      warm: StartRun[];
      warmMedianMs: number;
      /** Problems found after stopping (postgres processes left behind …); empty when clean. */
      leftovers: string[];
      warnings: string[];
      pgLabel: string;
    };

// ---------------------------------------------------------------------------------------------
// The binary

function newestSource(): number {
  let newest = 0;
  const walk = (dir: string) => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of ["src", "migrations", "tui", "scripts"]) walk(join(ROOT, d));
  for (const f of ["package.json", "bun.lock", "package-lock.json"]) {
    try {
      newest = Math.max(newest, statSync(join(ROOT, f)).mtimeMs);
    } catch {
      /* absent */
    }
  }
  return newest;
}

async function build(): Promise<{ ok: boolean; ms: number; output: string }> {
  const t0 = performance.now();
  const p = Bun.spawn([BUN, "run", "build"], { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: process.env });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { ok: code === 0, ms: performance.now() - t0, output: `${out}\n${err}`.trim() };
}

export async function ensureBinary(opts: StartupOptions, progress: (s: string) => void): Promise<BinaryInfo | string> {
  let note = "present";
  const isThere = exists(BINARY);
  const stale = isThere && statSync(BINARY).mtimeMs < newestSource();
  if (!isThere || stale) {
    if (!opts.build) {
      if (!isThere) return `${BINARY} is missing (build it with \`npm run build\`)`;
      if (BINARY === join(ROOT, "dist", "plinth")) note = "present, older than the sources (not rebuilt: BENCH_NO_BUILD)";
    } else {
      progress(`startup: building dist/plinth (${isThere ? "older than the sources" : "missing"})`);
      const b = await build();
      if (b.ok && exists(BINARY)) note = `built by the benchmark (${isThere ? "was older than the sources" : "was missing"}) in ${fmt(b.ms / 1000)} s`;
      else if (isThere) note = `present but older than the sources; rebuilding failed: ${b.output.split("\n").slice(-3).join(" / ")}`;
      else return `dist/plinth is missing and \`npm run build\` failed:\n${b.output.split("\n").slice(-15).join("\n")}`;
    }
  }
  const st = statSync(BINARY);
  return { path: BINARY, sizeBytes: st.size, buildNote: note, builtAt: new Date(st.mtimeMs).toISOString().replace(/\.\d+Z$/, "Z") };
}

async function timeVersion(runs: number): Promise<number[] | string> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const p = Bun.spawn([BINARY, "--version"], { stdout: "pipe", stderr: "pipe" });
    const [text, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    const ms = performance.now() - t0;
    if (code !== 0 || !text.startsWith("plinth")) return `${SHOWN} --version failed (exit ${code}): ${text.trim()}`;
    out.push(ms);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// One start

/** Postmaster pid of the data dir's cluster (postmaster.pid, else the lock file). */
function postmasterPid(dataDir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dataDir, "pg", "postmaster.pid"), "utf8").split("\n")[0]);
    if (pid > 0) return pid;
  } catch {
    /* not there */
  }
  try {
    const pid = Number((JSON.parse(readFileSync(join(dataDir, "embedded.lock.json"), "utf8")) as { postmasterPid?: number }).postmasterPid);
    if (pid > 0) return pid;
  } catch {
    /* not there */
  }
  return null;
}

function childEnv(dataDir: string, port: number): Record<string, string> {
  const env: Record<string, string> = {};
  // Nothing from the caller's Plinth settings (a PLINTH_DB_URL would skip the embedded server).
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("PLINTH_")) env[k] = v;
  env.PLINTH_DATA_DIR = dataDir;
  env.PLINTH_PORT = String(port);
  env.PLINTH_HOST = "127.0.0.1";
  return env;
}

class StartFailure extends Error {}

async function startOnce(
  dir: string,
  dataDir: string,
  label: string,
  opts: StartupOptions,
  timeoutMs: number,
  sampleMemory: boolean,
): Promise<{ run: StartRun; leftovers: string[] }> {
  const port = await freePort();
  const logFile = join(dir, `${label}.log`);
  const fd = openSync(logFile, "w");
  const t0 = performance.now();
  let proc: Bun.Subprocess;
  try {
    proc = Bun.spawn([BINARY, "serve"], { cwd: dir, env: childEnv(dataDir, port), stdin: "ignore", stdout: fd, stderr: fd });
  } finally {
    closeSync(fd);
  }
  let exited = false;
  void proc.exited.then(() => (exited = true));
  const at = await waitFor200(`http://127.0.0.1:${port}/health`, { intervalMs: opts.pollMs, deadline: t0 + timeoutMs, gaveUp: () => exited });
  if (at === null) {
    const why = exited ? `exited with code ${proc.exitCode}` : `no 200 on /health within ${timeoutMs / 1000} s`;
    if (!exited) await stop(proc);
    const leftovers = await reap(dataDir, []);
    throw new StartFailure(
      `${label} start failed: ${SHOWN} serve ${why}. Its output:\n${tail(logFile, 20)}${leftovers.length ? `\n${leftovers.join("\n")}` : ""}`,
    );
  }
  const ms = at - t0;
  const pm = postmasterPid(dataDir);
  let pgPids = pm ? processTree(pm) : [];
  let memory: MemorySample | undefined;
  if (sampleMemory) {
    await sleep(opts.idleMs);
    pgPids = pm ? processTree(pm) : [];
    const sum = (xs: (number | null)[]) => xs.reduce<number>((a, b) => a + (b ?? 0), 0);
    memory = {
      plinthRssMb: rssMb(proc.pid) ?? NaN,
      plinthPssMb: pssMb(proc.pid),
      pgProcesses: pgPids.length,
      pgRssMb: sum(pgPids.map(rssMb)),
      pgPssMb: sum(pgPids.map(pssMb)),
    };
  }
  // Backends and walsenders may have been forked since: take the whole tree again right before stopping.
  if (pm) pgPids = [...new Set([...pgPids, ...processTree(pm)])];
  const s0 = performance.now();
  const exitCode = await stop(proc);
  const stopMs = performance.now() - s0;
  const leftovers = await reap(dataDir, pgPids);
  if (exitCode !== 0) leftovers.push(`${label}: ${SHOWN} serve exited with code ${exitCode} after SIGTERM:\n${tail(logFile, 8)}`);
  return { run: { ms, stopMs, exitCode, pgPids, memory }, leftovers };
}

/** SIGTERM, wait up to 30 s, then SIGKILL. Returns the exit code (null when killed by a signal). */
async function stop(proc: Bun.Subprocess): Promise<number | null> {
  proc.kill("SIGTERM");
  const killer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  await proc.exited;
  clearTimeout(killer);
  return proc.exitCode;
}

/**
 * After plinth exited: none of the postgres processes it ran may be alive, and no process may
 * mention the data dir. Stragglers are reported, then stopped (SIGINT = fast shutdown, SIGKILL).
 */
async function reap(dataDir: string, pgPids: number[]): Promise<string[]> {
  const problems: string[] = [];
  const left = () => [...new Set([...pgPids.filter(alive), ...pidsMentioning(dataDir)])];
  let pids = left();
  if (pids.length === 0) return problems;
  for (let i = 0; i < 100 && pids.length; i++) {
    await sleep(10);
    pids = left();
  }
  if (pids.length === 0) {
    problems.push(`postgres processes outlived plinth by up to 1 s (gone by themselves)`);
    return problems;
  }
  problems.push(`postgres processes left running after plinth exited: ${pids.join(", ")} — stopping them`);
  const pm = postmasterPid(dataDir);
  for (const pid of pm && pids.includes(pm) ? [pm] : pids) {
    try {
      process.kill(pid, "SIGINT");
    } catch {
      /* gone */
    }
  }
  for (let i = 0; i < 100 && left().length; i++) await sleep(50);
  for (const pid of left()) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  return problems;
}

function removeDataDir(dir: string, dataDir: string): void {
  // A relocated cluster (see src/db/embedded/supervisor.ts) lives outside the data dir, behind a symlink.
  try {
    const link = join(dataDir, "pg");
    if (lstatSync(link).isSymbolicLink()) rmSync(resolve(dataDir, readlinkSync(link)), { recursive: true, force: true });
  } catch {
    /* no cluster */
  }
  rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------

export async function runStartup(partial: Partial<StartupOptions> = {}, progress: (s: string) => void = () => {}): Promise<StartupResult> {
  const opts: StartupOptions = { ...DEFAULT_STARTUP_OPTIONS, ...partial };
  if (process.env.BENCH_NO_BUILD === "1" || process.env.BENCH_BINARY) opts.build = false;
  if (process.platform !== "linux") return { ok: false, reason: "the startup benchmark reads /proc and runs the embedded PostgreSQL: Linux only" };
  const binary = await ensureBinary(opts, progress);
  if (typeof binary === "string") return { ok: false, reason: binary };

  progress(`startup: dist/plinth --version × ${opts.versionRuns}`);
  const v = await timeVersion(opts.versionRuns);
  if (typeof v === "string") return { ok: false, reason: v, binary };
  const version = { runsMs: v, medianMs: median(v) };

  // A fresh data dir in a directory the unprivileged postgres user can traverse (0711), so the
  // cluster stays inside it rather than being relocated.
  const dir = mkdtempSync(join(tmpdir(), "plinth-bench-start-"));
  chmodSync(dir, 0o711);
  const dataDir = join(dir, "data");
  const leftovers: string[] = [];
  const warnings: string[] = [];
  try {
    progress("startup: cold start (fresh data dir, initdb)");
    const cold = await startOnce(dir, dataDir, "cold", opts, 120_000, true);
    leftovers.push(...cold.leftovers.map((l) => `cold: ${l}`));
    const warm: StartRun[] = [];
    for (let i = 0; i < opts.warmRuns; i++) {
      progress(`startup: warm start ${i + 1}/${opts.warmRuns}`);
      const w = await startOnce(dir, dataDir, `warm-${i + 1}`, opts, 60_000, i === 0);
      leftovers.push(...w.leftovers.map((l) => `warm ${i + 1}: ${l}`));
      warm.push(w.run);
    }
    let pgLabel = "embedded PostgreSQL";
    try {
      const ver = readFileSync(join(dataDir, "pg", "PG_VERSION"), "utf8").trim();
      pgLabel = `embedded PostgreSQL ${ver}`;
    } catch {
      /* keep the generic label */
    }
    if (cold.run.pgPids.length === 0) warnings.push("could not find the postmaster (no postmaster.pid): the postgres process checks were incomplete");
    return { ok: true, options: opts, binary, version, cold: cold.run, warm, warmMedianMs: median(warm.map((w) => w.ms)), leftovers, warnings, pgLabel };
  } catch (e) {
    if (e instanceof StartFailure) return { ok: false, reason: e.message, binary, version };
    throw e;
  } finally {
    removeDataDir(dir, dataDir);
  }
}

if (import.meta.main) {
  const r = await runStartup({}, (s) => process.stderr.write(s + "\n"));
  if (!r.ok) {
    console.log(`startup benchmark not run: ${r.reason}`);
    process.exit(1);
  }
  console.log(`binary: ${fmt(r.binary.sizeBytes / 1024 ** 2)} MiB (${r.binary.buildNote})`);
  console.log(`--version: median ${fmt(r.version.medianMs, 1)} ms`);
  console.log(`cold start: ${fmt(r.cold.ms, 0)} ms; warm: ${r.warm.map((w) => fmt(w.ms, 0)).join(", ")} ms, median ${fmt(r.warmMedianMs, 0)} ms`);
  for (const [what, m] of [
    ["after cold start", r.cold.memory],
    ["after warm start", r.warm[0]?.memory],
  ] as const) {
    if (m)
      console.log(
        `idle ${what}: plinth RSS ${fmt(m.plinthRssMb)} MB; postgres ${m.pgProcesses} processes, RSS ${fmt(m.pgRssMb)} MB (PSS ${fmt(m.pgPssMb)} MB)`,
      );
  }
  console.log(r.leftovers.length ? r.leftovers.join("\n") : "no postgres process left behind");
  for (const w of r.warnings) console.log(`warning: ${w}`);
}
