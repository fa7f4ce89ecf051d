// The REST benchmark's part of RESULTS.md and of the before/after comparison: runs bench/rest.ts
// and renders its figures.
import { fmt, median } from "./lib.ts";
import { GOALS, goalRow, notRun, table, type BenchContext, type Outcome, type Row } from "./outcome.ts";
import { measureRest, type Kind, type RestFigures, type ServerRuns } from "./rest.ts";

const med = (r: ServerRuns | undefined, k: "rps" | "serverUs" | "pgUs") => (r ? median(r[k]) : NaN);
const nonOk = (f: RestFigures) =>
  f.workloads.flatMap(({ workload, runs }) =>
    Object.entries(runs).flatMap(([kind, r]) => (r!.non2xx ? [`${kind}, ${workload.name}: ${r!.non2xx} non-2xx responses`] : [])),
  );

function conditions(f: RestFigures): string[] {
  return [
    `- Load: wrk -t1 -c32, 1 s warm-up, then ${f.seconds} s measured; ${f.reps} repetition${f.reps === 1 ? "" : "s"} per server, a fresh server process each time, the order`,
    `  of the servers reversed every repetition; medians. ${f.pinned ? "Server on CPU 0, wrk on CPU 1, PostgreSQL unpinned." : "Not pinned."}`,
    "- Each request asks for a random row (`id=eq.<1..10000>`, parents `1..100`), so no layer can answer from a cache of identical",
    "  requests; before each run the insert table is truncated and a checkpoint taken, so every server starts from the same state.",
    "- CPU per request: utime + stime of the server process, and of all PostgreSQL processes, over the measured window, divided by",
    "  the requests answered (from /proc).",
  ];
}

export async function runRest(ctx: BenchContext): Promise<Outcome> {
  const f = await measureRest(ctx);
  if (typeof f === "string") return notRun(f, ["restPkShare", "restInsertShare"]);
  const [pk, embed, insert] = f.workloads.map((w) => med(w.runs.plinth, "rps") / med(w.runs.bare, "rps")) as [number, number, number];
  const figures = (i: number) => `${fmt(med(f.workloads[i]!.runs.plinth, "rps"), 0)} vs ${fmt(med(f.workloads[i]!.runs.bare, "rps"), 0)} req/s`;
  const summary: Row[] = [
    goalRow("restPkShare", `**${fmt(pk, 2)}** (${figures(0)})`, pk >= GOALS.restPkShare.limit),
    goalRow("restInsertShare", `**${fmt(insert, 2)}** (${figures(2)})`, insert >= GOALS.restInsertShare.limit),
    ["REST: embed (random parent + 10 children), Plinth / bare", `${fmt(embed, 2)} (${figures(1)})`, "—", "info"],
    [
      `REST: SQL statements to embed ${f.embed.parents} parents with their children`,
      String(f.embed.statements.length),
      "1",
      f.embed.statements.length === 1 ? "met" : "**not met**",
    ],
  ];
  return {
    ok: true,
    summary,
    body: render(f),
    lines: f.workloads.map(
      ({ workload, runs }) =>
        `${workload.name}: Plinth ${fmt(med(runs.plinth, "rps"), 0)} req/s, bare ${fmt(med(runs.bare, "rps"), 0)} (${fmt(med(runs.plinth, "rps") / med(runs.bare, "rps"), 2)})`,
    ),
    warnings: nonOk(f),
  };
}

