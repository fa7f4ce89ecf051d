/**
 * The embedded cluster on disk (initdb, password, stale pid file) and its postmaster process
 * (start, readiness, supervised restart, stop). Used by embedded.ts, which owns the policy.
 */
import { randomBytes } from "node:crypto";
import {
  chownSync,
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { pgVersion, type PgBinaries } from "./binaries.ts";
import { childEnv, isPostmasterFor, pickFreePort, pidAlive, portFree, sleep, terminate, within, wrapCommand, type LogFn, type PgUser } from "./os.ts";

const READY_TIMEOUT_MS = 120_000; // crash recovery after a kill -9 can replay a lot of WAL
const STOP_GRACE_MS = 10_000;
const LOG_ROTATE_BYTES = 10 * 1024 * 1024;

export interface PgState {
  port: number;
  password: string;
}

export interface Layout {
  dataDir: string;
  /** <dataDir>/pg: the cluster itself, or a symlink to the relocated cluster. */
  link: string;
  cluster: string;
  relocated: boolean;
  pgbinRoot: string;
  stateFile: string;
  lockFile: string;
  logFile: string;
}

export const urlFor = (s: PgState): string => `postgres://postgres:${encodeURIComponent(s.password)}@127.0.0.1:${s.port}/postgres`;

export function readRaw(file: string): string | null {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return null;
  }
}

export function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch {
    return null;
  }
}

/** Atomic replace, mode 0600 (pg.json holds the superuser password). */
export function writeJson(file: string, value: unknown): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

export async function ensureCluster(l: Layout, bins: PgBinaries, runAs: PgUser | null, log: LogFn): Promise<PgState> {
  const state = readJson<PgState>(l.stateFile);
  if (!existsSync(join(l.cluster, "PG_VERSION"))) {
    if (existsSync(l.cluster) && readdirSync(l.cluster).length > 0) {
      throw new Error(`${l.cluster} exists but is not a PostgreSQL cluster (no PG_VERSION); move it away to let Plinth create a new one`);
    }
    return initCluster(l, bins, runAs, state?.port, log);
  }
  const clusterMajor = readFileSync(join(l.cluster, "PG_VERSION"), "utf8").trim();
  const binMajor = pgVersion(bins.dir).split(".")[0];
  if (clusterMajor !== binMajor) {
    throw new Error(
      `the cluster in ${l.cluster} was created by PostgreSQL ${clusterMajor}, but the binaries found (${bins.source}: ${bins.dir}) are version ${binMajor}; set PLINTH_PG_BIN to PostgreSQL ${clusterMajor} binaries`,
    );
  }
  if (runAs && statSync(l.cluster).uid !== runAs.uid) chownTree(l.cluster, runAs);
  if (state?.password && state.port) return state;
  log("warn", "pg.json missing: resetting the embedded superuser password", { file: l.stateFile });
  return resetPassword(l, bins, runAs);
}

function chownTree(dir: string, u: PgUser): void {
  const r = Bun.spawnSync(["chown", "-R", `${u.uid}:${u.gid}`, dir], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`chown -R ${u.name} ${dir} failed: ${r.stderr.toString().trim()}`);
}

/**
 * initdb into `pg.tmp`, then rename: `pg` exists only once initdb has finished, so a crash midway
 * leaves a `pg.tmp` that the next start discards. pg.json is written first, so `pg` never exists
 * without its password.
 */
async function initCluster(l: Layout, bins: PgBinaries, runAs: PgUser | null, port: number | undefined, log: LogFn): Promise<PgState> {
  const t0 = performance.now();
  const parent = dirname(l.cluster);
  const tmp = `${l.cluster}.tmp`;
  mkdirSync(parent, { recursive: true, mode: 0o755 });
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { mode: 0o700 });
  const state: PgState = { port: port ?? (await pickFreePort()), password: randomBytes(24).toString("hex") };
  writeJson(l.stateFile, state);
  // initdb reads the password from a file, which the postgres user must be able to read.
  const pwfile = join(parent, `.pg.pwfile-${process.pid}`);
  writeFileSync(pwfile, `${state.password}\n`, { mode: 0o600 });
  try {
    if (runAs) {
      chownSync(tmp, runAs.uid, runAs.gid);
      chownSync(pwfile, runAs.uid, runAs.gid);
    }
    await runToCompletion(
      [
        join(bins.dir, "initdb"),
        "-D",
        tmp,
        "-U",
        "postgres",
        `--pwfile=${pwfile}`,
        "--auth-local=scram-sha-256",
        "--auth-host=scram-sha-256",
        "-E",
        "UTF8",
        "--no-locale",
        "--no-instructions",
      ],
      runAs,
      "initdb",
    );
  } finally {
    rmSync(pwfile, { force: true });
  }
  renameSync(tmp, l.cluster);
  if (l.relocated) {
    rmSync(l.link, { force: true }); // a dangling symlink to a lost cluster
    symlinkSync(l.cluster, l.link);
  }
  log("info", "initialised embedded PostgreSQL cluster", { cluster: l.cluster, ms: Math.round(performance.now() - t0) });
  return state;
}

