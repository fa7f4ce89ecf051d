// PUT /admin/v1/tables/{schema}/{table}/security: parse the document, read the table, validate,
// detect conflicts, compile; a dry run answers with the SQL and the warnings, a real run writes the
// SQL as a user migration (up and down files in the migrations directory, reviewable and revertible
// with `plinth migrate down`), applies it through the user-migration runner, and raises a
// policy_changed security event.
//
// Traps:
// - Two PUTs at once (on one node or several) must not both compute their down file from the same
//   "before": each holds a session advisory lock from reading the table until its migration is
//   applied, so the second reads what the first left and its down file returns to that.
// - Exactly the written migration is applied (migrateOne): other pending files — someone else's, or
//   an earlier security migration `migrate down` reverted — stay pending for `migrate up`.
// - A migration that fails leaves nothing applied (one transaction) and its files are removed, so a
//   refused change leaves no pending migration behind.
import { rm, writeFile } from "node:fs/promises";
import { basename } from "node:path";
import type { Sql } from "../../../db/pool.ts";
import { createMigration, migrateOne } from "../../../db/migrations/user.ts";
import type { Logger } from "../../../log.ts";
import { AdminErrors } from "../../errors.ts";
import type { AdminActor } from "../../authorize.ts";
import type { AuditNote } from "../../route.ts";
import { raiseSecurityEvent } from "../events.ts";
import { planAccess } from "./access.ts";
import { compileChange } from "./compile.ts";
import { detectConflicts } from "./conflicts.ts";
import { parseDocument, type TableSecurityDocument } from "./document.ts";
import { refuseOnErrors, type Finding } from "./findings.ts";
import { readTableState } from "./state.ts";
import { validateDocument } from "./validate.ts";

/** Session advisory lock key of table security changes ("plinth.table_security" hashed, fixed). */
export const TABLE_SECURITY_LOCK = 0x706c696e74 + 16;

export interface TableSecurityDeps {
  sql: Sql;
  migrationsDir: string;
  log: Logger;
}

export interface AppliedMigration {
  version: string;
  name: string;
  up_file: string;
  down_file: string;
}

export interface SecurityChange {
  schema: string;
  table: string;
  dry_run: boolean;
  document: TableSecurityDocument;
  /** The statements, in order, as they run (up) and as `migrate down` would run them. */
  up: string[];
  down: string[];
  warnings: Finding[];
  migration: AppliedMigration | null;
}

export async function putTableSecurity(
  deps: TableSecurityDeps,
  call: { actor: AdminActor; audit: AuditNote; address?: string | null; userAgent?: string | null },
  schema: string,
  table: string,
  body: unknown,
  dryRun: boolean,
): Promise<SecurityChange> {
  const doc = parseDocument(body);
  const conn = await deps.sql.reserve();
  try {
    await conn`select pg_advisory_lock(${TABLE_SECURITY_LOCK})`;
    try {
      const state = await readTableState(conn, schema, table);
      if (!state) throw AdminErrors.notFound(`Table ${schema}.${table}`);
      const plan = planAccess(
        doc,
        schema,
        table,
        state.columns.map((c) => c.name),
      );
      const findings = [...(await validateDocument(conn, doc, state, plan))];
      refuseOnErrors(findings);
      findings.push(...detectConflicts(doc, state, plan));
      refuseOnErrors(findings);
      const warnings = findings.filter((f) => f.severity === "warning");

      if (dryRun) {
        const { up, down } = compileChange(doc, state, plan, "dry_run");
        return { schema, table, dry_run: true, document: doc, up, down, warnings, migration: null };
      }

      const files = await createMigration(deps.migrationsDir, migrationName(schema, table));
      const { up, down } = compileChange(doc, state, plan, files.version);
      const header = (file: string, what: string) =>
        `-- ${basename(file)}\n-- ${what}\n-- Written by Plinth (PUT /admin/v1/tables/${schema}/${table}/security, template ${doc.template}); ` +
        `${actorName(call.actor)}.\n-- Runs in one transaction.\n\n`;
      await writeFile(files.upFile, header(files.upFile, `Table security for ${schema}.${table}.`) + toScript(up));
      await writeFile(
        files.downFile,
        header(files.downFile, `Restores the policies, privileges, RLS and security document ${schema}.${table} had before ${files.version}.`) + toScript(down),
      );
      call.audit.statements.push(...up);
      call.audit.security = true;
      try {
        await migrateOne(deps.sql, deps.migrationsDir, files.version);
      } catch (err) {
        await Promise.all([rm(files.upFile, { force: true }), rm(files.downFile, { force: true })]);
        throw err;
      }
      await raiseSecurityEvent(
        deps.sql,
        {
          kind: "policy_changed",
          severity: plan.audiences.insert.has("anon") || plan.audiences.update.has("anon") || plan.audiences.delete.has("anon") ? "high" : "medium",
          userId: call.actor.sub,
          address: call.address ?? null,
          userAgent: call.userAgent ?? null,
          details: {
            schema,
            table,
            template: doc.template,
            migration: files.version,
            actor: actorName(call.actor),
            warnings: warnings.map((w) => w.code),
          },
        },
        deps.log,
      );
      const migration = { version: files.version, name: files.name, up_file: files.upFile, down_file: files.downFile };
      return { schema, table, dry_run: false, document: doc, up, down, warnings, migration };
    } finally {
      await conn`select pg_advisory_unlock(${TABLE_SECURITY_LOCK})`.catch(() => {});
    }
  } finally {
    conn.release();
  }
}

/** `security_<schema>_<table>`, in the characters a migration name allows (the SQL names the table exactly). */
export function migrationName(schema: string, table: string): string {
  const clean = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9_]+/g, "_")
      .replace(/^_+|_+$/g, "");
  const name = `security_${clean(schema) || "schema"}_${clean(table) || "table"}`;
  return name.slice(0, 100);
}

const toScript = (statements: string[]) => `${statements.map((s) => `${s};`).join("\n")}\n`;

function actorName(actor: AdminActor): string {
  // The account id, not the e-mail: migration files end up in the project's repository.
  if (actor.admin) return `by admin ${actor.admin.id}`;
  if (actor.kind === "cli") return `by the CLI (${actor.osUser ?? "local"})`;
  return `by ${actor.kind}`;
}
