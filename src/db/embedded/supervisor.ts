/**
 * Embedded PostgreSQL supervisor: Plinth's default database when PLINTH_DB_URL is not set.
 *
 * Files under the Plinth data dir:
 *   pg/                    the cluster (owned by the postgres OS user when we run as root)
 *   pg.json                {port, password} of the superuser `postgres`, mode 0600, owned by us
 *   embedded.lock.json     {ownerPid, ownerStart, postmasterPid, port} while a Plinth process owns the server
 *   logs/postgres.log      postgres's stdout/stderr
 *   pgbin/<key>/           unpacked bundled binaries
 *
 * Relocation (root only): postgres runs as an unprivileged user, which cannot reach a data dir under
 * a private directory such as /root (0700). Then the cluster lives in
 * /var/lib/plinth/clusters/<sha of the absolute data dir>/pg, `<dataDir>/pg` is a symlink to it, and
 * binaries it cannot reach are copied to /var/lib/plinth/pgbin/<key>.
 *
 * Ownership: one Plinth process owns the server (it started it and stops it). Another Plinth
 * process on the same data dir (e.g. `plinth migrate` during `plinth serve`) attaches instead
 * (owned: false). A server whose owner died is an orphan and is stopped before starting afresh.
 */
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import postgres from "postgres";
import { ensurePgBinaries, findPgBinaries, type PgBinaries, type PgBinSource } from "./binaries.ts";
import { ensureCluster, Postmaster, pidFilePid, readJson, readRaw, removeStalePidFile, urlFor, writeJson, type Layout, type PgState } from "./cluster.ts";
import { canTraverse, ensurePgUser, isPostmasterFor, isRoot, pidAlive, procStartTime, sleep, terminate, type LogFn, type PgUser } from "./os.ts";

export { findPgBinaries, type FindPgBinariesOptions, type PgBinaries, type PgBinSource } from "./binaries.ts";

export interface EmbeddedOptions {
  /** Plinth data dir; the cluster lives in <dataDir>/pg. */
  dataDir: string;
  /** Explicit dir with initdb/postgres (PLINTH_PG_BIN / config db.pgBin). */
  pgBin?: string;
  /** OS user postgres runs as when we are root; default "plinth". */
  pgUser?: string;
  /** A .tar.gz of the npm package's native/ dir (embedded in the compiled executable). */
  bundledArchive?: string | null;
  log?: LogFn;
  /** Default true: restart postgres if it dies unexpectedly. */
  supervise?: boolean;
}

export interface EmbeddedServer {
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres — contains the password: never log it. */
  url: string;
  port: number;
  binDir: string;
  binSource: PgBinSource;
  /** False when attached to a server owned by another live Plinth process. */
  owned: boolean;
  /** Fast shutdown (SIGINT), SIGKILL after ~10 s. No-op when !owned; idempotent; signal-handler safe. */
  stop(): Promise<void>;
}

const SYSTEM_ROOT = "/var/lib/plinth";
const STOP_GRACE_MS = 10_000;

interface LockInfo {
  ownerPid: number;
  ownerStart: string | null;
  postmasterPid: number | null;
  port: number;
}

const noLog: LogFn = () => {};

export async function startEmbedded(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  const log = opts.log ?? noLog;
  const dataDir = resolve(opts.dataDir);
  // 0711 when we create it: others cannot list it, but the postgres user (when we are root) can
  // reach <dataDir>/pg (itself 0700). An existing data dir keeps its mode; see relocation above.
  mkdirSync(dataDir, { recursive: true, mode: 0o711 });
  const runAs = isRoot() ? ensurePgUser(opts.pgUser ?? "plinth", log) : null;
  const layout = planLayout(dataDir, runAs);
  const found = findPgBinaries({ ...opts, dataDir, extractRoot: layout.pgbinRoot });

  const lock = await acquireOrFindOwner(layout, log);
  if (lock) return attach(layout, lock, found, log);
  let pm: Postmaster | null = null;
  try {
    const bins = await ensurePgBinaries(found, { log, runAs, relocateRoot: layout.pgbinRoot });
    const state = await ensureCluster(layout, bins, runAs, log);
    pm = new Postmaster(layout, bins, runAs, state, log, opts.supervise ?? true, {
      onReady: (pid, port) => updateLock(layout, pid, port),
      onStopped: () => removeOwnLock(layout),
    });
    await pm.start();
    const started = pm;
    log("info", "embedded PostgreSQL ready", { port: state.port, binSource: bins.source, cluster: layout.cluster });
    return {
      get url() {
        return urlFor(state);
      },
      get port() {
        return state.port;
      },
      binDir: bins.dir,
      binSource: bins.source,
      owned: true,
      stop: () => started.stop(),
    };
  } catch (e) {
    await pm?.stop(); // kills a postmaster that never became ready
    removeOwnLock(layout);
    throw e;
  }
}

/**
 * Where the cluster of `dataDir` lives, or would be created (see relocation above), and the OS user
 * postgres runs as (null unless we are root): for `plinth restore`, which puts a cluster in place
 * before starting it.
 */
export function clusterPlacement(
  dataDir: string,
  pgUser?: string,
  log: LogFn = noLog,
): { link: string; cluster: string; relocated: boolean; runAs: PgUser | null } {
  const runAs = isRoot() ? ensurePgUser(pgUser ?? "plinth", log) : null;
  const l = planLayout(resolve(dataDir), runAs);
  return { link: l.link, cluster: l.cluster, relocated: l.relocated, runAs };
}

