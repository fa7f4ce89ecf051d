// `plinth doctor` as an operator runs it: `bun src/main.ts doctor` in a subprocess, against a fresh
// database of the test cluster (through PLINTH_DB_URL) or against the cluster itself (embedded,
// attaching while another process owns it, as during `plinth serve`).
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DEMO_JWT_SECRET } from "../src/config/index.ts";
import { checkBackupAge } from "../src/doctor/backups.ts";
import { checkClock } from "../src/doctor/clock.ts";
import { estimatedBits, WEAK_SECRET_BITS } from "../src/doctor/secrets.ts";
import { checkProxy } from "../src/doctor/settings.ts";
import { migrateUp, USER_MIGRATION_LOCK } from "../src/db/migrations/user.ts";
import { loadConfig } from "../src/config/index.ts";
import { freshDatabase, TEST_DATA_DIR, testCluster } from "./support/db.ts";
import { startSmtpSink } from "./support/smtp-sink.ts";
// @ts-expect-error -- s3rver ships no types
import S3rver from "s3rver";

const MAIN = resolve(import.meta.dir, "../src/main.ts");
const STRONG_SECRET = "Qm9vdHN0cmFwLXNlY3JldC1mb3ItZG9jdG9yLXRlc3RzLTEyMzQ1Njc4OTA";
const CHECK_KEYS = ["fix", "message", "name", "status"];

interface Check {
  name: string;
  status: "ok" | "warn" | "fail";
  message: string;
  fix: string | null;
}

// Started (initdb on a first run) before any test, so no test's time limit pays for it.
await testCluster();

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "plinth-doctor-"));
  chmodSync(dir, 0o755);
  dirs.push(dir);
  return dir;
}

/** A project directory with its data dir created, as after `plinth init`. */
function project(): { cwd: string; dataDir: string } {
  const cwd = tempDir();
  const dataDir = join(cwd, "plinth_data");
  mkdirSync(dataDir, { mode: 0o711 });
  return { cwd, dataDir };
}

async function doctor(args: string[], env: Record<string, string>, cwd: string) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PLINTH_") && k !== "NO_COLOR"));
  const started = performance.now();
  const p = Bun.spawn([process.execPath, MAIN, "doctor", ...args], { cwd, env: { ...clean, ...env }, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err, ms: performance.now() - started };
}

async function doctorJson(env: Record<string, string>, cwd: string) {
  const r = await doctor(["--json"], env, cwd);
  const body = JSON.parse(r.out) as { checks: Check[] };
  const byName = new Map(body.checks.map((c) => [c.name, c]));
  return { ...r, body, checks: body.checks, check: (name: string) => byName.get(name) };
}

function expectWireShape(body: { checks: Check[] }): void {
  expect(Object.keys(body)).toEqual(["checks"]);
  for (const c of body.checks) {
    expect(Object.keys(c).sort()).toEqual(CHECK_KEYS);
    expect(c.name).toMatch(/^[a-z][a-z_]*$/);
    expect(["ok", "warn", "fail"]).toContain(c.status);
    expect(typeof c.message).toBe("string");
    expect(c.fix === null || typeof c.fix === "string").toBe(true);
    if (c.status !== "ok") expect(c.fix).toBeTruthy();
  }
}

