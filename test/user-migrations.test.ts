// User migrations against a real PostgreSQL: the library (src/db/migrations/user.ts), the CLI
// command in-process (src/cli/migrate.ts), and `plinth migrate` as a real subprocess.
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runMigrate } from "../src/cli/migrate.ts";
import { configSchema } from "../src/config/schema.ts";
import { connect } from "../src/db/pool.ts";
import {
  createMigration,
  hasStatements,
  MigrationError,
  MigrationFailedError,
  migrateDown,
  migrateUp,
  migrationHistory,
  migrationStatus,
  positionToLineColumn,
} from "../src/db/migrations/user.ts";
import { freshDatabase, TEST_DATA_DIR } from "./support/db.ts";

const tdb = await freshDatabase();
const sql = tdb.db.sql;
const MAIN = resolve(import.meta.dir, "../src/main.ts");

const tmpDirs: string[] = [];
afterAll(async () => {
  for (const d of tmpDirs) await rm(d, { recursive: true, force: true });
});

async function tmp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "plinth-migrations-"));
  tmpDirs.push(dir);
  return dir;
}

/** Writes a migration pair directly (down omitted when null). */
async function write(dir: string, version: string, name: string, up: string, down: string | null = null) {
  await writeFile(join(dir, `${version}_${name}.up.sql`), up);
  if (down !== null) await writeFile(join(dir, `${version}_${name}.down.sql`), down);
}

/** Three migrations that build on each other in schema `app`. */
async function threeMigrations(): Promise<string> {
  const dir = await tmp();
  await write(dir, "20240101000001", "posts", "create table app.posts (id int primary key);", "drop table app.posts;");
  await write(dir, "20240101000002", "comments", "create table app.comments (post_id int references app.posts);", "drop table app.comments;");
  await write(dir, "20240101000003", "tags", "create table app.tags (name text);\ncreate index on app.tags (name);", "drop table app.tags;");
  return dir;
}

async function tables(): Promise<string[]> {
  const rows = await sql<{ t: string }[]>`select tablename as t from pg_tables where schemaname = 'app' order by 1`;
  return rows.map((r) => r.t);
}

async function appliedVersions(): Promise<string[]> {
  const rows = await sql<{ version: string }[]>`select version from plinth.user_migrations order by version`;
  return rows.map((r) => r.version);
}

// The file shares one database: every test starts from an empty `app` schema and no bookkeeping.
beforeEach(async () => {
  await sql`drop schema if exists app cascade`;
  await sql`create schema app`;
  await sql`drop table if exists plinth.user_migrations, plinth.user_migration_log`;
});

function capture() {
  const out = { stdout: "", stderr: "" };
  return { out, sink: { stdout: (s: string) => void (out.stdout += s), stderr: (s: string) => void (out.stderr += s) } };
}

const configFor = (dir: string) => configSchema.parse({ db: { url: tdb.url }, migrationsDir: dir });

describe("pure helpers", () => {
  test("hasStatements ignores comments, nested block comments, whitespace and lone semicolons", () => {
    expect(hasStatements("-- only a comment\n  \n;\n/* a /* nested */ block */\n")).toBe(false);
    expect(hasStatements("-- comment\nselect 1;")).toBe(true);
    expect(hasStatements("")).toBe(false);
  });

  test("positionToLineColumn counts code points like PostgreSQL", () => {
    const text = "select 1;\n-- é😀\nselec 2;";
    const pos = [...text].indexOf("s", 10) + 1; // 1-based character position of `selec`
    expect(positionToLineColumn(text, pos)).toEqual({ line: 3, column: 1 });
    expect(positionToLineColumn(text, 1)).toEqual({ line: 1, column: 1 });
  });
});

