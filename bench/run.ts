// `npm run bench [-- options] [names…]`: runs the benchmarks, prints a summary and rewrites their
// sections of bench/RESULTS.md (bench/results-file.ts keeps the sections of benchmarks not run).
//   npm run bench                                 all of them
//   npm run bench -- rest gateway                 only these; the other sections stay as they were
//   npm run bench -- --compare HEAD~3 rest gateway
//       before/after: a temporary worktree of HEAD~3 and the working tree, measured alternately in
//       the same run; writes the "Before/after" section (default: every benchmark that can compare:
//       gateway, interleaved — REST reads in short rotating rounds with a control arm, bench/ab.ts — and rest)
//   --quick (or BENCH_QUICK=1)   1 s runs, one repetition, smaller sizes: to try the runner, not for figures
//   --out FILE                   write FILE instead of bench/RESULTS.md
// A benchmark whose prerequisite is missing, or that crashes, is reported "not run" with the reason
// and the others still run; it never erases the figures an earlier run wrote for it.
// Settings of the benchmarks themselves (BENCH_LOADGEN, BENCH_PIN, BENCH_REPS, BENCH_NO_BUILD, …): README.md.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ROOT, fmt, machineInfo } from "./lib.ts";
import { GOALS, notRun, table, type BenchContext, type GoalName, type Outcome, type Row } from "./outcome.ts";
import { createRefTree, revision, uncommittedServerFiles, type RefTree } from "./ref-tree.ts";
import { machineLine, readSections, writeResults, type Section } from "./results-file.ts";

interface Benchmark {
  id: string;
  title: string;
  goals: GoalName[];
  /** Loaded on demand: a benchmark whose module fails to load (src/ broken) is "not run", the others run. Absent: only a comparison. */
  run?(ctx: BenchContext): Promise<Outcome>;
  /** Before/after against an older source tree, for the benchmarks that support it. */
  compare?(ctx: BenchContext, refRoot: string, refLabel: string): Promise<Outcome>;
}

const BENCHMARKS: Benchmark[] = [
  {
    id: "gateway",
    title: "Gateway overhead",
    goals: ["gatewayOverheadMs"],
    run: async (ctx) => (await import("./gateway-report.ts")).gatewayOutcome(ctx),
    compare: async (ctx, root, label) => (await import("./gateway-report.ts")).gatewayComparison(ctx, root, label),
  },
  {
    id: "interleaved",
    title: "REST, interleaved with a control arm",
    goals: [],
    compare: async (ctx, root, label) => (await import("./ab.ts")).interleavedComparison(ctx, root, label),
  },
  {
    id: "startup",
    title: "Start times, idle memory and binary size of dist/plinth",
    goals: ["coldStartMs", "warmStartMs", "idleRssMb"],
    run: async (ctx) => (await import("./startup-report.ts")).startupOutcome(ctx),
  },
  { id: "auth", title: "Auth", goals: ["refreshPerSecond", "authUserShare"], run: async (ctx) => (await import("./auth.ts")).runAuth(ctx) },
  {
    id: "lockout",
    title: "Brute-force protection (password sign-in with the lockout on and off)",
    goals: ["signInLockoutShare", "signInProtectedShare"],
    run: async (ctx) => (await import("./lockout.ts")).runLockout(ctx),
  },
  {
    id: "rest",
    title: "REST",
    goals: ["restPkShare", "restInsertShare"],
    run: async (ctx) => (await import("./rest-report.ts")).runRest(ctx),
    compare: async (ctx, root, label) => (await import("./rest-report.ts")).restComparison(ctx, root, label),
  },
  {
    id: "storage",
    title: "Storage",
    goals: ["storageUploadShare", "storageDownloadShare", "storageRssGrowthMb"],
    run: async (ctx) => (await import("./storage.ts")).runStorage(ctx),
  },
  {
    id: "realtime",
    title: "Realtime",
    goals: ["realtimeP99Ms", "realtimeBroadcastShare"],
    run: async (ctx) => (await import("./realtime.ts")).runRealtime(ctx),
  },
  {
    id: "admin",
    title: "Admin sessions",
    goals: ["adminSessionCheckMs"],
    run: async (ctx) => (await import("./admin.ts")).runAdmin(ctx),
  },
  {
    id: "keys",
    title: "Keys",
    goals: ["keysCachedMs"],
    run: async (ctx) => (await import("./keys.ts")).runKeys(ctx),
  },
  {
    id: "image",
    title: "Image transformations",
    goals: [],
    run: async (ctx) => (await import("./image.ts")).runImage(ctx),
  },
  {
    id: "tui",
    title: "The terminal console",
    goals: ["tuiFirstScreenMs", "tuiPageMs"],
    run: async (ctx) => (await import("./tui.ts")).runTui(ctx),
  },
  {
    id: "backup",
    title: "Backup",
    goals: ["backupTarShare"],
    run: async (ctx) => (await import("./backup.ts")).runBackup(ctx),
  },
];
const COMPARE_ID = "compare";

