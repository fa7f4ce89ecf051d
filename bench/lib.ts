// Shared helpers for the benchmarks: statistics, ports, HTTP polling, /proc inspection and the
// description of the machine the figures were taken on. Linux only (reads /proc).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, totalmem } from "node:os";
import { resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "..");
/** The Bun running this script: used for the child processes too, so they run the same version. */
export const BUN = process.execPath;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export const fmt = (n: number, digits = 1): string =>
  Number.isFinite(n) ? n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "n/a";

/** A port nobody listens on right now, on 127.0.0.1 (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port ? res(port) : rej(new Error("no port"))));
    });
  });
}

/**
 * Polls `url` every `intervalMs` until it answers 200. Resolves with the time of the first 200
 * (performance.now()) or null when `deadline` (performance.now() based) passed or `gaveUp()` says so.
 */
export async function waitFor200(
  url: string,
  { intervalMs, deadline, gaveUp }: { intervalMs: number; deadline: number; gaveUp?: () => boolean },
): Promise<number | null> {
  while (performance.now() < deadline) {
    if (gaveUp?.()) return null;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) return performance.now();
    } catch {
      /* not listening yet */
    }
    await sleep(intervalMs);
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// /proc

export function procStatus(pid: number): Record<string, string> | null {
  try {
    const out: Record<string, string> = {};
    for (const line of readFileSync(`/proc/${pid}/status`, "utf8").split("\n")) {
      const i = line.indexOf(":");
      if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
    }
    return out;
  } catch {
    return null;
  }
}

/** A "1234 kB" field of /proc/<pid>/status (or smaps_rollup) in MB, or null. */
function kbField(value: string | undefined): number | null {
  const m = value ? /^(\d+)\s*kB$/.exec(value) : null;
  return m ? Number(m[1]) / 1024 : null;
}

/** Clock ticks per second of /proc's utime/stime. */
const CLK_TCK = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

/** utime + stime of the processes (all their threads), in seconds; a process gone in between counts 0. */
export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // f[0] is field 3 (state)
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      /* gone */
    }
  }
  return ticks / CLK_TCK;
}

export function rssMb(pid: number): number | null {
  return kbField(procStatus(pid)?.VmRSS);
}

/** Proportional set size (shared pages divided among the processes sharing them), MB. */
export function pssMb(pid: number): number | null {
  try {
    const line = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8")
      .split("\n")
      .find((l) => l.startsWith("Pss:"));
    return kbField(line?.slice(4).trim());
  } catch {
    return null;
  }
}

export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
  } catch {
    return "";
  }
}

export function allPids(): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

/** Alive and not a zombie. */
export function alive(pid: number): boolean {
  const state = procStatus(pid)?.State;
  return state !== undefined && !state.startsWith("Z");
}

/** `root` and all its descendants (by PPid), root first. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const ppid = Number(procStatus(pid)?.PPid);
    if (!Number.isFinite(ppid)) continue;
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift()!;
    if (!alive(pid)) continue;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Processes (other than ourselves) whose command line mentions `needle`. */
export function pidsMentioning(needle: string): number[] {
  return allPids().filter((pid) => pid !== process.pid && alive(pid) && cmdline(pid).includes(needle));
}

// ---------------------------------------------------------------------------------------------
// The machine

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memoryGb: number;
  bunVersion: string;
  kernel: string;
  date: string;
  loadavg: string;
}

export function machineInfo(): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? "unknown";
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    if (line) cpuModel = line.split(":")[1]!.trim();
  } catch {
    /* keep os.cpus() */
  }
  let memoryGb = totalmem() / 1024 ** 3;
  try {
    const kb = /MemTotal:\s+(\d+) kB/.exec(readFileSync("/proc/meminfo", "utf8"));
    if (kb) memoryGb = Number(kb[1]) / 1024 ** 2;
  } catch {
    /* keep os.totalmem() */
  }
  const nproc = Bun.spawnSync(["nproc"]).stdout.toString().trim();
  let kernel = "unknown";
  try {
    kernel = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
  } catch {
    /* not Linux */
  }
  let loadavg = "";
  try {
    loadavg = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  } catch {
    /* not Linux */
  }
  return {
    nproc: Number(nproc) || cpus().length,
    cpuModel,
    memoryGb,
    bunVersion: Bun.version,
    kernel,
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    loadavg,
  };
}

export const exists = existsSync;

/** The tail of a text file (for diagnostics when a child fails). */
export function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no output)";
  }
}