/** A TCP port nothing listens on. */
function closedPort(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

describe("plinth doctor", () => {
  test("a healthy development setup: exit 0, every check ok or warn, the database fully checked", async () => {
    const { url, db } = await freshDatabase();
    const { cwd, dataDir } = project();
    const migrations = join(cwd, "plinth_migrations");
    const env = { PLINTH_DB_URL: url, PLINTH_JWT_SECRET: STRONG_SECRET, PLINTH_MIGRATIONS_DIR: migrations };
    const r = await doctorJson(env, cwd);
    expect(r.checks.filter((c) => c.status === "fail")).toEqual([]); // on failure, shows which and why
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    expectWireShape(r.body);
    for (const c of r.checks) expect(["ok", "warn"]).toContain(c.status);
    const names = r.checks.map((c) => c.name);
    for (const n of [
      "config",
      "jwt_secret",
      "production_rules",
      "database",
      "database_version",
      "wal_level",
      "replication",
      "system_migrations",
      "user_migrations",
      "data_dir",
      "storage",
      "clock",
      "proxy",
      "backup_age",
    ]) {
      expect(names).toContain(n);
    }
    expect(r.check("database")!.status).toBe("ok");
    expect(r.check("system_migrations")).toMatchObject({ status: "ok", fix: null });
    expect(r.check("wal_level")!.status).toBe("ok");
    expect(r.check("replication")!.status).toBe("ok");
    expect(r.check("clock")!.message).toContain("agree");
    expect(r.check("data_dir")).toMatchObject({ status: "ok" });
    expect(r.check("backup_age")).toMatchObject({ status: "warn", message: expect.stringContaining("no backup recorded") });
    // The doctor only looks: it created no user-migration bookkeeping.
    expect((await db.sql`select to_regclass('plinth.user_migrations') as t`)[0]!.t).toBeNull();

    // A pending user migration and a recent backup are reported as such.
    mkdirSync(migrations);
    writeFileSync(join(migrations, "20260101000000_posts.up.sql"), "create table posts (id int);\n");
    writeFileSync(join(migrations, "20260101000000_posts.down.sql"), "drop table posts;\n");
    const created = new Date(Date.now() - 3 * 3600 * 1000).toISOString();
    writeFileSync(join(dataDir, "backups.json"), JSON.stringify([{ file: "backups/a.tar.gz", created_at: created }]));
    const again = await doctor([], env, cwd);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/^warn {2}user_migrations +1 pending/m);
    expect(again.out).toContain("fix: run `plinth migrate up`");
    expect(again.out).toMatch(/^ok {4}backup_age +last backup 3 h ago/m);
    expect(again.out).not.toContain("\x1b["); // no colours when stdout is not a terminal
    expect(again.out.trimEnd().split("\n").at(-1)).toMatch(/^\d+ ok, \d+ warnings?, 0 failed$/);

    // Applied, then edited afterwards: drift is reported, not hidden.
    await migrateUp(db.sql, migrations);
    const applied = await doctorJson(env, cwd);
    expect(applied.check("user_migrations")).toMatchObject({ status: "ok", message: expect.stringContaining("1 applied, none pending") });
    writeFileSync(join(migrations, "20260101000000_posts.up.sql"), "create table posts (id bigint);\n");
    const drifted = await doctorJson(env, cwd);
    expect(drifted.code).toBe(0);
    expect(drifted.check("user_migrations")).toMatchObject({
      status: "warn",
      message: expect.stringContaining("changed after they were applied: 20260101000000_posts"),
    });

    // A `plinth migrate` holding the migration lock makes user_migrations a warning, not a hang.
    const holder = await db.sql.reserve();
    try {
      await holder`select pg_advisory_lock(${USER_MIGRATION_LOCK})`;
      const locked = await doctorJson(env, cwd);
      expect(locked.code).toBe(0);
      expect(locked.ms).toBeLessThan(10_000);
      expect(locked.check("user_migrations")).toMatchObject({ status: "warn", message: expect.stringContaining("lock") });
    } finally {
      await holder`select pg_advisory_unlock(${USER_MIGRATION_LOCK})`;
      holder.release();
    }
  }, 60_000);

  test("production with the demo secret or a short one: exit 1, jwt_secret and production_rules failed with a fix", async () => {
    const { url } = await freshDatabase();
    const { cwd } = project();
    for (const secret of [DEMO_JWT_SECRET, "short-secret"]) {
      const r = await doctorJson({ PLINTH_DB_URL: url, PLINTH_ENV: "production", PLINTH_JWT_SECRET: secret, PLINTH_AUTH_AUTOCONFIRM: "true" }, cwd);
      expect(r.code).toBe(1);
      expectWireShape(r.body);
      expect(r.check("jwt_secret")).toMatchObject({ status: "fail", fix: expect.stringContaining("PLINTH_JWT_SECRET") });
      expect(r.check("production_rules")).toMatchObject({ status: "fail", fix: expect.stringContaining("JWT secret") });
      expect(r.out).not.toContain(secret); // never echoes the secret
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(r.err).toContain("jwt_secret");
    }
    const text = await doctor([], { PLINTH_DB_URL: url, PLINTH_ENV: "production", PLINTH_JWT_SECRET: "short-secret" }, cwd);
    expect(text.code).toBe(1);
    expect(text.out).toMatch(/^FAIL {2}jwt_secret +the JWT secret is only 12 characters/m);
    expect(text.out).toMatch(/^ +fix: set PLINTH_JWT_SECRET/m);
  });

  test("an unreachable database: exit 1 within seconds, database failed, the dependent checks left out", async () => {
    const { cwd } = project();
    const r = await doctorJson({ PLINTH_DB_URL: `postgres://plinth:secret-pw@127.0.0.1:${closedPort()}/app`, PLINTH_JWT_SECRET: STRONG_SECRET }, cwd);
    expect(r.code).toBe(1);
    expect(r.ms).toBeLessThan(8_000);
    expectWireShape(r.body);
    expect(r.check("database")).toMatchObject({ status: "fail", fix: expect.stringContaining("PLINTH_DB_URL") });
    expect(r.check("database")!.message).toContain("ECONNREFUSED");
    expect(r.out).not.toContain("secret-pw");
    expect(r.check("wal_level")).toBeUndefined();
    expect(r.check("system_migrations")).toBeUndefined();
    expect(r.check("clock")!.status).toBe("ok"); // still judged on its own
    expect(r.check("data_dir")!.status).toBe("ok");
  });

  test("a broken plinth.yaml is the failed config check, not a crash", async () => {
    const { cwd } = project();
    writeFileSync(join(cwd, "plinth.yaml"), "host: 127.0.0.1\nport: not-a-port\n");
    const r = await doctorJson({}, cwd);
    expect(r.code).toBe(1);
    expectWireShape(r.body);
    expect(r.checks).toHaveLength(1);
    expect(r.check("config")).toMatchObject({ status: "fail", message: expect.stringContaining("plinth.yaml:2") });
    expect(r.err).not.toContain("at "); // no stack trace
    const text = await doctor([], {}, cwd);
    expect(text.code).toBe(1);
    expect(text.out).toMatch(/^FAIL {2}config +plinth\.yaml:2/m);
  });

  test("an unusable data dir fails data_dir (and the local storage under it)", async () => {
    const { url } = await freshDatabase();
    const { cwd } = project();
    // Root writes through any mode bits, so a data dir that is a file stands for "not writable" here.
    const notADir = join(cwd, "data-file");
    writeFileSync(notADir, "");
    const r = await doctorJson({ PLINTH_DB_URL: url, PLINTH_JWT_SECRET: STRONG_SECRET, PLINTH_DATA_DIR: notADir }, cwd);
    expect(r.code).toBe(1);
    expect(r.check("data_dir")).toMatchObject({ status: "fail", message: expect.stringContaining("not a directory") });
    expect(r.check("storage")!.status).toBe("fail");
    if (process.getuid?.() !== 0) {
      const locked = join(cwd, "locked");
      mkdirSync(locked, { mode: 0o500 });
      const l = await doctorJson({ PLINTH_DB_URL: url, PLINTH_JWT_SECRET: STRONG_SECRET, PLINTH_DATA_DIR: locked }, cwd);
      expect(l.check("data_dir")).toMatchObject({ status: "fail", message: expect.stringContaining("not writable") });
    }
  });

  test("embedded: attaches to the data dir's running PostgreSQL and reports, without migrating, a database `serve` never started on", async () => {
    const { admin } = await testCluster(); // this process owns the cluster, as `serve` would
    // Other test files attach to the same cluster with `plinth migrate`/`admin`, which migrate its
    // `postgres` database: start it afresh, as the cluster's first start does.
    await admin.unsafe(`drop database if exists postgres with (force)`);
    await admin.unsafe(`create database postgres`);
    const { cwd } = project();
    const r = await doctorJson({ PLINTH_DATA_DIR: TEST_DATA_DIR, PLINTH_JWT_SECRET: STRONG_SECRET }, cwd);
    expect(r.check("database")).toMatchObject({ status: "ok", message: expect.stringContaining("shared with a running server") });
    expect(r.check("system_migrations")).toMatchObject({ status: "fail", fix: expect.stringContaining("plinth serve") });
    expect(r.code).toBe(1);
    const [row] = await admin`select count(*)::int as n from pg_database where datname = 'postgres'`;
    expect(row!.n).toBe(1);
  });

  test("smtp: a server that answers is ok (warn without smtp.from); a closed port fails", async () => {
    const { url } = await freshDatabase();
    const { cwd } = project();
    const sink = await startSmtpSink();
    try {
      const base = { PLINTH_DB_URL: url, PLINTH_JWT_SECRET: STRONG_SECRET, PLINTH_SMTP_HOST: "127.0.0.1" };
      const up = await doctorJson({ ...base, PLINTH_SMTP_PORT: String(sink.port), PLINTH_SMTP_FROM: "no-reply@example.com" }, cwd);
      expect(up.check("smtp")).toMatchObject({ status: "ok", fix: null });
      const noFrom = await doctorJson({ ...base, PLINTH_SMTP_PORT: String(sink.port) }, cwd);
      expect(noFrom.check("smtp")).toMatchObject({ status: "warn", fix: expect.stringContaining("smtp.from") });
      expect(sink.messages).toHaveLength(0); // verified, nothing sent
      const down = await doctorJson({ ...base, PLINTH_SMTP_PORT: String(closedPort()) }, cwd);
      expect(down.code).toBe(1);
      expect(down.check("smtp")!.status).toBe("fail");
    } finally {
      await sink.stop();
    }
  });

  test("storage on S3: a bucket that answers is ok; a missing bucket fails", async () => {
    const { url } = await freshDatabase();
    const { cwd } = project();
    const s3dir = tempDir();
    const s3 = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: s3dir, configureBuckets: [{ name: "plinth" }] });
    const { port } = (await s3.run()) as { port: number };
    try {
      const env = (bucket: string) => ({
        PLINTH_DB_URL: url,
        PLINTH_JWT_SECRET: STRONG_SECRET,
        PLINTH_STORAGE_BACKEND: "s3",
        PLINTH_STORAGE_S3_ENDPOINT: `http://127.0.0.1:${port}`,
        PLINTH_STORAGE_S3_BUCKET: bucket,
        PLINTH_STORAGE_S3_ACCESS_KEY_ID: "S3RVER",
        PLINTH_STORAGE_S3_SECRET_ACCESS_KEY: "S3RVER",
      });
      expect((await doctorJson(env("plinth"), cwd)).check("storage")).toMatchObject({ status: "ok", message: expect.stringContaining("S3 bucket plinth") });
      const missing = await doctorJson(env("no-such-bucket"), cwd);
      expect(missing.code).toBe(1);
      expect(missing.check("storage")).toMatchObject({ status: "fail", fix: expect.stringContaining("PLINTH_STORAGE_S3_") });
    } finally {
      await s3.close();
    }
  });

  test("wrong usage exits 2 with a one-line reason; --help exits 0", async () => {
    const { cwd } = project();
    for (const args of [["--nope"], ["extra"], ["--json=yes"]]) {
      const r = await doctor(args, {}, cwd);
      expect(r.code).toBe(2);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(r.out).toBe("");
    }
    const help = await doctor(["--help"], {}, cwd);
    expect(help.code).toBe(0);
    expect(help.out).toContain("plinth doctor [--json]");
  });
});

