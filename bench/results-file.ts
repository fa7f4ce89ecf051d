// bench/RESULTS.md as a set of sections, one per benchmark (and one for the last before/after
// comparison), each between `<!-- bench:section {meta} -->` and `<!-- bench:end id -->`. A run
// replaces the sections of the benchmarks it ran and keeps the others as they were, with their own
// dates; the machine table and the summary are rebuilt from every section's metadata, so a partial
// run never loses the rest of the file. Everything outside the markers is regenerated.
import { readFileSync, writeFileSync } from "node:fs";
import { fmt, type MachineInfo } from "./lib.ts";
import { QUICK_NOTE, table, type Row } from "./outcome.ts";

export interface SectionMeta {
  id: string;
  title: string;
  /** UTC, when the benchmark started. */
  date: string;
  quick: boolean;
  /** One line describing the machine, to notice sections measured elsewhere. */
  machine: string;
  loadBefore: string;
  loadAfter: string;
  seconds: number;
  summary: Row[];
  /**
   * Set on sections carried over from the hand-written RESULTS.md (before the runner wrote every
   * section): says how they were run, in place of the run line. The next run of that benchmark drops it.
   */
  origin?: string;
}

export interface Section {
  meta: SectionMeta;
  /** Markdown under the heading. */
  body: string;
}

export const machineLine = (m: MachineInfo): string => `${m.nproc} × ${m.cpuModel}, ${fmt(m.memoryGb)} GiB, Bun ${m.bunVersion}, Linux ${m.kernel}`;

const OPEN = /^<!-- bench:section (\{.*\}) -->$/;

/** The sections of an existing RESULTS.md (none when it is missing or has no markers). */
export function readSections(path: string): Map<string, Section> {
  const out = new Map<string, Section>();
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return out;
  }
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = OPEN.exec(lines[i]!);
    if (!open) continue;
    let meta: SectionMeta;
    try {
      meta = JSON.parse(open[1]!) as SectionMeta;
    } catch {
      continue; // a damaged marker: the section is dropped, the next run writes it again
    }
    const end = lines.indexOf(`<!-- bench:end ${meta.id} -->`, i + 1);
    if (end < 0) continue;
    // Drop the heading and run line that renderSection puts before the body.
    const inner = lines.slice(i + 1, end);
    const bodyAt = inner.findIndex((l) => l.startsWith("<!-- bench:body -->"));
    out.set(meta.id, {
      meta,
      body: inner
        .slice(bodyAt + 1)
        .join("\n")
        .trim(),
    });
    i = end;
  }
  return out;
}

function renderSection(number: string, s: Section, current: string): string {
  const m = s.meta;
  // JSON in an HTML comment: "-->" inside a string would end the comment early.
  const json = JSON.stringify(m).replace(/-->/g, "--\\u003e");
  const where = m.machine === current ? "" : ` Measured on another machine: ${m.machine}.`;
  return [
    `<!-- bench:section ${json} -->`,
    `## ${number}${m.title}`,
    "",
    m.origin ??
      `Run ${m.date} by \`npm run bench\`${m.quick ? " in quick mode" : ""}; load average (1/5/15 min) ${m.loadBefore} before, ${m.loadAfter} after; ${fmt(m.seconds, 0)} s.${where}`,
    ...(m.quick ? ["", QUICK_NOTE] : []),
    "",
    "<!-- bench:body -->",
    s.body.trim(),
    `<!-- bench:end ${m.id} -->`,
  ].join("\n");
}

/** "2026-11-26T15:01:52Z" → "2026-11-26 15:01Z"; a bare date stays as it is. */
const shortDate = (iso: string) => iso.replace("T", " ").replace(/:\d\dZ$/, "Z");

/**
 * Writes the whole file: header, machine, summary (rows of every section, in `order`), sections.
 * `order` lists section ids with their heading numbers ("" for unnumbered ones).
 */
export function writeResults(path: string, order: [id: string, number: string][], sections: Map<string, Section>, machine: MachineInfo): void {
  const current = machineLine(machine);
  const present = order.filter(([id]) => sections.has(id));
  const summary = present.flatMap(([id]) => {
    const m = sections.get(id)!.meta;
    return m.summary.map((r) => [...r, `${shortDate(m.date)}${m.quick ? " (quick)" : ""}`]);
  });
  const elsewhere = present.filter(([id]) => sections.get(id)!.meta.machine !== current);
  const out = [
    "# Plinth benchmark results",
    "",
    "Written by `npm run bench` (bench/run.ts): every figure below comes from a run, none is edited by hand. `npm run bench -- rest`",
    "reruns some benchmarks and rewrites only their sections; each section says when it ran and how loaded the machine was.",
    "What each benchmark does and how to read it: [README.md](README.md). Goals are the issue's; figures are reported as measured.",
    ...(present.some(([id]) => sections.get(id)!.meta.origin)
      ? [
          'Exception: sections whose first line says "run by hand" were carried over from the hand-written results; the next run of',
          "their benchmark replaces them.",
        ]
      : []),
    "",
    "## Machine",
    "",
    table(
      ["", ""],
      [
        ["CPUs (`nproc`)", String(machine.nproc)],
        ["CPU model", machine.cpuModel],
        ["Memory", `${fmt(machine.memoryGb)} GiB`],
        ["Bun", machine.bunVersion],
        ["Kernel", machine.kernel],
        ["File written (UTC)", machine.date],
      ],
    ),
    "",
    ...(elsewhere.length ? [`Sections measured on another machine: ${elsewhere.map(([id]) => sections.get(id)!.meta.title).join(", ")} (see each).`, ""] : []),
    "## Summary",
    "",
    table(["Benchmark", "Measured", "Goal", "Verdict", "Run (UTC)"], summary),
    "",
    ...present.flatMap(([id, number]) => [renderSection(number, sections.get(id)!, current), ""]),
  ];
  writeFileSync(path, out.join("\n").trimEnd() + "\n");
}
