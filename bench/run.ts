// `npm run bench`: runs every benchmark, prints a summary and rewrites bench/RESULTS.md.
// A benchmark whose prerequisite is missing (the gateway sources, the binary, the embedded
// PostgreSQL) is reported as "not run" with the reason; the others still run.
// Environment: BENCH_LOADGEN=bun|wrk (load generator; default wrk when installed), BENCH_PIN=0 (do
// not pin server and client to separate CPUs), BENCH_REPS=n (gateway repetitions, default 3),
// BENCH_NO_BUILD=1 (never build dist/plinth).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runBreakdown, runGateway, type BreakdownResult, type GatewayResult, type ServerRun } from "./gateway.ts";
import { BODY } from "./gateway-common.ts";
import { ROOT, fmt, machineInfo, type MachineInfo } from "./lib.ts";
import { runStartup, type MemorySample, type StartupResult } from "./startup.ts";

const GOALS = { overheadMs: 0.1, coldMs: 20_000, warmMs: 1_500, idleRssMb: 150 };

const progress = (s: string) => process.stderr.write(`  … ${s}\n`);
const loadavg = () => {
  try {
    return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  } catch {
    return "n/a";
  }
};
const verdict = (ok: boolean) => (ok ? "met" : "**not met**");
const ms = (x: number) => (x >= 1000 ? `${fmt(x / 1000, 2)} s` : `${fmt(x, x < 10 ? 1 : 0)} ms`);