describe("doctor checks (in-process)", () => {
  test("secret entropy: random secrets pass, repeated or patterned ones are weak", () => {
    expect(estimatedBits(STRONG_SECRET)).toBeGreaterThan(WEAK_SECRET_BITS);
    expect(estimatedBits("9f86d081884c7d659a2feaa0c55ad015")).toBeGreaterThan(WEAK_SECRET_BITS); // 32 hex digits: 128 bits
    expect(estimatedBits("a".repeat(64))).toBe(0);
    expect(estimatedBits("correct-horse-".repeat(4))).toBeLessThan(WEAK_SECRET_BITS);
    expect(estimatedBits("abcdefgh".repeat(4))).toBe(24);
  });

  test("clock: skew beyond a few seconds warns, an impossible local clock fails", () => {
    const now = Date.parse("2026-06-01T00:00:00Z");
    expect(checkClock({ databaseMs: now + 500, sentMs: now, receivedMs: now + 10 }, now).status).toBe("ok");
    expect(checkClock({ databaseMs: now + 30_000, sentMs: now, receivedMs: now + 10 }, now)).toMatchObject({
      status: "warn",
      message: expect.stringContaining("ahead"),
    });
    expect(checkClock(null, Date.parse("1970-01-02T00:00:00Z")).status).toBe("fail");
  });

  test("backup_age reads <dataDir>/backups.json: the newest entry counts; stale or unreadable warns", () => {
    const dataDir = tempDir();
    const loaded = loadConfig({ cwd: dataDir, env: { PLINTH_DATA_DIR: dataDir } });
    const now = new Date("2026-06-10T00:00:00Z");
    const write = (v: unknown) => writeFileSync(join(dataDir, "backups.json"), JSON.stringify(v));
    write([
      { file: "/b/old.tar.gz", created_at: "2026-05-01T00:00:00Z" },
      { file: "/b/new.tar.gz", created_at: "2026-06-09T12:00:00Z" },
    ]);
    expect(checkBackupAge(loaded, now)).toMatchObject({ status: "ok", message: expect.stringContaining("/b/new.tar.gz") });
    write([{ file: "/b/old.tar.gz", created_at: "2026-05-01T00:00:00Z" }]);
    expect(checkBackupAge(loaded, now)).toMatchObject({ status: "warn", message: expect.stringContaining("40 days") });
    writeFileSync(join(dataDir, "backups.json"), "{not json");
    expect(checkBackupAge(loaded, now).status).toBe("warn");
  });

  test("proxy: trustProxy on a public interface warns; behind https without trustProxy in production warns", () => {
    const at = (env: Record<string, string>) => checkProxy(loadConfig({ cwd: tempDir(), env }));
    expect(at({ PLINTH_TRUST_PROXY: "true" }).status).toBe("ok"); // 127.0.0.1: the proxy is local
    expect(at({ PLINTH_TRUST_PROXY: "true", PLINTH_HOST: "0.0.0.0" })).toMatchObject({ status: "warn", message: expect.stringContaining("X-Forwarded-For") });
    expect(at({ PLINTH_ENV: "production", PLINTH_HOST: "0.0.0.0", PLINTH_PUBLIC_URL: "https://api.example.com" }).status).toBe("warn");
    expect(at({ PLINTH_ENV: "production", PLINTH_HOST: "0.0.0.0" }).status).toBe("ok");
  });
});