describe("new", () => {
  test("writes up and down files from the template, with unique ordered versions", async () => {
    const dir = join(await tmp(), "nested", "migrations"); // created on demand
    const now = new Date(Date.UTC(2024, 4, 6, 7, 8, 9));
    const a = await createMigration(dir, "Add Posts-table", now);
    const b = await createMigration(dir, "second", now); // same second
    expect(a.version).toBe("20240506070809");
    expect(a.name).toBe("add_posts_table");
    expect(b.version).toBe("20240506070810");
    expect((await readdir(dir)).sort()).toEqual([
      "20240506070809_add_posts_table.down.sql",
      "20240506070809_add_posts_table.up.sql",
      "20240506070810_second.down.sql",
      "20240506070810_second.up.sql",
    ]);
    expect(await readFile(a.upFile, "utf8")).toContain("-- Write the change here");
    expect(await readFile(a.downFile, "utf8")).toContain("-- Write the exact reverse of the up file here");
    expect(createMigration(dir, "bad/name")).rejects.toBeInstanceOf(MigrationError);
  });

  test("an untouched template is refused as an empty migration, before anything runs", async () => {
    const dir = await threeMigrations();
    await createMigration(dir, "later", new Date(Date.UTC(2030, 0, 1)));
    const err = await migrateUp(sql, dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as MigrationError).code).toBe("empty_migration");
    expect((err as Error).message).toContain("20300101000000_later.up.sql");
    expect(await tables()).toEqual([]);
  });
});

