// What every benchmark hands back to bench/run.ts: its rows of the summary table, its section of
// RESULTS.md (rendered by the benchmark itself, which knows what its figures mean) and a few lines
// for the console. Also the goals, kept here with no imports so that run.ts can still list a
// benchmark's goals as "not run" when the benchmark's own module fails to load.
import { fmt } from "./lib.ts";

/** [what, measured, goal, verdict] */
export type Row = [string, string, string, string];

export interface Outcome {
  /** False: not run (prerequisite missing, or it crashed); `reason` says why. */
  ok: boolean;
  reason?: string;
  summary: Row[];
  /** Markdown under the section's heading (conditions, tables, ### sub-sections). */
  body: string;
  /** Short figures for the console. */
  lines: string[];
  warnings: string[];
}

export interface BenchContext {
  /** BENCH_QUICK=1 or --quick: 1 s runs, 1 repetition, smaller sizes. For trying the runner, not for figures. */
  quick: boolean;
  progress: (s: string) => void;
}

/** The goals. `limit` is what the verdict compares with; `goal` is how it is written. */
export const GOALS = {
  gatewayOverheadMs: { what: "Gateway overhead per request, 1/rps(gateway) − 1/rps(bare)", goal: "< 0.1 ms", limit: 0.1 },
  coldStartMs: { what: "Cold start: spawn → first 200 on /health, fresh data dir (initdb)", goal: "< 20 s", limit: 20_000 },
  warmStartMs: { what: "Warm start: same data dir, PostgreSQL start included", goal: "< 1.5 s", limit: 1_500 },
  idleRssMb: { what: "Idle RSS of the plinth process (VmRSS)", goal: "< 150 MB", limit: 150 },
  refreshPerSecond: { what: "Auth: refresh-token exchanges per second", goal: "≥ 1,000/s", limit: 1_000 },
  authUserShare: { what: "Auth: GET /auth/v1/user, Plinth / bare", goal: "≥ 80 %", limit: 0.8 },
  signInLockoutShare: { what: "Auth: password sign-ins/s with the lockout on / off", goal: "≥ 90 %", limit: 0.9 },
  signInProtectedShare: { what: "Auth: password sign-ins/s with lockout and audit on / before issue 14 (both off)", goal: "≥ 90 %", limit: 0.9 },
  restPkShare: { what: "REST: pk read, Plinth / bare", goal: "≥ 0.8", limit: 0.8 },
  restInsertShare: { what: "REST: single-row insert, Plinth / bare", goal: "≥ 0.8", limit: 0.8 },
  storageUploadShare: { what: "Storage: 1 GiB upload / dd write", goal: "≥ 50 %", limit: 0.5 },
  storageDownloadShare: { what: "Storage: 1 GiB download / dd read", goal: "≥ 50 %", limit: 0.5 },
  storageRssGrowthMb: { what: "Storage: peak RSS growth during a 1 GiB transfer", goal: "< 64 MB", limit: 64 },
  realtimeP99Ms: { what: "Realtime: commit-to-client latency p99", goal: "< 50 ms", limit: 50 },
  realtimeBroadcastShare: { what: "Realtime: broadcast deliveries / bare Bun fan-out", goal: "≥ 70 %", limit: 0.7 },
  adminSessionCheckMs: { what: "Admin: CPU the session check adds per admin request (Plinth process)", goal: "< 0.05 ms", limit: 0.05 },
  keysCachedMs: { what: "Keys: identifying a request once cached (ES256 session token, scoped API key + scopes)", goal: "< 0.05 ms", limit: 0.05 },
  tuiFirstScreenMs: { what: "Console: `plinth tui` start → first screen (compiled binary, local server)", goal: "< 300 ms", limit: 300 },
  tuiPageMs: { what: "Console: a 100-row page of a 10,000-row table (what scrolling waits for)", goal: "< 100 ms", limit: 100 },
  backupTarShare: { what: "Backup: `plinth backup` of a 1 GiB database / `tar` of its data dir", goal: "≥ 50 %", limit: 0.5 },
  /** Before/after: the current tree may be this much slower than the ref before it counts as slower (run-to-run noise). */
  notSlower: { what: "", goal: "≥ 0.95 × before", limit: 0.95 },
} as const;

export type GoalName = keyof typeof GOALS;

export const verdict = (ok: boolean): string => (ok ? "met" : "**not met**");

/** A summary row for a goal: `measured` as written, the verdict from `ok`. */
export function goalRow(name: GoalName, measured: string, ok: boolean, what: string = GOALS[name].what): Row {
  return [what, measured, GOALS[name].goal, verdict(ok)];
}

/** The outcome of a benchmark that did not run: its goals listed as "not run". */
export function notRun(reason: string, goals: GoalName[]): Outcome {
  return {
    ok: false,
    reason,
    summary: goals.map((g) => [GOALS[g].what, "not run", GOALS[g].goal, "not run"]),
    body: `Not run: ${reason.split("\n")[0]}`,
    lines: [],
    warnings: [],
  };
}

export function table(head: string[], body: string[][]): string {
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...body.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

export const ms = (x: number): string => (x >= 1000 ? `${fmt(x / 1000, 2)} s` : `${fmt(x, x < 10 ? 1 : 0)} ms`);
export const pct = (share: number, digits = 0): string => `${fmt(share * 100, digits)} %`;
export const rps = (x: number): string => fmt(x, 0);

/** A line for the quick mode, put first in every section it wrote. */
export const QUICK_NOTE = "**Quick mode** (BENCH_QUICK=1): 1 s runs, one repetition, smaller sizes — for trying the runner, not figures to keep.";
