// Backups through the admin API (/admin/v1/backups) taken by the serving process itself: the app
// here runs the way `serve` does with the embedded PostgreSQL (no db.url; the data dir is the test
// cluster's, which this very process owns, so takeBackup attaches to it as it would inside serve).
// A gzipped backup is taken, its progress read, downloaded and read back with the restore's own
// reader; a second start while one runs is refused; a running backup (paced with max_rate, so the
// cancel lands mid-copy whatever the machine's speed) is cancelled: no partial file, no backup
// session, no slot left in PostgreSQL. With a db.url (PLINTH_DB_URL) only files and configuration
// are archived. Only system_admin (and the service key) may; polls of the progress are folded in
// the audit log.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { grantAdmin } from "../src/admin/accounts/accounts.ts";
import { cliActor, type AdminLevel } from "../src/admin/authorize.ts";
import { createAdminService } from "../src/admin/service.ts";
import { createApp } from "../src/app.ts";
import { readArchive } from "../src/backup/archive-reader.ts";
import { silentProgress } from "../src/backup/progress.ts";
import { BACKUP_RECORD_FILE } from "../src/backup/record.ts";
import { apiKeys } from "../src/lib/jwt.ts";
import { createLogger } from "../src/log.ts";
import { adminApp, PASSWORD, uniqueEmail } from "./support/admin.ts";
import { testConfig, TEST_SECRET } from "./support/app.ts";
import { freshDatabase, testCluster, TEST_DATA_DIR } from "./support/db.ts";

const database = await freshDatabase();
const { admin: superuser } = await testCluster();
const scratch = await mkdtemp(join(tmpdir(), "plinth-admin-backups-"));
const configFile = join(scratch, "plinth.yaml");
await writeFile(configFile, "log:\n  level: warn\n", { mode: 0o600 });
const backupsDir = join(TEST_DATA_DIR, "backups");
const hadRecord = existsSync(join(TEST_DATA_DIR, BACKUP_RECORD_FILE));
const before = new Set(existsSync(backupsDir) ? await readdir(backupsDir) : []);

// As `serve` runs on the embedded server: no db.url in the configuration, the pool on its database.
const config = testConfig({ dataDir: TEST_DATA_DIR, rateLimit: { enabled: false } });
const log = createLogger(process.env.PLINTH_TEST_LOG ? "debug" : "silent");
const admin = await createAdminService({ config, db: database.db, log, jwtSecret: TEST_SECRET, dbUrl: database.url, configFile });
const app = createApp({ config, db: database.db, log, jwtSecret: TEST_SECRET, services: [admin], databaseLabel: "test" });
const keys = await apiKeys(TEST_SECRET);
const service = { token: keys.service_role, apikey: keys.service_role };

afterAll(async () => {
  await app.stop(); // cancels a backup still running
  // Only what this file made: archives it wrote, and the record if it was not there before.
  for (const name of existsSync(backupsDir) ? await readdir(backupsDir) : []) if (!before.has(name)) await rm(join(backupsDir, name), { force: true });
  if (!hadRecord) await rm(join(TEST_DATA_DIR, BACKUP_RECORD_FILE), { force: true });
  await rm(scratch, { recursive: true, force: true });
});

interface Opts {
  token?: string;
  apikey?: string;
}