describe("up", () => {
  test("applies pending migrations in version order; a second run is a no-op", async () => {
    const dir = await threeMigrations();
    const first = await migrateUp(sql, dir);
    expect(first.applied.map((s) => s.version)).toEqual(["20240101000001", "20240101000002", "20240101000003"]);
    expect(await tables()).toEqual(["comments", "posts", "tags"]);
    const second = await migrateUp(sql, dir);
    expect(second.applied).toEqual([]);
    expect(await appliedVersions()).toHaveLength(3);
  });

  test("--to stops after the given version, and an unknown version is refused", async () => {
    const dir = await threeMigrations();
    const report = await migrateUp(sql, dir, { to: "20240101000002" });
    expect(report.applied.map((s) => s.name)).toEqual(["posts", "comments"]);
    expect(await tables()).toEqual(["comments", "posts"]);
    const err = await migrateUp(sql, dir, { to: "20990101000000" }).catch((e: unknown) => e);
    expect((err as MigrationError).code).toBe("unknown_version");
  });

  test("a failing file rolls back completely and reports file, line:column and PostgreSQL's error", async () => {
    const dir = await threeMigrations();
    await write(dir, "20240101000004", "broken", "create table app.half (id int);\n\n  selec 1;\n", "drop table app.half;");
    await write(dir, "20240101000005", "after", "create table app.after (id int);", "drop table app.after;");
    const steps: string[] = [];
    const err = await migrateUp(sql, dir, { onStep: (s) => steps.push(s.name) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationFailedError);
    const failed = err as MigrationFailedError;
    expect(failed.file).toBe(join(dir, "20240101000004_broken.up.sql"));
    expect(failed.position).toEqual({ line: 3, column: 3 });
    expect(failed.postgres.code).toBe("42601");
    expect(failed.postgres.message).toContain("selec");
    expect(failed.sourceLine).toBe("  selec 1;");
    // Earlier migrations stay; nothing of the broken one (not even its first statement), nothing after it.
    expect(steps).toEqual(["posts", "comments", "tags"]);
    expect(await tables()).toEqual(["comments", "posts", "tags"]);
    expect(await appliedVersions()).toEqual(["20240101000001", "20240101000002", "20240101000003"]);
  });

  test("a file that commits on its own is reported", async () => {
    const dir = await tmp();
    await write(dir, "20240101000001", "commits", "create table app.x (id int);\ncommit;\n");
    const err = await migrateUp(sql, dir).catch((e: unknown) => e);
    expect((err as MigrationError).code).toBe("transaction_control");
  });

  test("concurrent runs from two connection pools apply each migration exactly once", async () => {
    const dir = await tmp();
    // Not idempotent on purpose: a second application would fail with "already exists".
    for (let i = 1; i <= 4; i++) {
      await write(dir, `2024010100000${i}`, `m${i}`, `create table app.m${i} (id int);\nselect pg_sleep(0.05);`, `drop table app.m${i};`);
    }
    const other = connect(tdb.url, { max: 2 });
    try {
      const [a, b] = await Promise.all([migrateUp(sql, dir), migrateUp(other.sql, dir)]);
      expect(a.applied.length + b.applied.length).toBe(4);
      expect([a.applied.length, b.applied.length].sort()).toEqual([0, 4]);
      const log = await sql<{ version: string; n: number }[]>`
        select version, count(*)::int as n from plinth.user_migration_log where direction = 'up' group by 1`;
      expect(log).toHaveLength(4);
      expect(log.every((r) => r.n === 1)).toBe(true);
    } finally {
      await other.close(1);
    }
  });
});

describe("down", () => {
  test("down 1 and down 2 revert the newest applied migrations, newest first", async () => {
    const dir = await threeMigrations();
    await migrateUp(sql, dir);
    const one = await migrateDown(sql, dir);
    expect(one.reverted.map((s) => s.name)).toEqual(["tags"]);
    expect(await tables()).toEqual(["comments", "posts"]);
    const two = await migrateDown(sql, dir, { steps: 2 });
    expect(two.reverted.map((s) => s.name)).toEqual(["comments", "posts"]);
    expect(await tables()).toEqual([]);
    expect(await appliedVersions()).toEqual([]);
  });

  test("refuses before reverting anything when a needed down file is missing or empty", async () => {
    const dir = await threeMigrations();
    await migrateUp(sql, dir);
    await rm(join(dir, "20240101000002_comments.down.sql"));
    const err = await migrateDown(sql, dir, { steps: 2 }).catch((e: unknown) => e);
    expect((err as MigrationError).code).toBe("missing_down_file");
    expect((err as Error).message).toContain("20240101000002_comments.down.sql");
    expect(await tables()).toEqual(["comments", "posts", "tags"]); // not even `tags` was reverted

    await writeFile(join(dir, "20240101000003_tags.down.sql"), "-- nothing yet\n");
    const empty = await migrateDown(sql, dir).catch((e: unknown) => e);
    expect((empty as MigrationError).code).toBe("empty_migration");
    expect(await appliedVersions()).toHaveLength(3);
  });
});

describe("status and history", () => {
  test("status --json flags changed and missing files", async () => {
    const dir = await threeMigrations();
    await migrateUp(sql, dir, { to: "20240101000002" });
    await writeFile(join(dir, "20240101000001_posts.up.sql"), "create table app.posts (id bigint primary key);");
    await rm(join(dir, "20240101000002_comments.up.sql"));

    const { out, sink } = capture();
    expect(await runMigrate(["status", "--json"], configFor(dir), sink)).toBe(0);
    const rows = JSON.parse(out.stdout) as Record<string, unknown>[];
    expect(rows.map((r) => [r.version, r.applied, r.changed, r.missing_file])).toEqual([
      ["20240101000001", true, true, false],
      ["20240101000002", true, false, true],
      ["20240101000003", false, false, false],
    ]);
    expect(typeof rows[0]!.applied_at).toBe("string");

    // The readable form and `up` say so too, without refusing.
    const text = capture();
    expect(await runMigrate(["status"], configFor(dir), text.sink)).toBe(0);
    expect(text.out.stdout).toMatch(/20240101000001\s+posts\s+applied\s+\S+\s+changed/);
    expect(text.out.stdout).toContain("missing file");
    const up = capture();
    expect(await runMigrate(["up"], configFor(dir), up.sink)).toBe(0);
    expect(up.out.stderr).toContain("20240101000001_posts.up.sql changed after it was applied");
    expect(up.out.stdout).toContain("applied  20240101000003_tags");
    expect((await migrationStatus(sql, dir)).every((s) => s.applied)).toBe(true);
  });

  test("history lists ups and downs, oldest first", async () => {
    const dir = await threeMigrations();
    await migrateUp(sql, dir, { to: "20240101000002" });
    await migrateDown(sql, dir);
    const history = await migrationHistory(sql);
    expect(history.map((h) => `${h.direction} ${h.name}`)).toEqual(["up posts", "up comments", "down comments"]);

    const { out, sink } = capture();
    expect(await runMigrate(["history"], configFor(dir), sink)).toBe(0);
    expect(out.stdout.trim().split("\n")).toHaveLength(4); // header + 3
    expect(out.stdout).toMatch(/down\s+20240101000002\s+comments/);
  });
});

describe("CLI", () => {
  test("usage errors exit 2 on stderr; `new` needs no database", async () => {
    const dir = await tmp();
    for (const args of [[], ["sideways"], ["down", "0"], ["down", "x"], ["up", "--to"], ["status", "--yaml"], ["new"]]) {
      const { out, sink } = capture();
      expect(await runMigrate(args, configFor(dir), sink)).toBe(2);
      expect(out.stderr).toContain("usage: plinth migrate");
      expect(out.stdout).toBe("");
    }
    const offline = configSchema.parse({ db: { url: "postgres://nobody@127.0.0.1:1/none" }, migrationsDir: dir });
    const { out, sink } = capture();
    expect(await runMigrate(["new", "add", "posts"], offline, sink)).toBe(0);
    expect(out.stdout).toMatch(/created .*_add_posts\.up\.sql\ncreated .*_add_posts\.down\.sql\n/);
  });

  test("an unreachable database is a one-line error and exit 1", async () => {
    const dir = await tmp();
    const offline = configSchema.parse({ db: { url: "postgres://nobody@127.0.0.1:1/none" }, migrationsDir: dir });
    const { out, sink } = capture();
    expect(await runMigrate(["status"], offline, sink)).toBe(1);
    expect(out.stderr).toStartWith("plinth migrate: could not open the database:");
    expect(out.stderr.trim().split("\n")).toHaveLength(1);
  });

  test("`plinth migrate` as a subprocess with PLINTH_DB_URL: up, failure report, down", async () => {
    const dir = await threeMigrations();
    const cwd = await tmp(); // no plinth.yaml here
    const run = async (...args: string[]) => {
      const proc = Bun.spawn([process.execPath, MAIN, "migrate", ...args], {
        cwd,
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", PLINTH_DB_URL: tdb.url, PLINTH_MIGRATIONS_DIR: dir },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      return { stdout, stderr, code };
    };

    const up = await run("up");
    expect(up.stderr).toBe("");
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/applied  20240101000001_posts \(\d+ ms\)\napplied  20240101000002_comments/);
    expect((await run("up")).stdout).toBe("no pending migrations\n");

    await write(dir, "20240101000004", "broken", "insert into app.posts values (1);\ninsert into app.nope values (1);\n", "select 1;");
    const failed = await run("up");
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`${join(dir, "20240101000004_broken.up.sql")}:2:13`);
    expect(failed.stderr).toContain('relation "app.nope" does not exist (SQLSTATE 42P01)');
    expect(failed.stderr).not.toContain("    at "); // no stack trace
    expect(await sql`select * from app.posts`).toHaveLength(0); // the first insert was rolled back

    const down = await run("down", "2");
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(/reverted 20240101000003_tags .*\nreverted 20240101000002_comments/);
    const status = await run("status", "--json");
    expect(status.code).toBe(0);
    expect((JSON.parse(status.stdout) as { applied: boolean }[]).map((s) => s.applied)).toEqual([true, false, false, false]);
    expect((await run("bogus")).code).toBe(2);
  });

  test("attaches to a running embedded server (PLINTH_DATA_DIR, no PLINTH_DB_URL) and leaves it running", async () => {
    // The test cluster is an embedded server owned by this test process, as `plinth serve` would own it.
    const dir = await tmp();
    const proc = Bun.spawn([process.execPath, MAIN, "migrate", "status", "--json"], {
      cwd: await tmp(),
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", PLINTH_DATA_DIR: TEST_DATA_DIR, PLINTH_MIGRATIONS_DIR: dir },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(Array.isArray(JSON.parse(stdout))).toBe(true);
    expect([...(await sql`select 1 as ok`)]).toEqual([{ ok: 1 }]); // still serving
  });
});
