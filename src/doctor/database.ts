// database, database_version, wal_level, replication, system_migrations, user_migrations and the
// database half of clock: one connection to the database `serve` uses, opened the way `plinth
// migrate` opens it (embedded in the data dir, attaching to a running `serve`, or PLINTH_DB_URL).
//
// Traps:
// - The doctor only looks. It opens the database without applying system migrations, and does not
//   create an embedded cluster that does not exist yet (initdb is `serve`'s job).
// - Every wait is bounded: an unreachable server is a failed `database` check after a few seconds,
//   and the checks that need the database are then left out rather than failed a second time.
// - `migrationStatus` waits for the user-migration lock; a `plinth migrate up` in progress must not
//   hang the doctor. A client-side timeout is not enough: postgres.js reconnects a reserved
//   connection that is used after the pool was ended (measured: the process never exited), so the
//   status is read on its own one-connection pool whose session has lock_timeout set, and the
//   server itself gives up waiting.
import { lstatSync } from "node:fs";
import { join } from "node:path";
import type { LoadedConfig } from "../config/index.ts";
import { maskUrl, openDatabase, type OpenedDatabase } from "../db/open.ts";
import { connect, type Sql } from "../db/pool.ts";
import { checksum } from "../db/migrations/system.ts";
import { MigrationError, migrationStatus, readMigrationDir } from "../db/migrations/user.ts";
import { createLogger } from "../log.ts";
import { systemMigrations } from "../../migrations/index.ts";
import { checkClock, type ClockSample } from "./clock.ts";
import { fail, guarded, messageOf, ok, warn, within, type CheckResult } from "./check.ts";

/** A query, or connecting through a URL, may take this long. */
export const QUERY_TIMEOUT_MS = 5_000;
/** Starting (or attaching to) the embedded server may take this long: a cold start runs recovery. */
const EMBEDDED_START_TIMEOUT_MS = 60_000;
/** How long reading user migrations waits for a running `plinth migrate` to release its lock. */
const MIGRATION_LOCK_WAIT_MS = 3_000;
/** SQLSTATE lock_not_available: lock_timeout expired. */
const LOCK_NOT_AVAILABLE = "55P03";
/** The oldest major version Plinth is tested on. */
export const TESTED_MAJOR = 15;

interface ServerFacts {
  version: string;
  versionNum: number;
  role: string;
  database: string;
  walLevel: string;
  maxSlots: number;
  maxSenders: number;
  usedSlots: number;
  superuser: boolean;
  replication: boolean;
}

/** Every database check, plus `clock` (which falls back to a local-only check without a database). */
export async function checkDatabase(loaded: LoadedConfig): Promise<CheckResult[]> {
  const { config } = loaded;
  if (!config.db.url && !embeddedClusterExists(config.dataDir)) {
    return [
      warn(
        "database",
        `the embedded PostgreSQL has not been created yet (no ${join(config.dataDir, "pg")})`,
        "start `plinth serve` once: it creates the database in the data dir; or set PLINTH_DB_URL to use your own PostgreSQL",
      ),
      checkClock(null),
    ];
  }
  const opened = await open(loaded);
  if ("failed" in opened) return [opened.failed, checkClock(null)];
  const { database, facts, connectMs } = opened;
  try {
    const sql = database.db.sql;
    return [
      ok("database", `connected to ${database.label} as ${facts.role}, database ${facts.database}, in ${connectMs} ms`),
      checkVersion(facts),
      checkWalLevel(facts),
      checkReplication(facts),
      ...(await guarded("system_migrations", () => checkSystemMigrations(sql))),
      ...(await guarded("user_migrations", () => checkUserMigrations(sql, database.url, config.migrationsDir))),
      ...(await guarded("clock", async () => checkClock(await sampleClock(sql)))),
    ];
  } finally {
    await within(QUERY_TIMEOUT_MS * 3, "closing the database", database.close()).catch(() => {});
  }
}

function embeddedClusterExists(dataDir: string): boolean {
  try {
    lstatSync(join(dataDir, "pg")); // a directory, or a symlink to the relocated cluster
    return true;
  } catch {
    return false;
  }
}

async function open(loaded: LoadedConfig): Promise<{ database: OpenedDatabase; facts: ServerFacts; connectMs: number } | { failed: CheckResult }> {
  const { config } = loaded;
  const target = config.db.url ? maskUrl(config.db.url) : `the embedded PostgreSQL in ${join(config.dataDir, "pg")}`;
  const started = performance.now();
  // Silent: supervisor log lines would clutter the report; what matters ends up in the check.
  const pending = openDatabase(config, createLogger("silent"), { migrate: false, poolMax: 2 });
  let database: OpenedDatabase;
  try {
    database = await within(config.db.url ? QUERY_TIMEOUT_MS : EMBEDDED_START_TIMEOUT_MS, "PostgreSQL", pending);
  } catch (err) {
    pending.then(
      (late) => late.close(),
      () => {},
    ); // if it opens after all, stop what we started
    return { failed: unreachable(loaded, target, err) };
  }
  try {
    const facts = await within(QUERY_TIMEOUT_MS, "PostgreSQL", readFacts(database.db.sql));
    return { database, facts, connectMs: Math.round(performance.now() - started) };
  } catch (err) {
    await database.db.close(0).catch(() => {}); // nothing worth waiting for on a connection that failed
    await database.embedded?.stop().catch(() => {});
    return { failed: unreachable(loaded, target, err) };
  }
}