async function call(method: string, path: string, body?: unknown, opts: Opts = service): Promise<{ status: number; body: any; res: Response }> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.apikey) headers.apikey = opts.apikey;
  const res = await app.fetch(
    new Request(`http://localhost/admin/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }),
    { requestIP: () => ({ address: "127.0.0.1", family: "IPv4", port: 1 }) },
  );
  const json = (res.headers.get("content-type") ?? "").includes("json");
  return { status: res.status, body: json ? await res.json() : null, res };
}

async function signedIn(level: AdminLevel): Promise<Opts> {
  const email = uniqueEmail(`backups-${level}`);
  await grantAdmin(database.db.sql, config, cliActor("test"), {
    user: { email },
    level,
    password: PASSWORD,
    existingPassword: "set",
    expect: "any",
  });
  const r = await call("POST", "/auth/login", { email, password: PASSWORD }, {});
  expect(r.status).toBe(200);
  return { token: r.body.session_token };
}

/** Polls the progress until `done` holds (a condition with a deadline, not a guess at timing). */
async function until(done: (job: any) => boolean, opts: Opts = service, timeoutMs = 60_000): Promise<any> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await call("GET", "/backups/current", undefined, opts);
    expect(r.status).toBe(200);
    if (done(r.body)) return r.body;
    if (Date.now() > end) throw new Error(`backup job never got there: ${JSON.stringify(r.body)}`);
    await Bun.sleep(20);
  }
}

/** The cluster-wide signs of a backup session: its temporary slot and its connection. */
async function backupSessions(): Promise<{ slots: number; sessions: number }> {
  const [r] = await superuser<{ slots: number; sessions: number }[]>`
    select (select count(*)::int from pg_replication_slots where slot_name like 'plinth\\_backup\\_%') as slots,
           (select count(*)::int from pg_stat_activity where application_name = 'plinth backup') as sessions`;
  return r!;
}

describe("backups taken by the server", () => {
  let archiveName = "";

  test("a gzipped backup: 202 with the job, progress to done, listed, downloaded (streamed) and a valid archive", async () => {
    const started = await call("POST", "/backups", { gzip: true });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({
      id: expect.any(String),
      state: "running",
      gzip: true,
      bytes_done: expect.any(Number),
      bytes_total: expect.any(Number),
    });
    expect(started.body.file).toMatch(/^plinth-backup-\d{8}-\d{6}(-\d+)?\.tar\.gz$/);
    expect(Date.parse(started.body.started_at)).not.toBeNaN();
    archiveName = started.body.file;

    const job = await until((j) => j.state !== "running");
    expect(job).toMatchObject({ id: started.body.id, file: archiveName, state: "done", phase: "finishing", error: null, finished_at: expect.any(String) });
    expect(job.bytes_total).toBeGreaterThan(1_000_000);
    expect(job.bytes_done).toBe(job.bytes_total);
    expect(job.size).toBeGreaterThan(0);

    const list = await call("GET", "/backups");
    expect(list.status).toBe(200);
    expect(list.body.current).toBeNull();
    const entry = list.body.backups.find((b: any) => b.name === archiveName);
    expect(entry).toEqual({ name: archiveName, size: job.size, created_at: expect.any(String) });
    expect((await stat(join(backupsDir, archiveName))).mode & 0o777).toBe(0o600);
    expect((await readdir(backupsDir)).filter((n) => n.endsWith(".partial"))).toEqual([]);

    const download = await call("GET", `/backups/${archiveName}`);
    expect(download.status).toBe(200);
    expect(download.res.headers.get("content-type")).toBe("application/gzip");
    expect(download.res.headers.get("content-disposition")).toBe(`attachment; filename="${archiveName}"`);
    const copy = join(scratch, "downloaded.tar.gz");
    await Bun.write(copy, download.res); // streamed to disk, chunk by chunk
    expect((await stat(copy)).size).toBe(job.size);

    // The restore's own reader: every entry checked against the manifest's sizes and checksums.
    const staging = join(scratch, "staging");
    const { manifest, memory } = await readArchive(
      copy,
      async (path) => (path.startsWith("pg/") || path === "pg" ? { to: "disk", path: join(staging, path) } : { to: "memory" }),
      silentProgress,
    );
    expect(manifest.database).toBe("embedded");
    expect(manifest.config_file).toBe(configFile);
    expect(memory.get("config/plinth.yaml")?.toString()).toBe("log:\n  level: warn\n");
    expect(memory.has("data/pg.json")).toBe(true);
    const paths = manifest.files.map((f) => f.path);
    expect(paths).toContain("pg/PG_VERSION");
    expect(paths).toContain("pg/backup_label");
    expect(paths.some((p) => /^pg\/pg_wal\/[0-9A-F]{24}$/.test(p))).toBe(true);
    expect(manifest.postgres?.stop_lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(existsSync(join(staging, "pg", "PG_VERSION"))).toBe(true);
    await rm(staging, { recursive: true, force: true });
    // The session and the slot are gone once the backup is done.
    expect(await backupSessions()).toEqual({ slots: 0, sessions: 0 });
  });

  test("a running backup: a second start is 409, the progress shows the phase, a cancel ends it with nothing left behind", async () => {
    // Paced at 1 MiB/s: the cluster is tens of MiB, so the copy runs for many seconds unless cancelled.
    const started = await call("POST", "/backups", { max_rate: 1024 * 1024 });
    expect(started.status).toBe(202);
    expect(started.body.max_rate).toBe(1024 * 1024);
    const second = await call("POST", "/backups", { gzip: true });
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ code: "backup_in_progress", message: expect.stringContaining(started.body.file) });

    // The cluster's size is known (so the PostgreSQL backup has started) and its copy is under way.
    const running = await until((j) => j.phase === "database" && j.bytes_total > 1_000_000 && j.bytes_done > 0);
    expect(running.state).toBe("running");
    expect(running.bytes_total).toBeGreaterThan(running.bytes_done);
    expect(await backupSessions()).toEqual({ slots: 1, sessions: 1 });
    const listed = await call("GET", "/backups");
    expect(listed.body.current).toMatchObject({ id: started.body.id, state: "running" });
    expect(listed.body.backups.map((b: any) => b.name)).not.toContain(started.body.file);

    const t0 = performance.now();
    const cancelled = await call("DELETE", "/backups/current");
    expect(cancelled.status).toBe(200);
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(cancelled.body).toMatchObject({
      id: started.body.id,
      state: "cancelled",
      error: { code: "backup_cancelled", message: expect.any(String) },
      finished_at: expect.any(String),
    });
    expect(cancelled.body.bytes_done).toBeLessThan(cancelled.body.bytes_total);
    // No archive and no partial file; PostgreSQL's backup session and its slot are gone.
    const left = await readdir(backupsDir);
    expect(left.filter((n) => n.startsWith(started.body.file))).toEqual([]);
    const end = Date.now() + 5_000;
    while (Date.now() < end && (await backupSessions()).sessions > 0) await Bun.sleep(20); // the backend exits after the client left
    expect(await backupSessions()).toEqual({ slots: 0, sessions: 0 });
    // The job stays readable as cancelled; a second cancel has nothing to cancel.
    expect((await call("GET", "/backups/current")).body.state).toBe("cancelled");
    expect(await call("DELETE", "/backups/current")).toMatchObject({ status: 404, body: { code: "backup_not_running" } });
    // And a new backup may start (here cancelled at once by its id).
    const again = await call("POST", "/backups", { max_rate: 32 * 1024 });
    expect(again.status).toBe(202);
    const byId = await call("DELETE", `/backups/${again.body.id}`);
    expect(byId.body).toMatchObject({ id: again.body.id, state: "cancelled" });
  });

  test("delete: the archive goes; a second delete and a download are 404", async () => {
    expect((await call("DELETE", `/backups/${archiveName}`)).status).toBe(204);
    expect(existsSync(join(backupsDir, archiveName))).toBe(false);
    expect(await call("DELETE", `/backups/${archiveName}`)).toMatchObject({ status: 404, body: { code: "backup_not_found" } });
    expect(await call("GET", `/backups/${archiveName}`)).toMatchObject({ status: 404, body: { code: "backup_not_found" } });
    expect((await call("GET", "/backups")).body.backups.map((b: any) => b.name)).not.toContain(archiveName);
  });

  test("bad bodies are 400 with a code, and start nothing", async () => {
    for (const body of [{ gzip: "yes" }, { max_rate: 10 }, { max_rate: 1.5 }, { extra: true }, [1]]) {
      const r = await call("POST", "/backups", body);
      expect({ body, status: r.status, code: r.body.code }).toEqual({ body, status: 400, code: "validation_failed" });
    }
    expect((await call("GET", "/backups")).body.current).toBeNull();
  });

  test("only a system_admin (or the service key): an admin, a moderator and a viewer are refused", async () => {
    for (const level of ["admin", "moderator", "viewer"] as const) {
      const opts = await signedIn(level);
      for (const [method, path] of [
        ["POST", "/backups"],
        ["GET", "/backups"],
        ["GET", "/backups/current"],
        ["DELETE", "/backups/current"],
      ] as const) {
        const r = await call(method, path, method === "POST" ? {} : undefined, opts);
        expect({ level, path, status: r.status, code: r.body.code }).toEqual({ level, path, status: 403, code: "forbidden" });
      }
    }
    expect((await call("GET", "/backups", undefined, {})).status).toBe(401);
    const sys = await signedIn("system_admin");
    expect((await call("GET", "/backups", undefined, sys)).status).toBe(200);
  });

  test("progress polls are audited once per identity and window; the start and cancel every time", async () => {
    const sys = await signedIn("system_admin");
    for (let i = 0; i < 10; i++) expect((await call("GET", "/backups/current", undefined, sys)).status).toBe(200);
    const session = (await call("GET", "/auth/session", undefined, sys)).body.session_id;
    const rows = await database.db.sql<{ action: string; n: number }[]>`
      select action, count(*)::int as n from plinth.audit_log where session_id = ${session} and action like 'backups.%' group by action`;
    expect([...rows]).toEqual([{ action: "backups.progress", n: 1 }]);
    const [starts] = await database.db.sql<{ n: number }[]>`
      select count(*)::int as n from plinth.audit_log where action in ('backups.create', 'backups.cancel') and actor_kind = 'service_key'`;
    expect(starts!.n).toBeGreaterThanOrEqual(6); // 3 starts + a 409 + 2 cancels in the tests above (+ 5 refused bodies)
  });
});

describe("with PLINTH_DB_URL (the operator's database)", () => {
  test("the archive holds the data dir's files and no cluster, and says why", async () => {
    const dataDir = join(scratch, "external");
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, "jwt_secret"), "x".repeat(40), { mode: 0o600 });
    const t = await adminApp({ dataDir });
    const svc = { token: t.keys.service_role, apikey: t.keys.service_role };
    const r = await t.call("POST", "/backups", {}, svc);
    expect(r.status).toBe(202);
    let job: any;
    for (const end = Date.now() + 30_000; Date.now() < end; await Bun.sleep(20)) {
      job = (await t.call("GET", "/backups/current", undefined, svc)).body;
      if (job.state !== "running") break;
    }
    expect(job.state).toBe("done");
    expect(job.notices.join("\n")).toContain("PLINTH_DB_URL");
    const { manifest, memory } = await readArchive(join(dataDir, "backups", job.file), async () => ({ to: "memory" }), silentProgress);
    expect(manifest.database).toBe("external");
    expect(manifest.postgres).toBeNull();
    expect(manifest.files.some((f) => f.path.startsWith("pg/"))).toBe(false);
    expect(memory.get("data/jwt_secret")?.toString()).toBe("x".repeat(40));
    expect(memory.has("data/pg.json")).toBe(false);
  });
});