/** The pid of the live Plinth process that owns the embedded server of `dataDir`, or null. */
export function embeddedOwnerPid(dataDir: string): number | null {
  const lock = readJson<LockInfo>(join(resolve(dataDir), "embedded.lock.json"));
  return lock && ownerAlive(lock) ? lock.ownerPid : null;
}

// ---------------------------------------------------------------------------------------------
// Layout

const shortSha = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 16);

function planLayout(dataDir: string, runAs: PgUser | null): Layout {
  const link = join(dataDir, "pg");
  const reachable = !runAs || canTraverse(dataDir, runAs);
  let cluster = link;
  let st: ReturnType<typeof lstatSync> | null = null;
  try {
    st = lstatSync(link);
  } catch {
    /* first start */
  }
  if (st?.isSymbolicLink()) cluster = resolve(dataDir, readlinkSync(link));
  else if (!st && !reachable) cluster = join(SYSTEM_ROOT, "clusters", shortSha(dataDir), "pg");
  else if (st && runAs && !reachable) {
    throw new Error(
      `the PostgreSQL cluster ${link} is not reachable by user ${runAs.name} (a parent directory is not searchable); make ${dataDir} and its parents searchable (chmod o+x) or move the data dir`,
    );
  }
  return {
    dataDir,
    link,
    cluster,
    relocated: cluster !== link,
    pgbinRoot: reachable ? join(dataDir, "pgbin") : join(SYSTEM_ROOT, "pgbin"),
    stateFile: join(dataDir, "pg.json"),
    lockFile: join(dataDir, "embedded.lock.json"),
    logFile: join(dataDir, "logs", "postgres.log"),
  };
}

// ---------------------------------------------------------------------------------------------
// Ownership: lock file, orphans, attach

const ownerAlive = (k: LockInfo) => pidAlive(k.ownerPid) && (k.ownerStart === null || procStartTime(k.ownerPid) === k.ownerStart);

/**
 * Either take ownership (returns null, lock file written) or return the lock of a live owner.
 * A lock of a dead owner is removed after its orphaned postmaster, if any, is stopped.
 */
async function acquireOrFindOwner(l: Layout, log: LogFn): Promise<LockInfo | null> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const raw = readRaw(l.lockFile);
    const lock = raw ? (readJson<LockInfo>(l.lockFile) ?? null) : null;
    if (lock && ownerAlive(lock)) return lock;
    if (lock) log("warn", "previous Plinth process owning the embedded PostgreSQL is gone", { ownerPid: lock.ownerPid });
    await reapOrphans(l, lock, log);
    // Remove the stale lock only if unchanged: a concurrent starter may have replaced it meanwhile.
    if (raw !== null && readRaw(l.lockFile) === raw) rmSync(l.lockFile, { force: true });
    try {
      const mine: LockInfo = { ownerPid: process.pid, ownerStart: procStartTime(process.pid), postmasterPid: null, port: 0 };
      writeFileSync(l.lockFile, JSON.stringify(mine), { flag: "wx", mode: 0o600 });
      return null;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      await sleep(20); // someone else just took it: re-read
    }
  }
  throw new Error(`could not take the lock ${l.lockFile}`);
}

/** pg.json for attaching: missing is "not yet" (the owner is initialising), unreadable is fatal. */
function readState(file: string): PgState | null {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as PgState;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "EPERM") throw new Error(`cannot read ${file} to attach to the running embedded PostgreSQL: ${code}`);
    return null; // missing, or caught mid-replace
  }
}

function updateLock(l: Layout, postmasterPid: number, port: number): void {
  writeJson(l.lockFile, { ownerPid: process.pid, ownerStart: procStartTime(process.pid), postmasterPid, port } satisfies LockInfo);
}

function removeOwnLock(l: Layout): void {
  if (readJson<LockInfo>(l.lockFile)?.ownerPid === process.pid) rmSync(l.lockFile, { force: true });
}

async function reapOrphans(l: Layout, lock: LockInfo | null, log: LogFn): Promise<void> {
  const candidates = new Set([pidFilePid(l.cluster), lock?.postmasterPid ?? null]);
  for (const pid of candidates) {
    if (pid === null || !isPostmasterFor(pid, l.cluster)) continue;
    log("warn", "stopping orphaned embedded PostgreSQL", { pid });
    await terminate(pid, "SIGINT", STOP_GRACE_MS);
  }
  removeStalePidFile(l.cluster);
}

async function attach(l: Layout, lock: LockInfo, bins: PgBinaries, log: LogFn): Promise<EmbeddedServer> {
  log("info", "embedded PostgreSQL is owned by another Plinth process; attaching", { ownerPid: lock.ownerPid });
  const deadline = Date.now() + 60_000; // the owner may still be running initdb
  let lastError = "pg.json not written yet";
  while (Date.now() < deadline && ownerAlive(lock)) {
    const state = readState(l.stateFile);
    if (state) {
      const sql = postgres(urlFor(state), { max: 1, connect_timeout: 2, onnotice: () => {} });
      try {
        await sql`select 1`;
        return { url: urlFor(state), port: state.port, binDir: bins.dir, binSource: bins.source, owned: false, stop: async () => {} };
      } catch (e) {
        lastError = (e as Error).message;
      } finally {
        await sql.end({ timeout: 1 });
      }
    }
    await sleep(100);
  }
  throw new Error(`the embedded PostgreSQL in ${l.dataDir} belongs to Plinth process ${lock.ownerPid}, but it is not accepting connections: ${lastError}`);
}
