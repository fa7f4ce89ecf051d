// Applies the system migrations (migrations/*.sql, embedded in the binary) in order, each in its own
// transaction, under a session advisory lock so that two nodes starting together take turns. A
// checksum is recorded per file; start refuses when an applied file has changed since.
import { createHash } from "node:crypto";
import type { Sql } from "../pool.ts";
import { systemMigrations, type SystemMigration } from "../../../migrations/index.ts";
import { inTransaction } from "../transaction.ts";

/** Arbitrary constant: pg_advisory_lock key for system migrations ("plinth" in ASCII, shifted). */
export const SYSTEM_MIGRATION_LOCK = 0x706c696e74;

export class MigrationChecksumError extends Error {
  constructor(
    readonly version: number,
    readonly migrationName: string,
  ) {
    super(
      `system migration ${String(version).padStart(4, "0")}_${migrationName} was changed after it was applied ` +
        `(checksum mismatch); restore the original file — applied migrations are immutable`,
    );
  }
}

export const checksum = (text: string): string => createHash("sha256").update(text).digest("hex");

export interface AppliedReport {
  applied: number[];
  skipped: number[];
}

export async function applySystemMigrations(sql: Sql, migrations: SystemMigration[] = systemMigrations): Promise<AppliedReport> {
  const conn = await sql.reserve();
  const report: AppliedReport = { applied: [], skipped: [] };
  try {
    await conn`select pg_advisory_lock(${SYSTEM_MIGRATION_LOCK})`;
    try {
      await conn`create schema if not exists plinth`;
      await conn`create table if not exists plinth.system_migrations (
        version integer primary key,
        name text not null,
        checksum text not null,
        applied_at timestamptz not null default now()
      )`;
      const rows = await conn<{ version: number; checksum: string }[]>`
        select version, checksum from plinth.system_migrations`;
      const done = new Map(rows.map((r) => [r.version, r.checksum]));
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        const sum = checksum(m.sql);
        const recorded = done.get(m.version);
        if (recorded !== undefined) {
          if (recorded !== sum) throw new MigrationChecksumError(m.version, m.name);
          report.skipped.push(m.version);
          continue;
        }
        // On this connection, which holds the lock.
        await inTransaction(conn, async (tx) => {
          // Safe: the text is one of our own embedded migration files, never user input.
          await tx.unsafe(m.sql);
          await tx`insert into plinth.system_migrations (version, name, checksum)
                   values (${m.version}, ${m.name}, ${sum})`;
        });
        report.applied.push(m.version);
      }
    } finally {
      await conn`select pg_advisory_unlock(${SYSTEM_MIGRATION_LOCK})`;
    }
  } finally {
    conn.release();
  }
  return report;
}