function unreachable({ config }: LoadedConfig, target: string, err: unknown): CheckResult {
  const code = (err as { code?: unknown } | null)?.code;
  const why = `cannot reach ${target}: ${messageOf(err)}${typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? ` (SQLSTATE ${code})` : ""}`;
  let fix: string;
  if (!config.db.url) {
    fix = `see ${join(config.dataDir, "logs", "postgres.log")}; \`plinth serve\` in the foreground prints why the embedded PostgreSQL does not start`;
  } else if (code === "28P01" || code === "28000") {
    fix = "the user or password in PLINTH_DB_URL (db.url) is wrong, or pg_hba.conf does not admit this client";
  } else if (code === "3D000") {
    fix = "the database named in PLINTH_DB_URL does not exist: create it (createdb) or correct the URL";
  } else {
    fix = "check that PostgreSQL is running and reachable from this machine at the host and port in PLINTH_DB_URL (db.url), and that the URL is right";
  }
  return fail("database", why, fix);
}

async function readFacts(sql: Sql): Promise<ServerFacts> {
  const [row] = await sql<
    {
      version: string;
      version_num: number;
      role: string;
      database: string;
      wal_level: string;
      max_slots: number;
      max_senders: number;
      used_slots: number;
      superuser: boolean;
      replication: boolean;
    }[]
  >`
    select current_setting('server_version') as version,
           current_setting('server_version_num')::int as version_num,
           current_user::text as role,
           current_database()::text as database,
           current_setting('wal_level') as wal_level,
           current_setting('max_replication_slots')::int as max_slots,
           current_setting('max_wal_senders')::int as max_senders,
           (select count(*)::int from pg_replication_slots) as used_slots,
           r.rolsuper as superuser,
           r.rolreplication as replication
      from pg_roles r
     where r.rolname = current_user`;
  if (!row) throw new Error("the connecting role is not in pg_roles");
  return {
    version: row.version,
    versionNum: row.version_num,
    role: row.role,
    database: row.database,
    walLevel: row.wal_level,
    maxSlots: row.max_slots,
    maxSenders: row.max_senders,
    usedSlots: row.used_slots,
    superuser: row.superuser,
    replication: row.replication,
  };
}

function checkVersion(f: ServerFacts): CheckResult {
  const major = Math.floor(f.versionNum / 10_000);
  if (major < TESTED_MAJOR) {
    return warn(
      "database_version",
      `PostgreSQL ${f.version}: Plinth is built and tested for ${TESTED_MAJOR} and later`,
      `upgrade PostgreSQL to ${TESTED_MAJOR} or later (pg_upgrade, or a dump and restore)`,
    );
  }
  return ok("database_version", `PostgreSQL ${f.version}`);
}

const RESTART = "then restart PostgreSQL (these settings take effect only at server start)";

function checkWalLevel(f: ServerFacts): CheckResult {
  if (f.walLevel !== "logical") {
    return fail(
      "wal_level",
      `wal_level is ${f.walLevel}: realtime cannot stream database changes (postgres_changes), which needs logical`,
      `run ALTER SYSTEM SET wal_level = logical as a superuser (or set it in postgresql.conf), ${RESTART}`,
    );
  }
  if (f.maxSlots === 0 || f.maxSenders === 0) {
    return fail(
      "wal_level",
      `wal_level is logical, but max_replication_slots is ${f.maxSlots} and max_wal_senders ${f.maxSenders}: realtime needs one of each per Plinth node`,
      `set both to at least 10 (ALTER SYSTEM SET …), ${RESTART}`,
    );
  }
  const free = f.maxSlots - f.usedSlots;
  const slots = `${f.usedSlots} of ${f.maxSlots} replication slots in use`;
  if (free <= 0) {
    return warn(
      "wal_level",
      `wal_level is logical, but all ${f.maxSlots} replication slots are taken: a Plinth node that starts now gets no realtime changes`,
      `drop unused slots (SELECT slot_name, active FROM pg_replication_slots) or raise max_replication_slots, ${RESTART}`,
    );
  }
  return ok("wal_level", `wal_level is logical, ${slots}`);
}

function checkReplication(f: ServerFacts): CheckResult {
  if (f.superuser) return ok("replication", `role ${f.role} is a superuser`);
  if (f.replication) return ok("replication", `role ${f.role} has REPLICATION`);
  return fail(
    "replication",
    `role ${f.role} has neither REPLICATION nor superuser: realtime cannot open its replication stream`,
    `as a superuser run: ALTER ROLE "${f.role}" WITH REPLICATION`,
  );
}

const label = (version: number, name: string) => `${String(version).padStart(4, "0")}_${name}`;

