// The startup benchmark's part of RESULTS.md: runs bench/startup.ts (cold and warm starts of
// dist/plinth, idle memory, binary size) and renders its figures.
import { join } from "node:path";
import { ROOT, fmt } from "./lib.ts";
import { GOALS, goalRow, ms, notRun, table, type BenchContext, type Outcome, type Row } from "./outcome.ts";
import { runStartup, type MemorySample, type StartupResult } from "./startup.ts";

/** Quick mode: one warm start, a shorter idle wait, and never a build (it would take the CPUs for minutes). */
const QUICK = { warmRuns: 1, versionRuns: 2, idleMs: 1_000, build: false };

export async function startupOutcome(ctx: BenchContext): Promise<Outcome> {
  const s = await runStartup(ctx.quick ? QUICK : {}, ctx.progress);
  const info: Row[] = [];
  if (s.version) info.push([`dist/plinth --version (median of ${s.version.runsMs.length})`, ms(s.version.medianMs), "—", "info"]);
  if (s.binary) info.push(["Binary size, dist/plinth", `${fmt(s.binary.sizeBytes / 1024 ** 2)} MiB`, "—", "info"]);
  if (!s.ok) {
    const out = notRun(s.reason, ["coldStartMs", "warmStartMs", "idleRssMb"]);
    return { ...out, summary: [...out.summary, ...info], body: render(s) };
  }
  const idle = [s.cold.memory, s.warm[0]?.memory].filter((m): m is MemorySample => m !== undefined);
  const maxRss = Math.max(...idle.map((m) => m.plinthRssMb));
  const pg = idle[idle.length - 1];
  const summary: Row[] = [
    goalRow("coldStartMs", ms(s.cold.ms), s.cold.ms < GOALS.coldStartMs.limit),
    goalRow("warmStartMs", ms(s.warmMedianMs), s.warmMedianMs < GOALS.warmStartMs.limit, `${GOALS.warmStartMs.what} (median of ${s.warm.length})`),
    goalRow("idleRssMb", `${fmt(maxRss)} MB`, maxRss < GOALS.idleRssMb.limit, `${GOALS.idleRssMb.what}, ${s.options.idleMs / 1000} s after first 200`),
    [
      "Idle RSS of the postgres processes (sum; PSS in brackets)",
      pg ? `${fmt(pg.pgRssMb)} MB (${fmt(pg.pgPssMb)} MB), ${pg.pgProcesses} processes` : "n/a",
      "—",
      "info",
    ],
    [
      "Postgres processes left after SIGTERM",
      s.leftovers.length ? s.leftovers.length + " problem(s)" : "none",
      "none",
      s.leftovers.length === 0 ? "met" : "**not met**",
    ],
    ...info,
  ];
  return {
    ok: true,
    summary,
    body: render(s),
    lines: [
      `cold start ${ms(s.cold.ms)}; warm ${s.warm.map((w) => ms(w.ms)).join(", ")} (median ${ms(s.warmMedianMs)}); idle RSS ${fmt(maxRss)} MB; binary ${fmt(s.binary.sizeBytes / 1024 ** 2)} MiB (${s.binary.buildNote})`,
    ],
    warnings: [...s.leftovers, ...s.warnings],
  };
}

function render(s: StartupResult): string {
  const out: string[] = [];
  out.push("### Start times", "");
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

    out.push("### Idle memory", "");
    out.push(
      `Read from /proc ${s.options.idleMs / 1000} s after the first 200 on /health, with no traffic in between. VmRSS counts every page the process`,
      "has resident, shared ones included; summed over the postgres processes it counts shared buffers once per process, so the",
      "PSS sum (shared pages divided among their sharers, /proc/<pid>/smaps_rollup) is the fairer total for them.",
      "",
      table(
        ["After", "plinth VmRSS", "plinth PSS", "postgres processes", "postgres VmRSS (sum)", "postgres PSS (sum)"],
        (
          [
            ["cold start", s.cold.memory],
            ["warm start 1", s.warm[0]?.memory],
          ] as [string, MemorySample | undefined][]
        )
          .flatMap(([what, mem]) => (mem ? [[what, mem] as const] : []))
          .map(([what, mem]) => [
            what,
            `${fmt(mem.plinthRssMb)} MB`,
            mem.plinthPssMb === null ? "n/a" : `${fmt(mem.plinthPssMb)} MB`,
            String(mem.pgProcesses),
            `${fmt(mem.pgRssMb)} MB`,
            `${fmt(mem.pgPssMb)} MB`,
          ]),
      ),
      "",
    );
  }
  out.push("### Binary size", "");
  const binary = s.binary;
  out.push(
    binary
      ? `dist/plinth: ${binary.sizeBytes.toLocaleString("en-US")} bytes (${fmt(binary.sizeBytes / 1024 ** 2)} MiB), including the PostgreSQL server binaries it embeds.`
      : "Not measured: no binary.",
    "",
  );
  return out.join("\n");
}
