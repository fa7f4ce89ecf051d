// User migrations: the project's own `<version>_<name>.up.sql` / `.down.sql` files in the migrations
// directory (PLINTH_MIGRATIONS_DIR). Each file runs in its own transaction together with its
// bookkeeping, under a session advisory lock so that two runs never interleave. What is applied lives
// in plinth.user_migrations; everything that happened is appended to plinth.user_migration_log.
// This module does the work and reports it through return values, callbacks and errors; the CLI
// (src/cli/migrate.ts) does all the printing.
//
// A run can be cancelled (RunOptions.signal: the admin API passes its request's, so the console's
// Esc or a dropped connection stops it): the file running at that moment is cancelled on the server
// (src/db/cancel.ts) and rolled back with its bookkeeping, so it stays pending; the files after it
// are not started; the ones before it stay applied (each file is its own transaction).
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PlinthError } from "../../errors.ts";
import { cancellable, isQueryCanceled, retryOnce, type Cancellable } from "../cancel.ts";
import type { Sql } from "../pool.ts";
import { checksum, SYSTEM_MIGRATION_LOCK } from "./system.ts";
import { inTransaction } from "../transaction.ts";

/** pg_advisory_lock key for user migrations: next to the system one, never equal to it. */
export const USER_MIGRATION_LOCK = SYSTEM_MIGRATION_LOCK + 1;

export type Direction = "up" | "down";

export type MigrationErrorCode =
  | "invalid_name"
  | "bad_file_name"
  | "duplicate_version"
  | "unknown_version"
  | "missing_up_file"
  | "missing_down_file"
  | "empty_migration"
  | "transaction_control"
  | "migration_failed"
  | "migration_cancelled";

/** Anything about the migration files or their state that stops a command, before or while it runs. */
export class MigrationError extends PlinthError {
  constructor(
    code: MigrationErrorCode,
    message: string,
    /** The file concerned, when there is one. */
    readonly file?: string,
    status = 409,
  ) {
    super(status, code, message);
    this.name = "MigrationError";
  }
}

/** What PostgreSQL said when a migration file failed. */
export interface PostgresFailure {
  message: string;
  code?: string;
  detail?: string;
  hint?: string;
  /** PostgreSQL's context, e.g. the PL/pgSQL function and line. */
  where?: string;
}

/** Line and column (both 1-based) in the migration file, from PostgreSQL's character position. */
export interface FilePosition {
  line: number;
  column: number;
}

/** A migration file failed; its transaction was rolled back, so nothing of this file stays. */
export class MigrationFailedError extends MigrationError {
  constructor(
    readonly direction: Direction,
    readonly version: string,
    readonly migrationName: string,
    file: string,
    readonly postgres: PostgresFailure,
    readonly position?: FilePosition,
    /** The file's line at `position`, to show under the error. */
    readonly sourceLine?: string,
  ) {
    const at = position ? `:${position.line}:${position.column}` : "";
    super("migration_failed", `${file}${at}: ${postgres.message}`, file);
    this.name = "MigrationFailedError";
  }
}

/** One migration as found in the directory (either file may be absent). */
export interface MigrationFiles {
  version: string;
  name: string;
  up?: string;
  down?: string;
}

/** One migration as known from the directory, the table, or both. */
export interface MigrationState {
  version: string;
  name: string;
  applied: boolean;
  appliedAt: Date | null;
  durationMs: number | null;
  upFile?: string;
  downFile?: string;
  /** Applied, but its up file is no longer in the directory. */
  missingFile: boolean;
  /** Applied, and its up file has changed since (checksum differs). */
  changed: boolean;
}

export interface MigrationWarning {
  kind: "changed" | "missing_file" | "out_of_order";
  version: string;
  name: string;
}

export interface StepReport {
  direction: Direction;
  version: string;
  name: string;
  file: string;
  durationMs: number;
}

