/**
 * Operating-system helpers for the embedded PostgreSQL supervisor: the OS user postgres runs as,
 * path traversal checks, /proc inspection, signalling, spawning with a parent-death signal, ports.
 * Linux only (the embedded server is only supported there).
 */
import { readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { basename, dirname, resolve } from "node:path";

/** The unprivileged account postgres runs as when Plinth itself runs as root. */
export interface PgUser {
  name: string;
  uid: number;
  gid: number;
}

export type LogFn = (level: "debug" | "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;

export const isRoot = (): boolean => process.getuid?.() === 0;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Wait for `p` at most `ms`; true if it settled. Clears its timer so it never holds the process open. */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** sbin dirs are often missing from PATH of non-login shells and services; useradd lives there. */
const EXTRA_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export function which(cmd: string): string | null {
  return Bun.which(cmd, { PATH: `${process.env.PATH ?? ""}:${EXTRA_PATH}` });
}

// ---------------------------------------------------------------------------------------------
// Users

function lookupUser(name: string): PgUser | null {
  // /etc/passwd first (no process spawn); getent covers NSS sources such as LDAP.
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const f = line.split(":");
      if (f[0] === name && f[2] !== undefined && f[3] !== undefined) {
        return { name, uid: Number(f[2]), gid: Number(f[3]) };
      }
    }
  } catch {
    /* fall through to getent */
  }
  const getent = which("getent");
  if (!getent) return null;
  const r = Bun.spawnSync([getent, "passwd", name], { stdout: "pipe", stderr: "ignore" });
  const f = r.stdout.toString().trim().split(":");
  if (r.exitCode !== 0 || f[2] === undefined || f[3] === undefined) return null;
  return { name, uid: Number(f[2]), gid: Number(f[3]) };
}

/**
 * The user postgres runs as when we are root (postgres refuses to run as root). Creates a system
 * account without home or shell; falls back to an existing `postgres` account.
 */
export function ensurePgUser(name: string, log: LogFn): PgUser {
  const existing = lookupUser(name);
  if (existing) return existing;
  const useradd = which("useradd");
  let why = "useradd not found";
  if (useradd) {
    const r = Bun.spawnSync([useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name], {
      stdout: "ignore",
      stderr: "pipe",
    });
    // Re-read even on failure: a concurrent Plinth may have created it first (exit code 9).
    const created = lookupUser(name);
    if (created) {
      if (r.exitCode === 0) log("info", "created system user for PostgreSQL", { user: name });
      return created;
    }
    why = `useradd exited ${r.exitCode}: ${r.stderr.toString().trim()}`;
  }
  const fallback = lookupUser("postgres");
  if (fallback) {
    log("warn", `could not create user ${name}; running PostgreSQL as existing user postgres`, { why });
    return fallback;
  }
  throw new Error(
    `PostgreSQL cannot run as root and no user is available for it: could not create system user ` +
      `"${name}" (${why}) and no "postgres" user exists. Create one (useradd --system ${name}) or run Plinth as a non-root user.`,
  );
}

function supplementaryGids(user: PgUser): Set<number> {
  const gids = new Set([user.gid]);
  try {
    for (const line of readFileSync("/etc/group", "utf8").split("\n")) {
      const f = line.split(":");
      if (f[2] !== undefined && (f[3] ?? "").split(",").includes(user.name)) gids.add(Number(f[2]));
    }
  } catch {
    /* primary group only */
  }
  return gids;
}

/**
 * Whether `user` can search (x) every directory from / down to `path` inclusive, judged from the
 * mode bits (POSIX ACLs are ignored, which errs towards "no" only if an ACL grants extra rights).
 * Typical failure: a data dir under /root (0700) — postgres then cannot reach its cluster.
 */
export function canTraverse(path: string, user: PgUser): boolean {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return canTraverse(dirname(resolve(path)), user); // not created yet: judge the nearest parent
  }
  const gids = supplementaryGids(user);
  for (let p = real; ; p = dirname(p)) {
    const st = statSync(p);
    const bit = st.uid === user.uid ? 0o100 : gids.has(st.gid) ? 0o010 : 0o001;
    if ((st.mode & bit) === 0) return false;
    if (p === "/") return true;
  }
}

// ---------------------------------------------------------------------------------------------
// /proc inspection

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  return procState(pid) !== "Z"; // a zombie is dead for our purposes
}