async function guarded<T>(what: string, fn: () => Promise<T>, fail: (reason: string) => T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    return fail(`${what} crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }
}

const t0 = performance.now();
const machine = machineInfo();
const loadBefore = loadavg();
console.log(`Plinth benchmarks — ${machine.nproc} CPUs (${machine.cpuModel}), Bun ${machine.bunVersion}, load average ${loadBefore}`);
if (Number(loadBefore.split(" ")[0]) > machine.nproc * 0.35) {
  console.log(`  note: the machine is not idle (load average ${loadBefore}); the figures will be noisier than usual`);
}

console.log("\n[1/3] start times, memory, binary (dist/plinth)");
const startup = await guarded("the startup benchmark", () => runStartup({}, progress), (reason): StartupResult => ({ ok: false, reason }));
const loadMid = loadavg();
console.log("\n[2/3] gateway overhead (separate server and load generator processes)");
const gateway = await guarded("the gateway benchmark", () => runGateway({}, progress), (reason): GatewayResult => ({ ok: false, reason }));
console.log("\n[3/3] gateway cost breakdown (in-process, for information)");
const breakdown = await guarded("the breakdown", () => runBreakdown(), (reason): BreakdownResult => ({ ok: false, reason }));
const loadAfter = loadavg();
const totalS = (performance.now() - t0) / 1000;

// ---------------------------------------------------------------------------------------------
// Summary rows: [what, measured, goal, verdict]

type Row = [string, string, string, string];
const rows: Row[] = [];
if (gateway.ok) {
  rows.push(
    ["Gateway overhead per request, 1/rps(gateway) − 1/rps(bare)", `${fmt(gateway.overheadMs, 4)} ms`, `< ${GOALS.overheadMs} ms`, verdict(gateway.overheadMs < GOALS.overheadMs)],
    ["Throughput, gateway vs bare Bun.serve (ratio)", `${fmt(gateway.rpsGateway, 0)} vs ${fmt(gateway.rpsBare, 0)} req/s (${fmt(gateway.ratio, 2)})`, "—", "info"],
    ["Server CPU time per request, gateway vs bare", `${fmt(gateway.cpuUsGateway, 1)} vs ${fmt(gateway.cpuUsBare, 1)} µs (+${fmt(gateway.cpuUsGateway - gateway.cpuUsBare, 1)} µs)`, "—", "info"],
  );
} else {
  rows.push(["Gateway overhead per request", "not run", `< ${GOALS.overheadMs} ms`, "not run"]);
}
if (startup.ok) {
  const idle = [startup.cold.memory, startup.warm[0]?.memory].filter((m): m is MemorySample => m !== undefined);
  const maxRss = Math.max(...idle.map((m) => m.plinthRssMb));
  const pg = idle[idle.length - 1];
  rows.push(
    ["Cold start: spawn → first 200 on /health, fresh data dir (initdb)", ms(startup.cold.ms), `< ${GOALS.coldMs / 1000} s`, verdict(startup.cold.ms < GOALS.coldMs)],
    [`Warm start: same data dir, PostgreSQL start included (median of ${startup.warm.length})`, ms(startup.warmMedianMs), `< ${GOALS.warmMs / 1000} s`, verdict(startup.warmMedianMs < GOALS.warmMs)],
    ["Idle RSS of the plinth process (VmRSS, 3 s after first 200)", `${fmt(maxRss)} MB`, `< ${GOALS.idleRssMb} MB`, verdict(maxRss < GOALS.idleRssMb)],
    ["Idle RSS of the postgres processes (sum; PSS in brackets)", pg ? `${fmt(pg.pgRssMb)} MB (${fmt(pg.pgPssMb)} MB), ${pg.pgProcesses} processes` : "n/a", "—", "info"],
    ["Postgres processes left after SIGTERM", startup.leftovers.length ? startup.leftovers.length + " problem(s)" : "none", "none", verdict(startup.leftovers.length === 0)],
    [`dist/plinth --version (median of ${startup.version.runsMs.length})`, ms(startup.version.medianMs), "—", "info"],
    ["Binary size, dist/plinth", `${fmt(startup.binary.sizeBytes / 1024 ** 2)} MiB`, "—", "info"],
  );
} else {
  rows.push(["Cold / warm start, idle RSS", "not run", `< ${GOALS.coldMs / 1000} s / < ${GOALS.warmMs / 1000} s / < ${GOALS.idleRssMb} MB`, "not run"]);
  if (startup.version) rows.push([`dist/plinth --version (median of ${startup.version.runsMs.length})`, ms(startup.version.medianMs), "—", "info"]);
  if (startup.binary) rows.push(["Binary size, dist/plinth", `${fmt(startup.binary.sizeBytes / 1024 ** 2)} MiB`, "—", "info"]);
}

// ---------------------------------------------------------------------------------------------
// Console

console.log("\nSummary");
const w0 = Math.max(...rows.map((r) => r[0].length));
const w1 = Math.max(...rows.map((r) => r[1].length));
const w2 = Math.max(...rows.map((r) => r[2].length));
for (const [a, b, c, d] of rows) console.log(`  ${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c.padEnd(w2)}  ${d.replace(/\*/g, "")}`);
if (!gateway.ok) console.log(`\n  gateway benchmark not run: ${gateway.reason}`);
if (!startup.ok) console.log(`\n  startup benchmark not run: ${startup.reason}`);
if (!breakdown.ok) console.log(`\n  breakdown not run: ${breakdown.reason}`);
for (const w of [...(gateway.ok ? gateway.warnings : []), ...(startup.ok ? [...startup.leftovers, ...startup.warnings] : [])]) console.log(`  warning: ${w}`);

// ---------------------------------------------------------------------------------------------
// RESULTS.md

const md = renderMarkdown(machine, { loadBefore, loadMid, loadAfter, totalS }, rows, gateway, startup, breakdown);
// The service benchmarks (bench/auth.ts, rest.ts, storage.ts, realtime.ts) run on their own and
// record their figures below this marker; a foundation run keeps that part as it is.
const MARKER = "<!-- service benchmarks -->";
const resultsPath = join(ROOT, "bench", "RESULTS.md");
let kept = "";
try {
  const old = readFileSync(resultsPath, "utf8");
  const at = old.indexOf(MARKER);
  if (at >= 0) kept = "\n" + old.slice(at);
} catch {
  // first run: nothing to keep
}
writeFileSync(resultsPath, md.trimEnd() + "\n" + kept);
console.log(`\nWrote bench/RESULTS.md (${fmt(totalS, 0)} s in all).`);

function table(head: string[], body: string[][]): string {
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...body.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

function renderMarkdown(
  m: MachineInfo,
  run: { loadBefore: string; loadMid: string; loadAfter: string; totalS: number },
  summary: Row[],
  g: GatewayResult,
  s: StartupResult,
  b: BreakdownResult,
): string {
  const out: string[] = [];
  out.push(
    "# Plinth benchmark results",
    "",
    `Written by \`npm run bench\` (bench/run.ts) on ${m.date}; running it again rewrites this file. What each`,
    "benchmark does and how to read it: [README.md](README.md). Goals are the issue's; figures are reported as measured.",
    "",
    "## Machine",
    "",
    table(["", ""], [
      ["CPUs (`nproc`)", String(m.nproc)],
      ["CPU model", m.cpuModel],
      ["Memory", `${fmt(m.memoryGb)} GiB`],
      ["Bun", m.bunVersion],
      ["Kernel", m.kernel],
      ["Date (UTC)", m.date],
      ["Load average (1/5/15 min) before · between · after", `${run.loadBefore} · ${run.loadMid} · ${run.loadAfter}`],
      ["Total run time", `${fmt(run.totalS, 0)} s`],
    ]),
    "",
    "## Summary",
    "",
    table(["Benchmark", "Measured", "Goal", "Verdict"], summary),
    "",
  );

  // 1. Gateway
  out.push("## 1. Gateway overhead", "");
  if (!g.ok) {
    out.push(`Not run: ${g.reason}`, "");
  } else {
    const o = g.options;
    out.push(
      "Conditions:",
      `- Two servers, each in its own process started with \`bun bench/gateway-server.ts bare|gateway <port>\`: a bare \`Bun.serve\``,
      `  returning a ${BODY.length}-byte JSON, and Plinth's gateway (\`createGateway\` from src/http/gateway.ts, default config with the rate`,
      "  limiter on and buckets too large to trip, `Metrics`, the JSON logger writing one line per request to stdout redirected to",
      "  a file) in front of a handler returning the same JSON, with src/server.ts's `Bun.serve` options.",
      `- Request: \`GET /rest/v1/bench\` with an \`apikey\` header holding the anon key (HS256 JWT), so every request is key-verified;`,
      "  no `Authorization` header (supabase-js sends both, which costs a second verification), no `Origin`.",
      `- Load: ${g.tool}, ${o.connections} keep-alive connections, ${o.warmupSeconds} s warm-up then ${o.seconds} s measured, one request in flight per connection.`,
      g.pinned
        ? "- CPUs: server pinned to CPU 0 and load generator to CPU 1 (`taskset`); the server's event loop is single-threaded."
        : "- CPUs: not pinned; the single-threaded server and the load generator share the machine's CPUs.",
      `- ${o.reps} repetitions, a fresh server process each time, the order of the two servers alternating; figures are medians.`,
      `  A repetition in which either server got less than 80 % of a CPU (another process took it, or the client was the limit) is`,
      `  discarded and run again, at most ${o.reps} extra attempts in all; ${g.discarded.length ? `${g.discarded.length} attempt(s) were discarded (see the warnings below)` : "none was needed this time"}.`,
      "- Overhead per request = 1/rps(gateway) − 1/rps(bare). It is a throughput difference measured with the client on the same",
      "  machine: read it together with the server CPU time per request (utime+stime of the server process over the measured",
      "  window, divided by the requests answered), which does not depend on whether the client or the server was the bottleneck.",
      "  \"Server busy\" is that CPU time over the window's wall time: well under 100 % means the server waited (client-bound, or",
      "  the CPU was taken by other processes).",
      "",
      table(
        ["Repetition", "bare req/s", "gateway req/s", "ratio", "overhead ms/req", "server busy bare · gateway", "server CPU µs/req bare · gateway", "latency p50 bare · gateway", "gateway log lines"],
        g.reps.map((r, i) => [
          String(i + 1),
          fmt(r.bare.rps, 0),
          fmt(r.gateway.rps, 0),
          fmt(r.gateway.rps / r.bare.rps, 2),
          fmt((1 / r.gateway.rps - 1 / r.bare.rps) * 1000, 4),
          `${pct(r.bare)} · ${pct(r.gateway)}`,
          `${fmt(r.bare.cpuUsPerRequest, 1)} · ${fmt(r.gateway.cpuUsPerRequest, 1)}`,
          `${fmt(r.bare.latencyMs.p50, 2)} · ${fmt(r.gateway.latencyMs.p50, 2)} ms`,
          `${r.logLines.toLocaleString("en-US")} (${fmt(r.logBytes / Math.max(1, r.logLines), 0)} B each)`,
        ]).concat([[
          "**median**",
          `**${fmt(g.rpsBare, 0)}**`,
          `**${fmt(g.rpsGateway, 0)}**`,
          `**${fmt(g.ratio, 2)}**`,
          `**${fmt(g.overheadMs, 4)}**`,
          "",
          `**${fmt(g.cpuUsBare, 1)} · ${fmt(g.cpuUsGateway, 1)}**`,
          "",
          "",
        ]]),
      ),
      "",
      `Median of the per-repetition overheads: ${fmt(g.overheadMsPaired, 4)} ms. Non-200 responses and socket errors: ${g.reps.every((r) => r.bare.non200 + r.bare.errors + r.gateway.non200 + r.gateway.errors === 0) ? "none" : "see warnings"}.`,
      "Log lines include the warm-up and the pre-load checks (a valid key answered 200; a foreign-signed key and a missing key answered 401).",
      "",
    );
    if (g.warnings.length) out.push(...g.warnings.map((w) => `- warning: ${w}`), "");
  }
  out.push("### Where the gateway's time goes (in-process, for information)", "");
  if (!b.ok) {
    out.push(`Not run: ${b.reason}`, "");
  } else {
    out.push(
      `\`bench/gateway-breakdown.ts\` calls \`gateway.fetch(new Request(…))\` directly, without HTTP, ${b.iterations.toLocaleString("en-US")} calls per`,
      `variant and round, ${b.rounds} interleaved rounds, median${b.pinned ? ", pinned to CPU 0" : ""}. Differences between rows are the cost of the part removed.`,
      "",
      table(["Variant", "µs per request"], b.rows.map((r) => [r.variant, fmt(r.usPerRequest, 2)])),
      "",
    );
  }

  // 2–4. Startup, memory, binary
  out.push("## 2. Start times of dist/plinth", "");
  if (!s.ok) {
    out.push(`Not run: ${s.reason.split("\n")[0]}`, "");
    if (s.reason.includes("\n")) out.push("```", s.reason.split("\n").slice(1).join("\n"), "```", "");
  } else {
    out.push(
      "Conditions:",
      `- Binary: ${s.binary.path === join(ROOT, "dist", "plinth") ? "dist/plinth" : s.binary.path}, ${s.binary.buildNote}; file time ${s.binary.builtAt}.`,
      `- Database: ${s.pgLabel}, supervised by Plinth (no PLINTH_DB_URL; no other PLINTH_* variable inherited)${process.getuid?.() === 0 ? "," : "."}`,
      ...(process.getuid?.() === 0 ? ["  running as root, so postgres runs as the unprivileged `plinth` user."] : []),
      "- Each start: `dist/plinth serve` spawned with PLINTH_DATA_DIR, PLINTH_PORT (a free port), PLINTH_HOST=127.0.0.1 and logs to a",
      `  file; a client in the benchmark process polls \`GET /health\` every ${s.options.pollMs} ms (it answers 200 only after the database answered`,
      "  `select 1`); the time is spawn → first 200. Then SIGTERM, wait for exit, and check /proc: none of the postmaster's",
      "  processes may be alive and no process may mention the data dir.",
      "- Cold: a fresh, empty data dir under /tmp: unpacking the embedded PostgreSQL binaries, initdb, PostgreSQL start, system",
      `  migrations. Warm: ${s.warm.length} starts on that same, initialised data dir (PostgreSQL start and the migration check included).`,
      "",
      table(
        ["Start", "spawn → first 200", "SIGTERM → exit", "exit code", "postgres processes"],
        [
          ["cold", ms(s.cold.ms), ms(s.cold.stopMs), String(s.cold.exitCode), String(s.cold.pgPids.length)],
          ...s.warm.map((w, i) => [`warm ${i + 1}`, ms(w.ms), ms(w.stopMs), String(w.exitCode), String(w.pgPids.length)]),
          ["**warm median**", `**${ms(s.warmMedianMs)}**`, "", "", ""],
        ],
      ),
      "",
      `Postgres processes left behind: ${s.leftovers.length ? s.leftovers.map((l) => `\n- ${l}`).join("") : "none (checked after every stop)."}`,
      "",
      `\`dist/plinth --version\`, spawn → exit, ${s.version.runsMs.length} runs: median ${ms(s.version.medianMs)} (min ${ms(Math.min(...s.version.runsMs))}, max ${ms(Math.max(...s.version.runsMs))}).`,
      "",
    );
    if (s.warnings.length) out.push(...s.warnings.map((w) => `- warning: ${w}`), "");

    out.push("## 3. Idle memory", "");
    out.push(
      `Read from /proc ${s.options.idleMs / 1000} s after the first 200 on /health, with no traffic in between. VmRSS counts every page the process`,
      "has resident, shared ones included; summed over the postgres processes it counts shared buffers once per process, so the",
      "PSS sum (shared pages divided among their sharers, /proc/<pid>/smaps_rollup) is the fairer total for them.",
      "",
      table(
        ["After", "plinth VmRSS", "plinth PSS", "postgres processes", "postgres VmRSS (sum)", "postgres PSS (sum)"],
        ([["cold start", s.cold.memory], ["warm start 1", s.warm[0]?.memory]] as [string, MemorySample | undefined][])
          .flatMap(([what, mem]) => (mem ? [[what, mem] as const] : []))
          .map(([what, mem]) => [what, `${fmt(mem.plinthRssMb)} MB`, mem.plinthPssMb === null ? "n/a" : `${fmt(mem.plinthPssMb)} MB`, String(mem.pgProcesses), `${fmt(mem.pgRssMb)} MB`, `${fmt(mem.pgPssMb)} MB`]),
      ),
      "",
    );
  }
  out.push("## 4. Binary size", "");
  const binary = s.ok ? s.binary : s.binary;
  out.push(binary ? `dist/plinth: ${binary.sizeBytes.toLocaleString("en-US")} bytes (${fmt(binary.sizeBytes / 1024 ** 2)} MiB), including the PostgreSQL server binaries it embeds.` : "Not measured: no binary.", "");
  return out.join("\n");
}

function pct(r: ServerRun): string {
  return `${fmt(r.serverBusy * 100, 0)} %`;
}