export interface HistoryEntry {
  id: string;
  version: string;
  name: string;
  direction: Direction;
  at: Date;
  durationMs: number | null;
}

export interface RunOptions {
  /** Called once when another run holds the lock and this one starts waiting for it. */
  onLockWait?: () => void;
  /** Called after each file is committed, so progress can be shown as it happens. */
  onStep?: (step: StepReport) => void;
  /** Called for each drift found before anything runs (changed or missing applied files, …). */
  onWarning?: (warning: MigrationWarning) => void;
  /** Cancels the run: the file running now is cancelled on the server and rolled back; no later file starts. */
  signal?: AbortSignal;
}

/** The run was cancelled (RunOptions.signal) while `version` ran (rolled back) or before it started; it and the later ones keep their state. */
export class MigrationCancelledError extends MigrationError {
  constructor(
    readonly direction: Direction,
    readonly version: string,
    readonly migrationName: string,
    /** The file was running and was rolled back (false: it had not started). */
    readonly rolledBack: boolean,
  ) {
    super(
      "migration_cancelled",
      `cancelled: ${version}_${migrationName} ${rolledBack ? "was stopped and rolled back" : "was not started"}; ` +
        `it and the ones after it are ${direction === "up" ? "still pending" : "still applied"}`,
    );
    this.name = "MigrationCancelledError";
  }
}

// ---------------------------------------------------------------------------------------------------
// Files

const FILE_NAME = /^(\d{14})_([A-Za-z0-9_-]+)\.(up|down)\.sql$/;

/** `YYYYMMDDHHMMSS` in UTC: sorts as text in creation order. */
export function versionAt(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

/** Lower-case, spaces and dashes become `_`; anything else outside [a-z0-9_] is refused. */
export function normaliseMigrationName(raw: string): string {
  const name = raw
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, "_");
  if (!/^[a-z0-9_]+$/.test(name) || name.length > 100) {
    throw new MigrationError(
      "invalid_name",
      `invalid migration name '${raw}': use letters, digits, '_' (spaces and '-' become '_'), at most 100 characters`,
      undefined,
      400,
    );
  }
  return name;
}

const UP_TEMPLATE = (file: string) => `-- ${file}
-- Write the change here. The whole file runs in one transaction: if any statement fails, nothing
-- of it is applied. Do not add BEGIN/COMMIT.

`;
const DOWN_TEMPLATE = (file: string) => `-- ${file}
-- Write the exact reverse of the up file here (drop what it created, restore what it changed).
-- It runs in one transaction, like the up file.

`;

/** `plinth migrate new NAME`: writes both files from the templates, creating the directory if needed. */
export async function createMigration(
  dir: string,
  rawName: string,
  now: Date = new Date(),
  /** The files' contents (a template's, see src/admin/migrations/templates.ts); default: the empty skeleton. */
  content?: { up: string; down: string },
): Promise<{ version: string; name: string; upFile: string; downFile: string }> {
  const name = normaliseMigrationName(rawName);
  await mkdir(dir, { recursive: true });
  let version = versionAt(now);
  // Two `new` in the same second (or a clock behind the newest file): bump so versions stay unique
  // and in creation order.
  const newest = await newestVersion(dir);
  if (newest !== null && version <= newest) version = String(BigInt(newest) + 1n).padStart(14, "0");
  const base = `${version}_${name}`;
  const upFile = join(dir, `${base}.up.sql`);
  const downFile = join(dir, `${base}.down.sql`);
  // "wx": never overwrite an existing migration, even if two processes race here.
  await writeFile(upFile, content?.up ?? UP_TEMPLATE(`${base}.up.sql`), { flag: "wx" });
  await writeFile(downFile, content?.down ?? DOWN_TEMPLATE(`${base}.down.sql`), { flag: "wx" });
  return { version, name, upFile, downFile };
}

async function newestVersion(dir: string): Promise<string | null> {
  let newest: string | null = null;
  for (const entry of await readdir(dir)) {
    const v = /^(\d{14})_/.exec(entry)?.[1];
    if (v && (newest === null || v > newest)) newest = v;
  }
  return newest;
}