/** Fields of /proc/<pid>/stat after the command name (which may contain spaces and parens). */
function procStatFields(pid: number): string[] | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    return s.slice(s.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

const procState = (pid: number): string | null => procStatFields(pid)?.[0] ?? null;

/** Process start time (clock ticks since boot): with the pid, identifies a process across pid reuse. */
export const procStartTime = (pid: number): string | null => procStatFields(pid)?.[19] ?? null;

export function procCmdline(pid: number): string[] | null {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return raw.split("\0").filter((s) => s.length > 0);
  } catch {
    return null;
  }
}

export function procChildren(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    if (procStatFields(Number(name))?.[1] === String(pid)) out.push(Number(name));
  }
  return out;
}

function samePath(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return resolve(a) === resolve(b);
  }
}

/**
 * Whether `pid` is a postmaster serving `clusterDir`. The postmaster keeps its original argv
 * (only its children retitle themselves), so `postgres -D <dir>` identifies it; a wrapper such as
 * runuser has the same -D argument but a different argv[0], and is rejected.
 */
export function isPostmasterFor(pid: number, clusterDir: string): boolean {
  if (!pidAlive(pid)) return false;
  const argv = procCmdline(pid);
  if (!argv || basename(argv[0] ?? "") !== "postgres") return false;
  const i = argv.indexOf("-D");
  const dir = i >= 0 ? argv[i + 1] : undefined;
  return dir !== undefined && samePath(dir, clusterDir);
}

/** Signal, wait up to `graceMs`, then SIGKILL the process and the children it had. */
export async function terminate(pid: number, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  const children = procChildren(pid);
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  if (await waitGone([pid], graceMs)) {
    await waitGone(children, 5_000); // backends exit on their own once the postmaster is gone
    return;
  }
  for (const p of [pid, ...children]) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
  await waitGone([pid, ...children], 5_000);
}

export async function waitGone(pids: number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(pidAlive)) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Spawning

export type Wrapper = "setpriv" | "runuser" | "none";

/**
 * Prefix a command so that it runs as `user` (when we are root) and receives SIGINT — the
 * postmaster's fast shutdown — when our process dies, even by SIGKILL. setpriv applies the
 * parent-death signal last, after the uid switch (a uid change clears it, so the order matters).
 * The parent is the thread that spawned us; Bun spawns from the JS thread, which lives as long as
 * the process. Without setpriv there is no death signal: the orphan check at the next start and
 * the process 'exit' hook are then the only cleanup.
 */
export function wrapCommand(cmd: string[], user: PgUser | null): { argv: string[]; wrapper: Wrapper } {
  const setpriv = which("setpriv");
  if (setpriv) {
    const who = user ? [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--init-groups"] : [];
    return { argv: [setpriv, ...who, "--pdeathsig", "INT", "--", ...cmd], wrapper: "setpriv" };
  }
  if (!user) return { argv: cmd, wrapper: "none" };
  const runuser = which("runuser");
  if (!runuser) throw new Error("running as root needs setpriv or runuser (util-linux) to start PostgreSQL as another user");
  return { argv: [runuser, "-u", user.name, "--", ...cmd], wrapper: "runuser" };
}

/** A minimal environment: PG* variables from the user's shell (PGDATA, PGPORT…) must not leak in. */
export function childEnv(): Record<string, string> {
  const env: Record<string, string> = { PATH: EXTRA_PATH, LANG: "C", LC_ALL: "C" };
  if (process.env.TZ) env.TZ = process.env.TZ;
  return env;
}

// ---------------------------------------------------------------------------------------------
// Ports

function tryListen(port: number): Promise<number | null> {
  return new Promise((resolveP) => {
    const srv = createServer();
    srv.once("error", () => resolveP(null));
    srv.listen({ port, host: "127.0.0.1", exclusive: true }, () => {
      const addr = srv.address();
      const got = typeof addr === "object" && addr ? addr.port : null;
      srv.close(() => resolveP(got));
    });
  });
}

export const portFree = async (port: number): Promise<boolean> => (await tryListen(port)) === port;

export async function pickFreePort(): Promise<number> {
  const p = await tryListen(0);
  if (p === null) throw new Error("could not find a free TCP port on 127.0.0.1");
  return p;
}