// ---------------------------------------------------------------------------------------------
// Command line

interface Args {
  names: string[];
  quick: boolean;
  out: string;
  compare?: string;
}

function usage(problem: string): never {
  console.error(`${problem}\nusage: npm run bench -- [--quick] [--out FILE] [--compare <git-ref>] [${BENCHMARKS.map((b) => b.id).join("|")} …]`);
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const a: Args = { names: [], quick: process.env.BENCH_QUICK === "1", out: join(ROOT, "bench", "RESULTS.md") };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--quick") a.quick = true;
    else if (arg === "--out" || arg === "--compare") {
      const v = argv[++i];
      if (!v) usage(`${arg} needs a value`);
      if (arg === "--out") a.out = resolve(v);
      else a.compare = v;
    } else if (arg.startsWith("-")) usage(`unknown option ${arg}`);
    else if (!BENCHMARKS.some((b) => b.id === arg)) usage(`unknown benchmark ${arg}`);
    else if (!a.names.includes(arg)) a.names.push(arg);
  }
  const compareOnly = a.names.filter((n) => !BENCHMARKS.find((b) => b.id === n)!.run);
  if (!a.compare && compareOnly.length) usage(`${compareOnly.join(", ")} runs only with --compare <git-ref>`);
  if (a.compare) {
    try {
      revision(a.compare);
    } catch {
      usage(`--compare ${a.compare}: not a commit of this repository`);
    }
    if (a.names.length === 0) a.names = BENCHMARKS.filter((b) => b.compare).map((b) => b.id);
    const cannot = a.names.filter((n) => !BENCHMARKS.find((b) => b.id === n)!.compare);
    if (cannot.length)
      usage(
        `--compare supports ${BENCHMARKS.filter((b) => b.compare)
          .map((b) => b.id)
          .join(" and ")}, not ${cannot.join(", ")}`,
      );
  } else if (a.names.length === 0) a.names = BENCHMARKS.filter((b) => b.run).map((b) => b.id);
  return a;
}

// ---------------------------------------------------------------------------------------------
// Running

const loadavg = () => {
  try {
    return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  } catch {
    return "n/a";
  }
};
const reasonOf = (e: unknown) => (e instanceof Error ? (e.stack ?? e.message) : String(e));

interface Timed {
  outcome: Outcome;
  date: string;
  loadBefore: string;
  loadAfter: string;
  seconds: number;
}

async function timed(what: string, goals: GoalName[], fn: () => Promise<Outcome>): Promise<Timed> {
  const date = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const loadBefore = loadavg();
  const t0 = performance.now();
  let outcome: Outcome;
  try {
    outcome = await fn();
  } catch (e) {
    outcome = notRun(`${what} crashed: ${reasonOf(e)}`, goals);
  }
  return { outcome, date, loadBefore, loadAfter: loadavg(), seconds: (performance.now() - t0) / 1000 };
}

function report(t: Timed): void {
  const o = t.outcome;
  if (!o.ok) console.log(`  not run: ${o.reason}`);
  for (const l of o.lines) console.log(`  ${l}`);
  for (const w of o.warnings) console.log(`  warning: ${w}`);
  console.log(`  (${fmt(t.seconds, 0)} s)`);
}

const args = parseArgs(process.argv.slice(2));
const machine = machineInfo();
const ctx: BenchContext = { quick: args.quick, progress: (s) => process.stderr.write(`  … ${s}\n`) };
const sections = readSections(args.out);
const kept = new Map(sections);
const ran: [string, Timed][] = [];
const t0 = performance.now();

console.log(
  `Plinth benchmarks — ${machine.nproc} CPUs (${machine.cpuModel}), Bun ${machine.bunVersion}, load average ${loadavg()}${args.quick ? ", QUICK MODE" : ""}`,
);
if (Number(loadavg().split(" ")[0]) > machine.nproc * 0.35) {
  console.log(`  note: the machine is not idle (load average ${loadavg()}); the figures will be noisier than usual`);
}

const section = (id: string, title: string, t: Timed): Section => ({
  meta: {
    id,
    title,
    date: t.date,
    quick: args.quick,
    machine: machineLine(machine),
    loadBefore: t.loadBefore,
    loadAfter: t.loadAfter,
    seconds: Math.round(t.seconds),
    summary: t.outcome.summary,
  },
  body: t.outcome.body,
});