/** The migrations in `dir`, in version order. A missing directory has none. */
export async function readMigrationDir(dir: string): Promise<MigrationFiles[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const byVersion = new Map<string, MigrationFiles>();
  for (const entry of entries.sort()) {
    if (!entry.endsWith(".up.sql") && !entry.endsWith(".down.sql")) continue;
    const match = FILE_NAME.exec(entry);
    if (!match) {
      throw new MigrationError("bad_file_name", `${join(dir, entry)}: migration files are named <YYYYMMDDHHMMSS>_<name>.up.sql / .down.sql`, join(dir, entry));
    }
    const [, version, name, direction] = match as unknown as [string, string, string, Direction];
    const m = byVersion.get(version) ?? { version, name };
    if (m.name !== name || m[direction]) {
      throw new MigrationError(
        "duplicate_version",
        `${join(dir, entry)}: version ${version} is already used by ${m.name}; each version names one migration`,
        join(dir, entry),
      );
    }
    m[direction] = join(dir, entry);
    byVersion.set(version, m);
  }
  return [...byVersion.values()].sort((a, b) => (a.version < b.version ? -1 : 1));
}

/** True when the text has something besides whitespace, comments and stray semicolons. */
export function hasStatements(text: string): boolean {
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ";" || /\s/.test(c)) i++;
    else if (text.startsWith("--", i)) {
      const nl = text.indexOf("\n", i);
      if (nl < 0) return false;
      i = nl + 1;
    } else if (text.startsWith("/*", i)) {
      // PostgreSQL block comments nest.
      let depth = 0;
      do {
        if (text.startsWith("/*", i)) depth++, (i += 2);
        else if (text.startsWith("*/", i)) depth--, (i += 2);
        else i++;
      } while (depth > 0 && i < text.length);
    } else return true;
  }
  return false;
}

/** PostgreSQL's error position counts characters (code points, 1-based) from the query start. */
export function positionToLineColumn(text: string, position: number): FilePosition {
  let line = 1;
  let column = 1;
  let index = 0;
  for (const ch of text) {
    if (++index >= position) break;
    if (ch === "\n") {
      line++;
      column = 1;
    } else column++;
  }
  return { line, column };
}

interface LoadedFile {
  path: string;
  /** Exactly what is sent to PostgreSQL, so error positions map back onto it. */
  text: string;
  checksum: string;
}

async function loadFile(path: string): Promise<LoadedFile> {
  const raw = await readFile(path, "utf8");
  // Editors hide a byte-order mark; PostgreSQL would reject it as a syntax error.
  return { path, text: raw.replace(/^\uFEFF/, ""), checksum: checksum(raw) };
}

/** A pending up file that can run; checked for every pending file before the first one runs. */
async function loadUpFile(dir: string, s: MigrationState): Promise<LoadedFile> {
  if (!s.upFile) {
    const expected = join(dir, `${s.version}_${s.name}.up.sql`);
    throw new MigrationError("missing_up_file", `${expected} is missing (only its down file exists)`, expected);
  }
  const file = await loadFile(s.upFile);
  if (!hasStatements(file.text)) {
    throw new MigrationError("empty_migration", `${s.upFile}: empty migration (only comments and whitespace)`, s.upFile);
  }
  return file;
}

// ---------------------------------------------------------------------------------------------------
// Database

/**
 * Runs `fn` on one reserved connection holding the user-migration advisory lock. The lock is
 * session-level, so it must be taken, used and released on the same connection; a second run (or a
 * `status` during an `up`) waits until this one is done.
 */
