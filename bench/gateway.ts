// Benchmark 1 — gateway overhead. Throughput of Plinth's gateway (bench/gateway-server.ts gateway)
// against a bare Bun.serve answering the same JSON (… bare), each server in its own process, load
// from a third process (wrk when installed, else bench/loadgen.ts). Median of `reps` repetitions.
// With `refRoot` (the before/after comparison) a third server joins every repetition: the gateway
// from an older source tree, so both gateways are measured minutes apart on the same machine state.
//   bun bench/gateway.ts            run it alone and print the figures
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BENCH_PATH, BENCH_SECRET, BODY } from "./gateway-common.ts";
import { BUN, ROOT, cpuSeconds, fmt, freePort, median, sleep, tail } from "./lib.ts";
import type { LoadOptions, LoadResult } from "./loadgen.ts";

export interface GatewayOptions {
  connections: number;
  seconds: number;
  warmupSeconds: number;
  reps: number;
  /** "wrk" | "bun"; default: wrk when on PATH. */
  tool?: "wrk" | "bun";
  /** Pin the server to CPU 0 and the load generator to CPU 1 (needs taskset and 2+ CPUs). */
  pin?: boolean;
  /** A source tree whose gateway is measured next to this checkout's ("gateway-ref"). */
  refRoot?: string;
}

/** A load result plus what the server process spent on it. */
export interface ServerRun extends LoadResult {
  /** CPU seconds (user + system, all threads) the server used during the measured window. */
  serverCpuSeconds: number;
  /** serverCpuSeconds / seconds: near 1.0 means the single-threaded server was the bottleneck. */
  serverBusy: number;
  /** Server CPU time per measured request, in microseconds. */
  cpuUsPerRequest: number;
}

export interface GatewayRep {
  bare: ServerRun;
  gateway: ServerRun;
  /** The older tree's gateway, when comparing. */
  "gateway-ref"?: ServerRun;
  /** Lines the gateway logged during this repetition (one per request, warm-up included). */
  logLines: number;
  logBytes: number;
}

export type GatewayResult =
  | { ok: false; reason: string }
  | {
      ok: true;
      options: Required<GatewayOptions>;
      tool: string;
      pinned: boolean;
      reps: GatewayRep[];
      /** Repetitions run again because a server did not get a full CPU. */
      discarded: GatewayRep[];
      rpsBare: number;
      rpsGateway: number;
      ratio: number;
      /** 1/rps_gateway − 1/rps_bare, in ms, from the medians. */
      overheadMs: number;
      /** Median over repetitions of the per-repetition overhead. */
      overheadMsPaired: number;
      /** Median server CPU time per request, microseconds. */
      cpuUsBare: number;
      cpuUsGateway: number;
      /** Medians of the older tree's gateway, when comparing. */
      ref?: { rps: number; overheadMs: number; cpuUs: number };
      warnings: string[];
    };

export const DEFAULT_GATEWAY_OPTIONS: GatewayOptions = {
  connections: 32,
  seconds: 5,
  warmupSeconds: 1,
  reps: Number(process.env.BENCH_REPS) > 0 ? Number(process.env.BENCH_REPS) : 3,
};
export const QUICK_GATEWAY_OPTIONS: Partial<GatewayOptions> = { seconds: 1, warmupSeconds: 1, reps: 1 };

type Mode = "bare" | "gateway" | "gateway-ref";

/** A server that got less than this share of a CPU during a measurement was disturbed. */
const BUSY_MIN = 0.8;

interface RunningServer {
  proc: Bun.Subprocess;
  port: number;
  url: string;
  logFile: string;
  errFile: string;
}

async function startServer(mode: Mode, dir: string, pin: boolean, headers: Record<string, string>, refRoot?: string): Promise<RunningServer> {
  const port = await freePort();
  const logFile = join(dir, `${mode}-${port}.log`);
  const errFile = join(dir, `${mode}-${port}.err`);
  const out = openSync(logFile, "w");
  const err = openSync(errFile, "w");
  const argv = [BUN, join(ROOT, "bench", "gateway-server.ts"), mode === "bare" ? "bare" : "gateway", String(port)];
  if (mode === "gateway-ref") argv.push(refRoot!);
  let proc: Bun.Subprocess;
  try {
    proc = Bun.spawn(pin ? ["taskset", "-c", "0", ...argv] : argv, { cwd: ROOT, stdin: "ignore", stdout: out, stderr: err });
  } finally {
    closeSync(out);
    closeSync(err);
  }
  const url = `http://127.0.0.1:${port}${BENCH_PATH}`;
  let exited = false;
  void proc.exited.then(() => (exited = true));
  const deadline = performance.now() + 15_000;
  while (performance.now() < deadline && !exited) {
    try {
      const res = await fetch(url, { headers });
      const text = await res.text();
      if (res.status === 200 && text === BODY) return { proc, port, url, logFile, errFile };
      throw new Error(`${mode} server answered ${res.status} ${text.slice(0, 200)} instead of 200 with the benchmark JSON`);
    } catch (e) {
      if (e instanceof Error && e.message.includes("instead of 200")) {
        proc.kill("SIGKILL");
        throw e;
      }
    }
    await sleep(20);
  }
  proc.kill("SIGKILL");
  await proc.exited;
  throw new Error(`${mode} server did not come up${exited ? ` (exit ${proc.exitCode})` : ""}:\n${tail(errFile)}`);
}