if (args.compare) {
  const t = await runComparison(args.compare);
  ran.push([COMPARE_ID, t]);
  if (t.outcome.ok || !sections.has(COMPARE_ID)) sections.set(COMPARE_ID, section(COMPARE_ID, `Before/after: ${args.compare} → working tree`, t));
} else {
  for (const [i, id] of args.names.entries()) {
    const b = BENCHMARKS.find((x) => x.id === id)!;
    console.log(`\n[${i + 1}/${args.names.length}] ${b.title}`);
    const t = await timed(`the ${b.id} benchmark`, b.goals, () => b.run!(ctx));
    report(t);
    ran.push([id, t]);
    // A benchmark that did not run keeps the figures of its last run, if any.
    if (t.outcome.ok || !sections.has(id)) sections.set(id, section(id, b.title, t));
  }
}

async function runComparison(ref: string): Promise<Timed> {
  let tree: RefTree | undefined;
  const cleanup = () => tree?.remove();
  const onSignal = () => {
    cleanup();
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    return await timed("the comparison", [], async () => {
      ctx.progress(`comparison: a worktree of ${ref}`);
      tree = createRefTree(ref);
      const head = revision("HEAD");
      const dirty = uncommittedServerFiles();
      const label = `\`${ref}\``;
      const parts: string[] = [];
      const summary: Row[] = [];
      const lines: string[] = [];
      const warnings: string[] = [];
      for (const [i, id] of args.names.entries()) {
        const b = BENCHMARKS.find((x) => x.id === id)!;
        console.log(`\n[${i + 1}/${args.names.length}] ${b.title}: ${ref} (${tree.commit.slice(0, 10)}) against the working tree`);
        const t = await timed(`the ${id} comparison`, [], () => b.compare!(ctx, tree!.root, label));
        report(t);
        const o = t.outcome;
        parts.push(o.ok ? o.body : `### ${b.title}\n\nNot run: ${o.reason!.split("\n")[0]}\n`);
        summary.push(...(o.ok ? o.summary : [[`Before/after: ${b.title}`, "not run", "—", "not run"] as Row]));
        lines.push(...o.lines);
        warnings.push(...o.warnings);
      }
      const header = [
        `Is the working tree slower than ${label}? The same benchmark scripts (this checkout's) start the servers of both source trees`,
        "alternately within every repetition, so both are measured on the same machine state; ratios > 1 mean faster now.",
        "",
        table(
          ["", "source tree", "commit"],
          [
            ["before", `${label}, a temporary \`git worktree\` (node_modules linked from this checkout)`, `${tree.commit} (${tree.subject})`],
            [
              "after",
              `the working tree${dirty.length ? `, with ${dirty.length} uncommitted change${dirty.length === 1 ? "" : "s"} in src/, migrations/ or package.json` : ", no uncommitted change to the server code"}`,
              `HEAD ${head.commit} (${head.subject})`,
            ],
          ],
        ),
        "",
        `Verdicts: after / before ≥ ${GOALS.notSlower.limit} counts as not slower (the benchmarks' run-to-run noise is a few per cent).`,
        "",
      ];
      return { ok: true, summary, body: [...header, ...parts].join("\n"), lines, warnings };
    });
  } finally {
    cleanup();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

// ---------------------------------------------------------------------------------------------
// Summary and RESULTS.md

const rows = ran.flatMap(([, t]) => t.outcome.summary);
console.log("\nSummary");
const w = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.replace(/\*/g, "").length)));
for (const r of rows) console.log(`  ${r.map((x, c) => (c < 3 ? x.replace(/\*/g, "").padEnd(w[c]!) : x.replace(/\*/g, ""))).join("  ")}`);
for (const [id, t] of ran) {
  if (!t.outcome.ok)
    console.log(`\n  ${id} not run: ${t.outcome.reason!.split("\n")[0]}${kept.has(id) ? ` (RESULTS keeps its run of ${kept.get(id)!.meta.date})` : ""}`);
}

const order: [string, string][] = [...BENCHMARKS.map((b, i): [string, string] => [b.id, `${i + 1}. `]), [COMPARE_ID, ""]];
writeResults(args.out, order, sections, machine);
const rel = args.out.startsWith(ROOT + "/") ? args.out.slice(ROOT.length + 1) : args.out;
const written = ran.filter(([id, t]) => t.outcome.ok || !kept.has(id)).map(([id]) => id);
const unchanged = [...sections.keys()].filter((id) => !written.includes(id));
console.log(
  `\nWrote ${rel}: ${written.join(", ") || "nothing new"}${unchanged.length ? `; kept ${unchanged.join(", ")} from earlier runs` : ""} (${fmt((performance.now() - t0) / 1000, 0)} s in all).`,
);