async function withMigrationLock<T>(sql: Sql, opts: RunOptions, fn: (conn: Sql, cancel: Cancellable) => Promise<T>): Promise<T> {
  const cancel = cancellable(opts.signal);
  const conn = await sql.reserve();
  try {
    const [row] = await conn<{ locked: boolean }[]>`select pg_try_advisory_lock(${USER_MIGRATION_LOCK}) as locked`;
    if (!row?.locked) {
      opts.onLockWait?.();
      // Waiting for another run is cancellable too (no lock taken: nothing to release).
      await cancel.run(conn`select pg_advisory_lock(${USER_MIGRATION_LOCK})`);
    }
    try {
      await ensureTables(conn);
      return await fn(conn, cancel);
    } finally {
      // If the connection broke, the session (and its lock) is gone anyway; keep the first error.
      // Retried once: a cancel that raced the last file may land here, and a lock left held on a
      // pooled connection would block every later run.
      await retryOnce(() => conn`select pg_advisory_unlock(${USER_MIGRATION_LOCK})`).catch(() => {});
    }
  } finally {
    cancel.dispose();
    conn.release();
  }
}

async function ensureTables(conn: Sql): Promise<void> {
  await conn`create schema if not exists plinth`;
  await conn`create table if not exists plinth.user_migrations (
    version text primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now(),
    duration_ms integer
  )`;
  await conn`create table if not exists plinth.user_migration_log (
    id bigserial primary key,
    version text not null,
    name text not null,
    direction text not null check (direction in ('up', 'down')),
    at timestamptz not null default now(),
    duration_ms integer
  )`;
}

interface AppliedRow {
  version: string;
  name: string;
  checksum: string;
  applied_at: Date;
  duration_ms: number | null;
}

/** Files and table joined by version, in version order. Reads each applied up file to compare checksums. */
async function readState(conn: Sql, dir: string): Promise<MigrationState[]> {
  const files = new Map((await readMigrationDir(dir)).map((f) => [f.version, f]));
  const rows = await conn<AppliedRow[]>`
    select version, name, checksum, applied_at, duration_ms from plinth.user_migrations`;
  const applied = new Map(rows.map((r) => [r.version, r]));
  const versions = [...new Set([...files.keys(), ...applied.keys()])].sort();
  const states: MigrationState[] = [];
  for (const version of versions) {
    const file = files.get(version);
    const row = applied.get(version);
    const changed = !!(row && file?.up && (await loadFile(file.up)).checksum !== row.checksum);
    states.push({
      version,
      name: row?.name ?? file!.name,
      applied: !!row,
      appliedAt: row?.applied_at ?? null,
      durationMs: row?.duration_ms ?? null,
      upFile: file?.up,
      downFile: file?.down,
      missingFile: !!row && !file?.up,
      changed,
    });
  }
  return states;
}

function driftWarnings(states: MigrationState[]): MigrationWarning[] {
  const warnings: MigrationWarning[] = [];
  for (const s of states) {
    if (s.changed) warnings.push({ kind: "changed", version: s.version, name: s.name });
    if (s.missingFile) warnings.push({ kind: "missing_file", version: s.version, name: s.name });
  }
  return warnings;
}

/**
 * One file plus its bookkeeping in one transaction. The transaction id is read before and after
 * the file: if it differs, the file ended our transaction itself (COMMIT/ROLLBACK), and the
 * all-or-nothing promise no longer holds, which the operator must hear about.
 */