async function stopServer(s: RunningServer): Promise<void> {
  s.proc.kill("SIGTERM");
  const t = setTimeout(() => s.proc.kill("SIGKILL"), 5_000);
  await s.proc.exited;
  clearTimeout(t);
}

/** The gateway must verify keys for real: a foreign-signed key and a missing key are refused. */
async function checkGatewayRefuses(url: string, foreignKey: string): Promise<string | null> {
  const bad = await fetch(url, { headers: { apikey: foreignKey } });
  await bad.arrayBuffer();
  if (bad.status !== 401) return `a key signed with another secret got ${bad.status}, not 401`;
  const none = await fetch(url);
  await none.arrayBuffer();
  if (none.status !== 401) return `a request without a key got ${none.status}, not 401`;
  return null;
}

function parseWrk(out: string, seconds: number): LoadResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const total = Number(/(\d+) requests in/.exec(out)?.[1]);
  const non200 = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  const toMs = (v: string | undefined, unit: string | undefined) => (v === undefined ? NaN : Number(v) * (unit === "us" ? 0.001 : unit === "s" ? 1000 : 1));
  const p50 = /\s50%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(out);
  if (!Number.isFinite(rps)) throw new Error(`could not read wrk's output:\n${out}`);
  return {
    tool: wrkVersion(),
    requests: total,
    seconds,
    rps,
    non200,
    errors,
    latencyMs: { p50: toMs(p50?.[1], p50?.[2]), p99: toMs(p99?.[1], p99?.[2]) },
  };
}

/** Warm-up run (not counted), then the measured run with the server's CPU time around it. */
async function measure(tool: "wrk" | "bun", pin: boolean, serverPid: number, o: LoadOptions): Promise<ServerRun> {
  if (o.warmupSeconds > 0) await load(tool, pin, { ...o, seconds: o.warmupSeconds, warmupSeconds: 0 });
  const cpu0 = cpuSeconds([serverPid]);
  const r = await load(tool, pin, { ...o, warmupSeconds: 0 });
  const serverCpuSeconds = cpuSeconds([serverPid]) - cpu0;
  return { ...r, serverCpuSeconds, serverBusy: serverCpuSeconds / r.seconds, cpuUsPerRequest: (serverCpuSeconds / r.requests) * 1e6 };
}

let wrkVersionCache: string | undefined;
/** e.g. "wrk 4.1.0 -t1" ("wrk --version" prints "wrk debian/4.1.0-3+b2 [epoll] …" and exits 1). */
function wrkVersion(): string {
  if (wrkVersionCache === undefined) {
    const v = /(\d+\.\d+\.\d+)/.exec(Bun.spawnSync(["wrk", "--version"], { stdout: "pipe", stderr: "pipe" }).stdout.toString())?.[1];
    wrkVersionCache = `wrk${v ? ` ${v}` : ""} (1 thread)`;
  }
  return wrkVersionCache;
}