async function checkSystemMigrations(sql: Sql): Promise<CheckResult> {
  const [table] = await within(
    QUERY_TIMEOUT_MS,
    "PostgreSQL",
    sql<{ present: boolean }[]>`select to_regclass('plinth.system_migrations') is not null as present`,
  );
  if (!table?.present) {
    return fail(
      "system_migrations",
      "this database has no Plinth schema: `plinth serve` has never started on it",
      "start `plinth serve` once (it applies the system migrations before serving); with PLINTH_DB_URL, check the URL names the right database",
    );
  }
  const rows = await within(
    QUERY_TIMEOUT_MS,
    "PostgreSQL",
    sql<{ version: number; name: string; checksum: string }[]>`
    select version, name, checksum from plinth.system_migrations order by version`,
  );
  const known = new Map(systemMigrations.map((m) => [m.version, m]));
  const applied = new Set(rows.map((r) => r.version));
  const changed = rows.filter((r) => known.has(r.version) && checksum(known.get(r.version)!.sql) !== r.checksum);
  const newer = rows.filter((r) => !known.has(r.version));
  const pending = systemMigrations.filter((m) => !applied.has(m.version));
  const list = (ms: { version: number; name: string }[]) => ms.map((m) => label(m.version, m.name)).join(", ");
  if (changed.length > 0) {
    return fail(
      "system_migrations",
      `applied system migrations differ from this Plinth's (${list(changed)}): \`plinth serve\` refuses to start`,
      "run the Plinth version that migrated this database, or restore it from a backup; applied system migrations never change",
    );
  }
  if (newer.length > 0) {
    return warn(
      "system_migrations",
      `the database was migrated by a newer Plinth (${list(newer)} are unknown to this one)`,
      "run the newest plinth binary against this database",
    );
  }
  if (pending.length > 0) {
    return warn(
      "system_migrations",
      `${pending.length} system migration(s) not applied yet: ${list(pending)}`,
      "restart `plinth serve` with this version: it applies them before serving",
    );
  }
  return ok("system_migrations", `all ${rows.length} applied, checksums match`);
}

async function checkUserMigrations(sql: Sql, url: string, dir: string): Promise<CheckResult> {
  try {
    const [table] = await within(
      QUERY_TIMEOUT_MS,
      "PostgreSQL",
      sql<{ present: boolean }[]>`select to_regclass('plinth.user_migrations') is not null as present`,
    );
    if (!table?.present) {
      // Never migrated: say what is waiting without creating the bookkeeping tables.
      const files = await readMigrationDir(dir);
      if (files.length === 0) return ok("user_migrations", `none yet (${dir} has no migration files)`);
      return warn("user_migrations", `${files.length} pending, none applied yet (${dir})`, "run `plinth migrate up`");
    }
    const states = await readMigrationStatus(url, dir);
    const pending = states.filter((s) => !s.applied);
    const changed = states.filter((s) => s.changed);
    const missing = states.filter((s) => s.missingFile);
    const names = (ss: typeof states) => ss.map((s) => `${s.version}_${s.name}`).join(", ");
    const found: string[] = [];
    const fixes: string[] = [];
    if (changed.length > 0) found.push(`changed after they were applied: ${names(changed)}`);
    if (missing.length > 0) found.push(`applied but their files are gone from ${dir}: ${names(missing)}`);
    if (changed.length + missing.length > 0)
      fixes.push("restore the applied files as they were and put further changes in a new migration (`plinth migrate new`)");
    if (pending.length > 0) {
      found.push(`${pending.length} pending: ${names(pending)}`);
      fixes.push("run `plinth migrate up`");
    }
    if (found.length > 0) return warn("user_migrations", found.join("; "), fixes.join("; "));
    return ok("user_migrations", `${states.length} applied, none pending (${dir})`);
  } catch (err) {
    if ((err as { code?: unknown } | null)?.code === LOCK_NOT_AVAILABLE) {
      return warn("user_migrations", "not read: a running `plinth migrate` holds the migration lock", "wait for it to finish, then run `plinth doctor` again");
    }
    if (err instanceof MigrationError)
      return fail("user_migrations", err.message, "rename or remove the file: `plinth migrate` refuses to run while it is there");
    throw err;
  }
}

/** migrationStatus on a pool of its own whose session stops waiting for a lock after a few seconds. */
async function readMigrationStatus(url: string, dir: string) {
  const bounded = new URL(url);
  bounded.searchParams.set("lock_timeout", String(MIGRATION_LOCK_WAIT_MS)); // a startup parameter, see postgres.js
  const db = connect(bounded.toString(), { max: 1 });
  try {
    return await within(QUERY_TIMEOUT_MS + MIGRATION_LOCK_WAIT_MS, "PostgreSQL", migrationStatus(db.sql, dir));
  } finally {
    await db.close(1).catch(() => {});
  }
}

async function sampleClock(sql: Sql): Promise<ClockSample> {
  const sentMs = Date.now();
  const [row] = await within(
    QUERY_TIMEOUT_MS,
    "PostgreSQL",
    sql<{ ms: number }[]>`
    select (extract(epoch from clock_timestamp()) * 1000)::float8 as ms`,
  );
  return { databaseMs: row!.ms, sentMs, receivedMs: Date.now() };
}