async function runStep(conn: Sql, cancel: Cancellable, direction: Direction, version: string, name: string, file: LoadedFile): Promise<StepReport> {
  if (cancel.aborted) throw new MigrationCancelledError(direction, version, name, false);
  const started = performance.now();
  let inFile = false;
  try {
    await inTransaction(conn, async (tx) => {
      const [before] = await cancel.run(tx<{ xid: string }[]>`select txid_current()::text as xid`);
      inFile = true;
      // Safe to run unescaped: it is the operator's own migration file, run with their privileges.
      await cancel.run(tx.unsafe(file.text));
      inFile = false;
      const [after] = await tx<{ xid: string }[]>`select txid_current()::text as xid`;
      if (before?.xid !== after?.xid) {
        throw new MigrationError(
          "transaction_control",
          `${file.path}: the file ends the transaction itself (COMMIT/ROLLBACK/BEGIN); statements before ` +
            `that may have been committed. Remove transaction control: each file already runs in one transaction`,
          file.path,
        );
      }
      const durationMs = Math.round(performance.now() - started);
      if (direction === "up") {
        await tx`insert into plinth.user_migrations (version, name, checksum, duration_ms)
                 values (${version}, ${name}, ${file.checksum}, ${durationMs})`;
      } else {
        await tx`delete from plinth.user_migrations where version = ${version}`;
      }
      await tx`insert into plinth.user_migration_log (version, name, direction, duration_ms)
               values (${version}, ${name}, ${direction}, ${durationMs})`;
      // Cancelled while the bookkeeping ran: roll back rather than commit what the caller gave up.
      cancel.check();
    });
  } catch (err) {
    // Rolled back by inTransaction: the file stays as it was (pending, or applied for a down).
    if (cancel.aborted && isQueryCanceled(err)) throw new MigrationCancelledError(direction, version, name, true);
    if (inFile) throw failedFrom(err, direction, version, name, file);
    throw err;
  }
  return { direction, version, name, file: file.path, durationMs: Math.round(performance.now() - started) };
}

function failedFrom(err: unknown, direction: Direction, version: string, name: string, file: LoadedFile): MigrationFailedError {
  const e = (err ?? {}) as Partial<Record<"message" | "code" | "detail" | "hint" | "where" | "position", string>>;
  const pg: PostgresFailure = { message: e.message ?? String(err), code: e.code, detail: e.detail, hint: e.hint, where: e.where };
  const offset = Number(e.position);
  if (!(offset > 0)) return new MigrationFailedError(direction, version, name, file.path, pg);
  const position = positionToLineColumn(file.text, offset);
  const sourceLine = file.text.split("\n")[position.line - 1]?.replace(/\r$/, "");
  return new MigrationFailedError(direction, version, name, file.path, pg, position, sourceLine);
}

// ---------------------------------------------------------------------------------------------------
// Commands

export interface UpReport {
  applied: StepReport[];
  warnings: MigrationWarning[];
}

/**
 * Applies pending migrations in version order (only up to and including `to`, when given). Every
 * pending file is read and checked before the first one runs; a file that fails is rolled back
 * completely while the ones before it in this run stay applied.
 */
/** A pending up file as it will run, for UpOptions.check. */
export interface PendingFile {
  version: string;
  name: string;
  path: string;
  text: string;
  checksum: string;
}

export interface UpOptions extends RunOptions {
  to?: string;
  /**
   * Called once with every pending file, in order, after all are read and before the first runs,
   * under the lock: throwing refuses the whole run (the production approval gate, the plan printed
   * in development). The text and checksum are exactly what will run.
   */
  check?: (files: PendingFile[]) => Promise<void>;
}

export async function migrateUp(sql: Sql, dir: string, opts: UpOptions = {}): Promise<UpReport> {
  return withMigrationLock(sql, opts, async (conn, cancel) => {
    const states = await readState(conn, dir);
    if (opts.to !== undefined && !states.some((s) => s.version === opts.to)) {
      throw new MigrationError("unknown_version", `unknown version ${opts.to}: no such migration file or applied migration`, undefined, 400);
    }
    const pending = states.filter((s) => !s.applied && (opts.to === undefined || s.version <= opts.to));
    const warnings = driftWarnings(states);
    // A pending version older than one already applied (e.g. merged from another branch) still
    // runs, but the operator should know the order differs from the file order.
    const newestApplied = states.filter((s) => s.applied).at(-1)?.version;
    for (const s of pending) {
      if (newestApplied && s.version < newestApplied) warnings.push({ kind: "out_of_order", version: s.version, name: s.name });
    }
    warnings.forEach((w) => opts.onWarning?.(w));
    const files: LoadedFile[] = [];
    for (const s of pending) files.push(await loadUpFile(dir, s));
    await opts.check?.(pending.map((s, i) => ({ version: s.version, name: s.name, path: files[i]!.path, text: files[i]!.text, checksum: files[i]!.checksum })));
    const applied: StepReport[] = [];
    for (const [i, s] of pending.entries()) {
      const step = await runStep(conn, cancel, "up", s.version, s.name, files[i]!);
      applied.push(step);
      opts.onStep?.(step);
    }
    return { applied, warnings };
  });
}