async function load(tool: "wrk" | "bun", pin: boolean, o: LoadOptions): Promise<LoadResult> {
  const prefix = pin ? ["taskset", "-c", "1"] : [];
  if (tool === "wrk") {
    const base = ["wrk", "-t1", `-c${o.connections}`, "--timeout", "5s"];
    for (const [k, v] of Object.entries(o.headers)) base.push("-H", `${k}: ${v}`);
    const p = Bun.spawn([...prefix, ...base, `-d${o.seconds}s`, "--latency", o.url], { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    if (code !== 0) throw new Error(`wrk failed (exit ${code}): ${err}`);
    return parseWrk(out, o.seconds);
  }
  const p = Bun.spawn([...prefix, BUN, join(ROOT, "bench", "loadgen.ts"), JSON.stringify(o)], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`load generator failed (exit ${code}): ${err}`);
  return JSON.parse(out.trim().split("\n").pop()!) as LoadResult;
}

function countLines(file: string): number {
  const r = Bun.spawnSync(["wc", "-l", file], { stdout: "pipe" });
  return Number(r.stdout.toString().trim().split(/\s+/)[0]);
}

export async function runGateway(partial: Partial<GatewayOptions> = {}, progress: (s: string) => void = () => {}): Promise<GatewayResult> {
  let jwt: typeof import("../src/lib/jwt.ts");
  try {
    jwt = await import("../src/lib/jwt.ts");
    await import("../src/http/gateway.ts");
    await import("../src/config/schema.ts");
  } catch (e) {
    return { ok: false, reason: `cannot load the gateway from src/ (${(e as Error).message})` };
  }
  const hasWrk = Bun.which("wrk") !== null;
  const env = process.env.BENCH_LOADGEN;
  const tool: "wrk" | "bun" = partial.tool ?? (env === "bun" || env === "wrk" ? env : hasWrk ? "wrk" : "bun");
  if (tool === "wrk" && !hasWrk) return { ok: false, reason: "BENCH_LOADGEN=wrk but wrk is not installed" };
  const cpus = Number(Bun.spawnSync(["nproc"]).stdout.toString().trim()) || 1;
  const canPin = Bun.which("taskset") !== null && cpus >= 2;
  const pin = (partial.pin ?? process.env.BENCH_PIN !== "0") && canPin;
  const options = { ...DEFAULT_GATEWAY_OPTIONS, ...partial, tool, pin } as Required<GatewayOptions>;
  const modes: Mode[] = options.refRoot ? ["bare", "gateway-ref", "gateway"] : ["bare", "gateway"];

  // `await` works whether the tree's apiKeys is synchronous (older trees in --compare) or async (jose).
  const headers = { apikey: (await jwt.apiKeys(BENCH_SECRET)).anon };
  const foreignKey = (await jwt.apiKeys("some-other-secret-some-other-secret-0123")).anon;
  const dir = mkdtempSync(join(tmpdir(), "plinth-bench-gw-"));
  const reps: GatewayRep[] = [];
  const discarded: GatewayRep[] = [];
  const warnings: string[] = [];
  try {
    // A repetition in which a server got less than BUSY_MIN of a CPU was disturbed (another process
    // took the CPU, or the client was the limit): it is run again, at most `reps` extra attempts in all.
    for (let attempt = 0; reps.length < options.reps; attempt++) {
      const i = reps.length;
      // Alternate the order so drift in the machine's load does not favour one server.
      const order: Mode[] = attempt % 2 === 0 ? modes : [...modes].reverse();
      const got: Partial<Record<Mode, ServerRun>> = {};
      let logLines = 0;
      let logBytes = 0;
      for (const mode of order) {
        progress(`gateway: repetition ${i + 1}/${options.reps}${attempt > i ? ` (attempt ${attempt + 1})` : ""}, ${mode} server`);
        const server = await startServer(mode, dir, pin, headers, options.refRoot);
        try {
          if (mode !== "bare") {
            const problem = await checkGatewayRefuses(server.url, foreignKey);
            if (problem) throw new Error(`the gateway does not verify keys: ${problem}`);
          }
          const r = await measure(tool, pin, server.proc.pid, {
            url: server.url,
            connections: options.connections,
            seconds: options.seconds,
            warmupSeconds: options.warmupSeconds,
            headers,
          });
          if (r.non200 > 0 || r.errors > 0) warnings.push(`${mode}, repetition ${i + 1}: ${r.non200} non-200 responses, ${r.errors} errors`);
          got[mode] = r;
        } finally {
          await stopServer(server);
        }
        if (mode === "gateway") {
          logLines = countLines(server.logFile);
          logBytes = statSync(server.logFile).size;
        }
        rmSync(server.logFile, { force: true });
      }
      const rep: GatewayRep = { bare: got.bare!, gateway: got.gateway!, "gateway-ref": got["gateway-ref"], logLines, logBytes };
      const starved = modes.filter((m) => rep[m]!.serverBusy < BUSY_MIN);
      if (starved.length && discarded.length < options.reps) {
        discarded.push(rep);
        warnings.push(
          `an attempt at repetition ${i + 1} was discarded and run again: ${starved.map((m) => `the ${m} server used only ${Math.round(rep[m]!.serverBusy * 100)} % of a CPU`).join(", ")} (${starved.map((m) => `${fmt(rep[m]!.rps, 0)} req/s`).join(", ")})`,
        );
        continue;
      }
      reps.push(rep);
    }
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rpsBare = median(reps.map((r) => r.bare.rps));
  const rpsGateway = median(reps.map((r) => r.gateway.rps));
  for (const [i, r] of reps.entries()) {
    for (const mode of modes) {
      if (r[mode]!.serverBusy < BUSY_MIN) {
        warnings.push(
          `repetition ${i + 1} (kept: no attempts left): the ${mode} server used only ${Math.round(r[mode]!.serverBusy * 100)} % of a CPU (taken by other processes, or the load generator was the limit); its req/s is understated`,
        );
      }
    }
    if (r.logLines < r.gateway.requests)
      warnings.push(`repetition ${i + 1}: the gateway logged ${r.logLines} lines for ${r.gateway.requests} measured requests`);
  }
  return {
    ok: true,
    options,
    tool: reps[0]!.bare.tool,
    pinned: pin,
    reps,
    discarded,
    rpsBare,
    rpsGateway,
    ratio: rpsGateway / rpsBare,
    overheadMs: (1 / rpsGateway - 1 / rpsBare) * 1000,
    overheadMsPaired: median(reps.map((r) => (1 / r.gateway.rps - 1 / r.bare.rps) * 1000)),
    cpuUsBare: median(reps.map((r) => r.bare.cpuUsPerRequest)),
    cpuUsGateway: median(reps.map((r) => r.gateway.cpuUsPerRequest)),
    ref: options.refRoot
      ? {
          rps: median(reps.map((r) => r["gateway-ref"]!.rps)),
          overheadMs: (1 / median(reps.map((r) => r["gateway-ref"]!.rps)) - 1 / rpsBare) * 1000,
          cpuUs: median(reps.map((r) => r["gateway-ref"]!.cpuUsPerRequest)),
        }
      : undefined,
    warnings,
  };
}

export type BreakdownResult =
  | { ok: false; reason: string }
  | { ok: true; iterations: number; rounds: number; pinned: boolean; rows: { variant: string; usPerRequest: number }[] };

/** In-process cost of the gateway's parts (bench/gateway-breakdown.ts), for information. */
export async function runBreakdown(quick = false, pin = process.env.BENCH_PIN !== "0"): Promise<BreakdownResult> {
  const dir = mkdtempSync(join(tmpdir(), "plinth-bench-bd-"));
  const pinned = pin && Bun.which("taskset") !== null && (Number(Bun.spawnSync(["nproc"]).stdout.toString().trim()) || 1) >= 2;
  try {
    const logFd = openSync(join(dir, "gateway.log"), "w");
    const outFile = join(dir, "result.json");
    const argv = [BUN, join(ROOT, "bench", "gateway-breakdown.ts"), ...(quick ? ["2000", "2000"] : [])];
    let p: Bun.Subprocess<"ignore", number, "pipe">;
    try {
      p = Bun.spawn(pinned ? ["taskset", "-c", "0", ...argv] : argv, {
        cwd: ROOT,
        env: { ...process.env, BENCH_BREAKDOWN_OUT: outFile },
        stdin: "ignore",
        stdout: logFd,
        stderr: "pipe",
      });
    } finally {
      closeSync(logFd);
    }
    const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
    if (code !== 0) return { ok: false, reason: `gateway-breakdown.ts failed (exit ${code}): ${err.trim().split("\n").slice(-5).join(" / ")}` };
    const r = JSON.parse(readFileSync(outFile, "utf8")) as { iterations: number; rounds: number; rows: { variant: string; usPerRequest: number }[] };
    return { ok: true, pinned, ...r };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const r = await runGateway({}, (s) => process.stderr.write(s + "\n"));
  if (!r.ok) {
    console.log(`gateway benchmark not run: ${r.reason}`);
    process.exit(1);
  }
  for (const [i, rep] of r.reps.entries()) {
    const one = (r: ServerRun) =>
      `${fmt(r.rps, 0)} req/s (server busy ${fmt(r.serverBusy * 100, 0)}%, ${fmt(r.cpuUsPerRequest, 1)} µs CPU/req, p50 ${fmt(r.latencyMs.p50, 2)} ms)`;
    console.log(`rep ${i + 1}: bare ${one(rep.bare)}; gateway ${one(rep.gateway)}; ${rep.logLines} log lines`);
  }
  console.log(
    `median: bare ${fmt(r.rpsBare, 0)} req/s, gateway ${fmt(r.rpsGateway, 0)} req/s, ratio ${fmt(r.ratio, 3)}, overhead ${fmt(r.overheadMs, 4)} ms/request (${r.tool}${r.pinned ? ", pinned" : ""})`,
  );
  console.log(
    `server CPU per request: bare ${fmt(r.cpuUsBare, 1)} µs, gateway ${fmt(r.cpuUsGateway, 1)} µs, difference ${fmt(r.cpuUsGateway - r.cpuUsBare, 1)} µs`,
  );
  for (const w of r.warnings) console.log(`warning: ${w}`);
  const b = await runBreakdown();
  if (!b.ok) console.log(`breakdown not run: ${b.reason}`);
  else for (const row of b.rows) console.log(`in-process: ${row.variant}: ${fmt(row.usPerRequest, 2)} µs`);
}