/** pg.json lost but the cluster intact: set a new password in single-user mode (never in argv). */
async function resetPassword(l: Layout, bins: PgBinaries, runAs: PgUser | null): Promise<PgState> {
  removeStalePidFile(l.cluster);
  const state: PgState = { port: readJson<PgState>(l.stateFile)?.port ?? (await pickFreePort()), password: randomBytes(24).toString("hex") };
  await runToCompletion(
    [join(bins.dir, "postgres"), "--single", "-D", l.cluster, "-c", "unix_socket_directories=", "postgres"],
    runAs,
    "password reset",
    `ALTER ROLE postgres WITH PASSWORD '${state.password}';\n`,
    state.password,
  );
  writeJson(l.stateFile, state);
  return state;
}

async function runToCompletion(cmd: string[], runAs: PgUser | null, what: string, stdin?: string, secret?: string): Promise<void> {
  const proc = Bun.spawn(wrapCommand(cmd, runAs).argv, {
    cwd: "/", // our cwd may be unreadable for the postgres user
    env: childEnv(),
    stdin: stdin === undefined ? "ignore" : new Blob([stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) {
    let tail = `${out}\n${err}`.trim().split("\n").slice(-15).join("\n");
    if (secret) tail = tail.replaceAll(secret, "<redacted>"); // single-user mode may echo the statement
    throw new Error(`${what} failed (exit ${code}):\n${tail}`);
  }
}

/** Pid in `<cluster>/postmaster.pid`, if any. */
export function pidFilePid(cluster: string): number | null {
  const first = readRaw(join(cluster, "postmaster.pid"))?.split("\n")[0];
  return first ? Number(first) : null;
}

/**
 * postgres refuses to start if postmaster.pid names a live process, even one that merely reuses
 * the pid of a postmaster killed with -9; so drop it unless it really is a postmaster of ours.
 */
export function removeStalePidFile(cluster: string): void {
  const pid = pidFilePid(cluster);
  if (pid !== null && !isPostmasterFor(pid, cluster)) rmSync(join(cluster, "postmaster.pid"), { force: true });
}

// ---------------------------------------------------------------------------------------------
// The postmaster process

export interface PostmasterHooks {
  /** The server accepts connections (after each start and restart). */
  onReady(postmasterPid: number, port: number): void;
  onStopped(): void;
}

export class Postmaster {
  private proc: Bun.Subprocess | null = null;
  private pmPid: number | null = null;
  private exited = false;
  private stopping: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Delay before the next restart: none for the first (requests are waiting), then doubling. */
  private backoffMs = 0;
  private startedAt = 0;
  /** Last resort when the caller exits without stop(): fast shutdown, synchronously. */
  private readonly exitHook = () => {
    if (!this.stopping && this.pmPid && !this.exited) {
      try {
        process.kill(this.pmPid, "SIGINT");
      } catch {
        /* gone */
      }
    }
  };

  constructor(
    private readonly l: Layout,
    private readonly bins: PgBinaries,
    private readonly runAs: PgUser | null,
    private readonly state: PgState,
    private readonly log: LogFn,
    private readonly supervise: boolean,
    private readonly hooks: PostmasterHooks,
  ) {
    process.on("exit", this.exitHook);
  }

  /** Spawn and wait until ready. Retries with another port if ours was taken in the meantime. */
  async start(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (this.stopping) return;
      removeStalePidFile(this.l.cluster);
      if (!(await portFree(this.state.port))) await this.movePort("port in use");
      const failure = await this.spawnOnce();
      if (failure === null) return;
      if (attempt < 3 && /could not bind|address already in use/i.test(failure)) {
        await this.movePort("could not bind");
        continue;
      }
      throw new Error(`PostgreSQL failed to start (log: ${this.l.logFile}):\n${failure}`);
    }
  }

  private async movePort(why: string): Promise<void> {
    const old = this.state.port;
    this.state.port = await pickFreePort();
    writeJson(this.l.stateFile, this.state);
    this.log("warn", `embedded PostgreSQL port ${old} unavailable (${why}); using ${this.state.port}`, { port: this.state.port });
  }

  /** Returns null when ready, else the tail of the log. */
  private async spawnOnce(): Promise<string | null> {
    const { fd, offset } = openLog(this.l.logFile);
    const { argv, wrapper } = wrapCommand(
      [
        join(this.bins.dir, "postgres"),
        "-D",
        this.l.cluster,
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        `port=${this.state.port}`,
        "-c",
        "unix_socket_directories=",
        "-c",
        "wal_level=logical",
        "-c",
        "max_replication_slots=20",
        "-c",
        "max_wal_senders=20",
        // After a crash PostgreSQL first fsyncs every file of the cluster one by one (measured: 3 s of
        // a 4 s restart after kill -9 of the postmaster); syncfs flushes the file system in one call.
        "-c",
        "recovery_init_sync_method=syncfs",
      ],
      this.runAs,
    );
    let proc: Bun.Subprocess;
    try {
      // detached (own session): a Ctrl-C in the terminal signals our process group, and postgres
      // must not shut down behind the supervisor's back; our own stop() handles it.
      proc = Bun.spawn(argv, { cwd: "/", env: childEnv(), stdin: "ignore", stdout: fd, stderr: fd, detached: true });
    } finally {
      closeSync(fd);
    }
    this.proc = proc;
    this.exited = false;
    this.pmPid = wrapper === "runuser" ? null : proc.pid; // runuser forks: read the pid from postmaster.pid
    void proc.exited.then(() => this.onExit(proc));
    const ready = await this.waitReady(proc);
    if (!ready) return this.exited ? logTail(this.l.logFile, offset) : null; // not exited: we are stopping
    this.startedAt = Date.now();
    this.hooks.onReady(this.pmPid ?? proc.pid, this.state.port);
    return null;
  }

  /** Poll postmaster.pid's status line (8th) for "ready": cheaper and faster than connecting. */
  private async waitReady(proc: Bun.Subprocess): Promise<boolean> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!this.exited && !this.stopping && this.proc === proc) {
      const lines = readRaw(join(this.l.cluster, "postmaster.pid"))?.split("\n") ?? [];
      const pid = Number(lines[0]);
      if (lines[7]?.trim() === "ready" && (this.pmPid === null ? pidAlive(pid) : pid === this.pmPid)) {
        this.pmPid = pid;
        return true;
      }
      if (Date.now() > deadline) {
        proc.kill("SIGKILL");
        await proc.exited;
        return false;
      }
      await sleep(10);
    }
    return false;
  }

  private onExit(proc: Bun.Subprocess): void {
    if (proc !== this.proc) return;
    this.exited = true;
    if (this.stopping || this.startedAt === 0) return; // stop() in progress, or start() reports it
    const how = proc.signalCode ? `signal ${proc.signalCode}` : `exit code ${proc.exitCode}`;
    if (!this.supervise) {
      this.log("error", `embedded PostgreSQL exited unexpectedly (${how}); not restarting (supervise: false)`);
      return;
    }
    if (Date.now() - this.startedAt > 30_000) this.backoffMs = 0; // it had been healthy: start over
    this.startedAt = 0;
    this.log("warn", `embedded PostgreSQL exited unexpectedly (${how}); restarting in ${this.backoffMs} ms`);
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    const delay = this.backoffMs;
    this.backoffMs = Math.min(Math.max(this.backoffMs * 2, 100), 5_000);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.start().then(
        () => {
          if (!this.stopping) this.log("info", "embedded PostgreSQL restarted", { port: this.state.port });
        },
        (e: unknown) => {
          if (this.stopping) return;
          this.log("error", "restarting embedded PostgreSQL failed; retrying", { error: (e as Error).message });
          this.scheduleRestart();
        },
      );
    }, delay);
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    process.off("exit", this.exitHook);
    const proc = this.proc;
    if (proc && !this.exited) {
      const pm = this.pmPid ?? pidFilePid(this.l.cluster) ?? proc.pid;
      // terminate() polls the pid; the postmaster is our child when spawned via setpriv, and a
      // zombie until reaped counts as gone.
      await terminate(pm, "SIGINT", STOP_GRACE_MS);
      if (pm !== proc.pid) proc.kill("SIGKILL"); // a runuser wrapper
      await within(proc.exited, 5_000);
    }
    this.hooks.onStopped();
    this.log("info", "embedded PostgreSQL stopped");
  }
}

function openLog(file: string): { fd: number; offset: number } {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  try {
    if (statSync(file).size > LOG_ROTATE_BYTES) renameSync(file, `${file}.1`);
  } catch {
    /* no log yet */
  }
  const fd = openSync(file, "a", 0o600);
  return { fd, offset: fstatSync(fd).size };
}

function logTail(file: string, offset: number): string {
  const fd = openSync(file, "r");
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(offset, size - 8192);
    const buf = Buffer.alloc(size - start);
    readSync(fd, buf, 0, buf.length, start);
    return buf.toString("utf8").trim().split("\n").slice(-15).join("\n") || "(no output)";
  } finally {
    closeSync(fd);
  }
}