export interface DownReport {
  reverted: StepReport[];
}

/**
 * Reverts the newest `steps` applied migrations (by version, newest first). Refuses before running
 * anything when one of their down files is missing or has no statements.
 */
export async function migrateDown(sql: Sql, dir: string, opts: RunOptions & { steps?: number } = {}): Promise<DownReport> {
  const steps = opts.steps ?? 1;
  return withMigrationLock(sql, opts, async (conn, cancel) => {
    const states = await readState(conn, dir);
    const targets = states
      .filter((s) => s.applied)
      .reverse()
      .slice(0, steps);
    const files: LoadedFile[] = [];
    for (const s of targets) files.push(await loadDownFile(dir, s));
    const reverted: StepReport[] = [];
    for (const [i, s] of targets.entries()) {
      const step = await runStep(conn, cancel, "down", s.version, s.name, files[i]!);
      reverted.push(step);
      opts.onStep?.(step);
    }
    return { reverted };
  });
}

/** A down file that can run, or the reason the revert is refused (before anything has run). */
async function loadDownFile(dir: string, s: MigrationState): Promise<LoadedFile> {
  const refuse = (code: MigrationErrorCode, file: string, why: string) =>
    new MigrationError(code, `cannot revert ${s.version}_${s.name}: ${why}; nothing was reverted`, file);
  if (!s.downFile) {
    const expected = join(dir, `${s.version}_${s.name}.down.sql`);
    throw refuse("missing_down_file", expected, `${expected} is missing`);
  }
  const file = await loadFile(s.downFile);
  if (!hasStatements(file.text)) {
    throw refuse("empty_migration", s.downFile, `${s.downFile} is an empty migration (only comments and whitespace)`);
  }
  return file;
}

/** Every migration known from the directory or the table, in version order, with drift flags. */
export async function migrationStatus(sql: Sql, dir: string, opts: RunOptions = {}): Promise<MigrationState[]> {
  return withMigrationLock(sql, opts, (conn) => readState(conn, dir));
}

/** The append-only log of ups and downs, oldest first. */
export async function migrationHistory(sql: Sql, opts: RunOptions = {}): Promise<HistoryEntry[]> {
  return withMigrationLock(sql, opts, async (conn) => {
    const rows = await conn<{ id: string; version: string; name: string; direction: Direction; at: Date; duration_ms: number | null }[]>`
      select id::text, version, name, direction, at, duration_ms from plinth.user_migration_log order by id`;
    return rows.map((r) => ({ id: r.id, version: r.version, name: r.name, direction: r.direction, at: r.at, durationMs: r.duration_ms }));
  });
}

/**
 * Applies one pending migration, by version, and nothing else (the admin API's table security
 * settings write a migration and apply exactly it; other pending files stay pending, e.g. one that
 * `migrate down` reverted, which `migrate up` would bring back).
 */
export async function migrateOne(sql: Sql, dir: string, version: string, opts: RunOptions = {}): Promise<StepReport> {
  return withMigrationLock(sql, opts, async (conn, cancel) => {
    const s = (await readState(conn, dir)).find((m) => m.version === version);
    if (!s || s.applied) throw new MigrationError("unknown_version", `no pending migration ${version}`, undefined, 400);
    const step = await runStep(conn, cancel, "up", s.version, s.name, await loadUpFile(dir, s));
    opts.onStep?.(step);
    return step;
  });
}