function render(f: RestFigures): string {
  const rps = (runs: Partial<Record<Kind, ServerRuns>>, k: Kind) => med(runs[k], "rps");
  return [
    "Conditions:",
    "- Four servers, each in its own process, on one database of the embedded PostgreSQL: Plinth (`serve()`, rate limit off, request",
    "  log on, to /dev/null); **bare**, a `Bun.serve` + postgres.js handler running the same SELECT (the goal's reference); that handler",
    "  **as caller**, each query in a transaction as role anon with the claims set (BEGIN, set_config, query, COMMIT pipelined), i.e.",
    "  PostgREST's way and the ceiling for a server that lets RLS decide; and the bare handler on **Bun.SQL**, Bun's native client,",
    "  which Plinth's data API uses.",
    ...conditions(f),
    "",
    table(
      ["workload", "Plinth req/s", "bare req/s", "**Plinth / bare**", "bare as caller req/s", "Plinth / as caller", "bare on Bun.SQL req/s", "Plinth / that"],
      f.workloads.map(({ workload, runs }) => {
        const p = rps(runs, "plinth");
        return [
          `\`${workload.post ? "POST " : "GET "}${workload.path.replace(/\{id:\d+\}$/, "<random>")}\` (${workload.name})`,
          fmt(p, 0),
          fmt(rps(runs, "bare"), 0),
          `**${fmt(p / rps(runs, "bare"), 2)}**`,
          fmt(rps(runs, "bare-tx"), 0),
          fmt(p / rps(runs, "bare-tx"), 2),
          fmt(rps(runs, "bare-bun"), 0),
          fmt(p / rps(runs, "bare-bun"), 2),
        ];
      }),
    ),
    "",
    `Goal: Plinth ≥ 0.8 of bare for the pk read and the single-row insert. Plinth / bare per repetition (run-to-run noise on a`,
    "shared 2-core machine is several per cent):",
    "",
    table(
      ["workload", ...Array.from({ length: f.reps }, (_, i) => `repetition ${i + 1}`)],
      f.workloads.map(({ workload, runs }) => [workload.name, ...runs.plinth!.rps.map((p, i) => fmt(p / runs.bare!.rps[i]!, 2))]),
    ),
    "",
    "CPU time per request, µs, server process · PostgreSQL processes (medians), and latency p50:",
    "",
    table(
      ["workload", "Plinth", "bare", "bare as caller", "bare on Bun.SQL", "p50 Plinth · bare"],
      f.workloads.map(({ workload, runs }) => [
        workload.name,
        ...(["plinth", "bare", "bare-tx", "bare-bun"] as const).map((k) => `${fmt(med(runs[k], "serverUs"), 1)} · ${fmt(med(runs[k], "pgUs"), 1)}`),
        `${runs.plinth!.p50} · ${runs.bare!.p50}`,
      ]),
    ),
    "",
    `Embedding ${f.embed.parents} parents with their children (\`GET /rest/v1/parents?select=id,children(id)\`) is ${f.embed.statements.length} SQL statement${f.embed.statements.length === 1 ? "" : "s"}:`,
    "",
    "```sql",
    ...f.embed.statements,
    "```",
    "",
  ].join("\n");
}

/** Before/after: Plinth from `refRoot` and from this checkout in every repetition, bare as the control. */
export async function restComparison(ctx: BenchContext, refRoot: string, refLabel: string): Promise<Outcome> {
  const f = await measureRest({ ...ctx, refRoot });
  if (typeof f === "string") return notRun(f, []);
  const speed = (runs: Partial<Record<Kind, ServerRuns>>) => med(runs.plinth, "rps") / med(runs["plinth-ref"], "rps");
  const body = [
    "### REST",
    "",
    "Conditions as in the REST section, with three servers in every repetition: Plinth from " + refLabel + " (on its own database,",
    "migrated by its own system migrations, same tables and rows), Plinth from the working tree, and bare as the control for the",
    "machine's drift.",
    ...conditions(f),
    "",
    table(
      [
        "workload",
        "before req/s",
        "after req/s",
        "**after / before**",
        "before / bare",
        "after / bare",
        "server CPU µs/req before · after",
        "PostgreSQL CPU µs/req before · after",
      ],
      f.workloads.map(({ workload, runs }) => [
        workload.name,
        fmt(med(runs["plinth-ref"], "rps"), 0),
        fmt(med(runs.plinth, "rps"), 0),
        `**${fmt(speed(runs), 3)}**`,
        fmt(med(runs["plinth-ref"], "rps") / med(runs.bare, "rps"), 2),
        fmt(med(runs.plinth, "rps") / med(runs.bare, "rps"), 2),
        `${fmt(med(runs["plinth-ref"], "serverUs"), 1)} · ${fmt(med(runs.plinth, "serverUs"), 1)}`,
        `${fmt(med(runs["plinth-ref"], "pgUs"), 1)} · ${fmt(med(runs.plinth, "pgUs"), 1)}`,
      ]),
    ),
    "",
    "after / before per repetition:",
    "",
    table(
      ["workload", ...Array.from({ length: f.reps }, (_, i) => `repetition ${i + 1}`)],
      f.workloads.map(({ workload, runs }) => [workload.name, ...runs.plinth!.rps.map((p, i) => fmt(p / runs["plinth-ref"]!.rps[i]!, 3))]),
    ),
    "",
  ].join("\n");
  return {
    ok: true,
    summary: f.workloads.map(({ workload, runs }) =>
      goalRow(
        "notSlower",
        `${fmt(med(runs.plinth, "rps"), 0)} vs ${fmt(med(runs["plinth-ref"], "rps"), 0)} req/s (${fmt(speed(runs), 3)})`,
        speed(runs) >= GOALS.notSlower.limit,
        `Before/after: REST ${workload.name} req/s, working tree / ${refLabel}`,
      ),
    ),
    body,
    lines: f.workloads.map(
      ({ workload, runs }) =>
        `rest ${workload.name}: before ${fmt(med(runs["plinth-ref"], "rps"), 0)}, after ${fmt(med(runs.plinth, "rps"), 0)} req/s (${fmt(speed(runs), 3)})`,
    ),
    warnings: nonOk(f),
  };
}
