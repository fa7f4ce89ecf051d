// `plinth migrate …`: parses the arguments, opens the same database the server uses (embedded —
// attaching to a running `plinth serve` — or PLINTH_DB_URL), calls src/db/migrations/user.ts and
// prints the outcome. Exit codes: 0 done, 1 failed (nothing half-applied), 2 usage error.
import { resolve } from "node:path";
import type { Config } from "../config/schema.ts";
import { openDatabase } from "../db/open.ts";
import type { Sql } from "../db/pool.ts";
import {
  createMigration,
  MigrationError,
  MigrationFailedError,
  migrateDown,
  migrationHistory,
  normaliseMigrationName,
  migrationStatus,
  type HistoryEntry,
  type MigrationState,
  type MigrationWarning,
  type RunOptions,
  type StepReport,
} from "../db/migrations/user.ts";
import { createLogger } from "../log.ts";
import { getAdmin, findUserByRef, userRefOf } from "../admin/accounts/accounts.ts";
import { actorColumns, recordAudit, type AuditOutcome } from "../admin/audit/log.ts";
import { cliActor, LEVEL_CAPABILITIES } from "../admin/authorize.ts";
import { osUser } from "../admin/local.ts";
import { applyMigrations } from "../admin/migrations/apply.ts";
import { ApprovalError, approvalFor, approveMigration, type Approval } from "../admin/migrations/approvals.ts";
import { planJson, planPending, type MigrationPlan, type PlanOptions } from "../admin/migrations/plan.ts";
import { historyJson, statusJson } from "../admin/migrations/wire.ts";
import { findTemplate, renderTemplate, TEMPLATES, TemplateError } from "../admin/migrations/templates.ts";

export interface Output {
  stdout(s: string): void;
  stderr(s: string): void;
}

const processOutput: Output = {
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
};

export const MIGRATE_USAGE = `usage: plinth migrate <command>

  new NAME [--template T] [--table TABLE]
                       create <version>_<name>.up.sql and .down.sql in the migrations dir
                       (from template T for TABLE, default NAME: see \`templates\`)
  templates            list the templates for \`new --template\`
  plan [--json]        what each pending migration would do: destructive, locking and security
                       findings with the rows and sizes involved, and a verdict
  approve VERSION --by ADMIN [--note TEXT]
                       approve a pending migration as its file is now (needed in production
                       for destructive or security findings; an edited file needs approving again)
  up [--to VERSION]    apply pending migrations (all, or up to and including VERSION); prints
                       each plan first; in production refuses unapproved ones
  down [N]             revert the last N applied migrations (default 1)
  status [--json]      list migrations: applied or pending, changed or missing files
  history [--json]     list every up and down run, oldest first

The migrations dir is PLINTH_MIGRATIONS_DIR (default ./plinth_migrations).
`;

export type MigrateCommand =
  | { kind: "new"; name: string; template?: string; table?: string }
  | { kind: "templates" }
  | { kind: "plan"; json: boolean }
  | { kind: "approve"; version: string; by: string; note: string | null }
  | { kind: "up"; to?: string }
  | { kind: "down"; steps: number }
  | { kind: "status"; json: boolean }
  | { kind: "history"; json: boolean };

class UsageError extends Error {}

/** Pure: the arguments after `migrate`, or a UsageError saying what is wrong. */
export function parseMigrateArgs(args: string[]): MigrateCommand {
  const [sub, ...rest] = args;
  switch (sub) {
    case "new": {
      const { flags, positional } = parseFlags(rest, ["--template", "--table"]);
      const name = positional.join(" ").trim(); // `new add posts` works like `new add_posts`
      if (!name || name.startsWith("-")) throw new UsageError("'new' needs a NAME");
      if (flags["--table"] !== undefined && flags["--template"] === undefined) throw new UsageError("--table goes with --template");
      return { kind: "new", name, template: flags["--template"], table: flags["--table"] };
    }
    case "templates":
      if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
      return { kind: "templates" };
    case "plan":
      for (const a of rest) if (a !== "--json") throw new UsageError(`unexpected argument '${a}'`);
      return { kind: "plan", json: rest.includes("--json") };
    case "approve": {
      const { flags, positional } = parseFlags(rest, ["--by", "--note"]);
      if (positional.length !== 1) throw new UsageError(positional.length ? `unexpected argument '${positional[1]}'` : "'approve' needs a VERSION");
      if (!/^\d{14}$/.test(positional[0]!)) throw new UsageError("VERSION is the 14-digit version in the file name (YYYYMMDDHHMMSS)");
      if (!flags["--by"]) throw new UsageError("'approve' needs --by ADMIN (the approving admin's email, username or id)");
      return { kind: "approve", version: positional[0]!, by: flags["--by"], note: flags["--note"] ?? null };
    }
    case "up":
      return { kind: "up", to: parseTo(rest) };
    case "down": {
      if (rest.length > 1) throw new UsageError(`unexpected argument '${rest[1]}'`);
      if (rest[0] === undefined) return { kind: "down", steps: 1 };
      if (!/^[1-9]\d*$/.test(rest[0])) throw new UsageError(`'down' takes a positive number of migrations, not '${rest[0]}'`);
      return { kind: "down", steps: Number(rest[0]) };
    }
    case "status":
    case "history":
      for (const a of rest) if (a !== "--json") throw new UsageError(`unexpected argument '${a}'`);
      return { kind: sub, json: rest.includes("--json") };
    case undefined:
      throw new UsageError("missing command");
    default:
      throw new UsageError(`unknown command '${sub}'`);
  }
}

/** `--flag value` / `--flag=value` for the given flags; everything else positional. Unknown flags are usage errors. */
function parseFlags(rest: string[], known: string[]): { flags: Record<string, string | undefined>; positional: string[] } {
  const flags: Record<string, string | undefined> = {};
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (!a.startsWith("--")) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const flag = eq > 0 ? a.slice(0, eq) : a;
    if (!known.includes(flag)) throw new UsageError(`unknown option '${flag}'`);
    const value = eq > 0 ? a.slice(eq + 1) : rest[++i];
    if (value === undefined || value === "") throw new UsageError(`${flag} needs a value`);
    if (flags[flag] !== undefined) throw new UsageError(`${flag} given twice`);
    flags[flag] = value;
  }
  return { flags, positional };
}

function parseTo(rest: string[]): string | undefined {
  if (rest.length === 0) return undefined;
  const [flag, value, ...extra] = rest[0]!.startsWith("--to=") ? ["--to", rest[0]!.slice(5), ...rest.slice(1)] : rest;
  if (flag !== "--to") throw new UsageError(`unexpected argument '${flag}'`);
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  if (!value || !/^\d{14}$/.test(value)) throw new UsageError("--to needs a version (YYYYMMDDHHMMSS, as in the file name)");
  return value;
}

export async function runMigrate(args: string[], config: Config, out: Output = processOutput): Promise<number> {
  let command: MigrateCommand;
  try {
    command = parseMigrateArgs(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    out.stderr(`plinth migrate: ${err.message}\n\n${MIGRATE_USAGE}`);
    return 2;
  }
  const dir = resolve(config.migrationsDir);
  try {
    if (command.kind === "templates") {
      out.stdout(formatTemplates());
      return 0;
    }
    if (command.kind === "new") {
      const cmd = command;
      const create = async (sql?: Sql) => {
        const content = cmd.template ? await renderTemplate(cmd.template, { table: cmd.table ?? normaliseMigrationName(cmd.name), sql }) : undefined;
        const created = await createMigration(dir, cmd.name, undefined, content);
        out.stdout(`created ${created.upFile}\ncreated ${created.downFile}\n`);
        return 0;
      };
      // Only a template that reads the schema (security-indexes) opens the database.
      if (cmd.template && findTemplate(cmd.template).needsDatabase) return await withDatabase(config, out, create);
      return await create();
    }
    return await withDatabase(config, out, (sql) => runOnDatabase(command, sql, dir, out, config));
  } catch (err) {
    reportError(err, out);
    return 1;
  }
}

/** Opens the database, runs `fn`, and always closes it (stopping an embedded server only if we started it). */
async function withDatabase(config: Config, out: Output, fn: (sql: Sql) => Promise<number>): Promise<number> {
  // Log lines go to stderr so that stdout stays parseable for `status --json`.
  const log = createLogger("warn", (line) => out.stderr(line + "\n"));
  let opened: Awaited<ReturnType<typeof openDatabase>>;
  try {
    opened = await openDatabase(config, log, { poolMax: 2 });
  } catch (err) {
    throw new Error(`could not open the database: ${messageOf(err)}`);
  }
  try {
    return await fn(opened.db.sql);
  } finally {
    await opened.close();
  }
}

async function runOnDatabase(
  command: Exclude<MigrateCommand, { kind: "new" | "templates" }>,
  sql: Sql,
  dir: string,
  out: Output,
  config: Config,
): Promise<number> {
  const opts: RunOptions = {
    onLockWait: () => out.stderr("waiting for another `plinth migrate` run to finish…\n"),
    onStep: (step) => out.stdout(formatStep(step)),
    onWarning: (w) => out.stderr(`warning: ${formatWarning(w)}\n`),
  };
  const planOpts = { exposedSchemas: config.rest.schemas };
  switch (command.kind) {
    case "plan": {
      const plans = await planPending(sql, dir, planOpts);
      const approvals = await Promise.all(plans.map((p) => approvalFor(sql, p)));
      if (command.json) out.stdout(JSON.stringify({ migrations: plans.map((p, i) => planJson(p, approvals[i])) }, null, 2) + "\n");
      else out.stdout(plans.length ? plans.map((p, i) => formatPlan(p, approvals[i] ?? null)).join("\n") : "no pending migrations\n");
      return 0;
    }
    case "approve":
      return approve(sql, dir, command, out, planOpts);
    case "up": {
      const production = config.env === "production";
      let report: Awaited<ReturnType<typeof applyMigrations>>;
      const applied: StepReport[] = [];
      try {
        report = await applyMigrations(sql, dir, {
          ...opts,
          to: command.to,
          production,
          plan: planOpts,
          onPlan: (plan, approval) => out.stdout(formatPlan(plan, approval)),
          onStep: (step) => {
            out.stdout(formatStep(step));
            applied.push(step);
          },
        });
      } catch (err) {
        if (err instanceof ApprovalError) {
          for (const p of err.plans) await auditMigration(sql, "migrations.apply", p.version, "refused", err.code, p.verdict);
        } else if (err instanceof MigrationFailedError) {
          await auditMigration(sql, "migrations.apply", err.version, "error", err.code, err.postgres.message);
        }
        throw err;
      } finally {
        for (const step of applied) await auditMigration(sql, "migrations.apply", step.version, "ok", null, null);
      }
      if (!report.applied.length) out.stdout("no pending migrations\n");
      return 0;
    }
    case "down": {
      // Each reverted version is one audit record, as each applied one is (issue 14).
      const reverted: StepReport[] = [];
      let report: Awaited<ReturnType<typeof migrateDown>>;
      try {
        report = await migrateDown(sql, dir, {
          ...opts,
          steps: command.steps,
          onStep: (step) => {
            opts.onStep?.(step);
            reverted.push(step);
          },
        });
      } catch (err) {
        if (err instanceof MigrationFailedError) await auditMigration(sql, "migrations.revert", err.version, "error", err.code, err.postgres.message);
        throw err;
      } finally {
        for (const step of reverted) await auditMigration(sql, "migrations.revert", step.version, "ok", null, null);
      }
      if (!report.reverted.length) out.stdout("no applied migrations to revert\n");
      else if (report.reverted.length < command.steps) {
        out.stdout(`${command.steps} requested, but only ${report.reverted.length} applied: all of them reverted\n`);
      }
      return 0;
    }
    case "status": {
      const states = await migrationStatus(sql, dir, { onLockWait: opts.onLockWait });
      out.stdout(command.json ? JSON.stringify(states.map(statusJson), null, 2) + "\n" : formatStatus(states, dir));
      return 0;
    }
    case "history": {
      const entries = await migrationHistory(sql, { onLockWait: opts.onLockWait });
      out.stdout(command.json ? JSON.stringify(entries.map(historyJson), null, 2) + "\n" : formatHistory(entries));
      return 0;
    }
  }
}

/** `approve`: the named admin must be an admin account allowed to change the schema (meta:write). */
async function approve(sql: Sql, dir: string, command: Extract<MigrateCommand, { kind: "approve" }>, out: Output, planOpts: PlanOptions): Promise<number> {
  try {
    const user = await findUserByRef(sql, userRefOf(command.by));
    const account = user ? await getAdmin(sql, user.id) : null;
    if (!account || !LEVEL_CAPABILITIES[account.level].has("meta:write")) {
      throw new ApprovalError(
        403,
        "not_an_approver",
        `${command.by} is not an admin account that may change the schema (system_admin or admin): \`plinth admin list\` shows them`,
      );
    }
    const by = account.email ?? user!.username ?? account.id;
    const { approval, plan } = await approveMigration(sql, dir, { version: command.version, by, adminId: account.id, note: command.note }, planOpts);
    await auditMigration(sql, "migrations.approve", command.version, "ok", null, command.note, account.id);
    out.stdout(formatPlan(plan, approval));
    out.stdout(`approved ${plan.version}_${plan.name} by ${by} (checksum ${plan.checksum.slice(0, 12)}…)\n`);
    return 0;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    await auditMigration(
      sql,
      "migrations.approve",
      command.version,
      err instanceof ApprovalError ? "refused" : "error",
      typeof code === "string" ? code : null,
      command.note,
    );
    throw err;
  }
}

/** One audit record for a CLI migration action, naming the OS user (and the approving admin). */
async function auditMigration(
  sql: Sql,
  action: string,
  version: string,
  outcome: AuditOutcome,
  errorCode: string | null,
  reason: string | null,
  adminId: string | null = null,
): Promise<void> {
  try {
    await recordAudit(sql, {
      ...actorColumns(cliActor(osUser())),
      ...(adminId ? { adminId } : {}),
      action,
      target: `migration:${version}`,
      statement: null,
      outcome,
      status: outcome === "ok" ? 0 : 1,
      errorCode,
      durationMs: 0,
      rowCount: null,
      requestId: null,
      clientIp: null,
      security: true,
      reason,
    });
  } catch (err) {
    // The action itself stands; a failing audit write must still be heard.
    process.stderr.write(`plinth migrate: could not write the audit record: ${messageOf(err)}\n`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Output

const MARK: Record<string, string> = { danger: "!!", warning: " !", info: "  " };

function formatPlan(p: MigrationPlan, approval: Approval | null): string {
  const lines = [`${label(p.version, p.name)}: ${p.verdict}`];
  if (p.error) lines.push(`   ${p.file}:${p.error.line}:${p.error.column}: ${p.error.message}`);
  for (const f of p.findings) {
    lines.push(`${MARK[f.severity]} ${f.kind} (${f.severity}), line ${f.line}: ${f.message}`);
    lines.push(`     ${f.statement.split("\n")[0]!.slice(0, 140)}`);
  }
  if (p.needsApproval) {
    lines.push(
      approval
        ? `   approved by ${approval.approvedBy} at ${approval.approvedAt.toISOString()}${approval.note ? ` (${approval.note})` : ""}`
        : "   not approved",
    );
  }
  return lines.join("\n") + "\n";
}

function formatTemplates(): string {
  const rows = TEMPLATES.map((t) => [t.name, t.description + (t.requires ? ` (needs: ${t.requires})` : "")]);
  return table(["TEMPLATE", "WHAT IT MAKES"], rows) + "\nplinth migrate new NAME --template T [--table TABLE]   (TABLE defaults to NAME)\n";
}

const label = (version: string, name: string) => `${version}_${name}`;

function formatStep(step: StepReport): string {
  const verb = step.direction === "up" ? "applied " : "reverted";
  return `${verb} ${label(step.version, step.name)} (${step.durationMs} ms)\n`;
}

function formatWarning(w: MigrationWarning): string {
  const m = label(w.version, w.name);
  switch (w.kind) {
    case "changed":
      return `${m}.up.sql changed after it was applied (checksum differs); the database has the old version`;
    case "missing_file":
      return `${m} is applied but its up file is missing from the migrations dir`;
    case "out_of_order":
      return `${m} is older than the newest applied migration; applying it out of order`;
  }
}

function formatStatus(states: MigrationState[], dir: string): string {
  if (!states.length) return `no migrations in ${dir}\n`;
  const rows = states.map((s) => {
    const flags = [s.changed && "changed", s.missingFile && "missing file", !s.downFile && "no down file"].filter(Boolean);
    return [s.version, s.name, s.applied ? "applied" : "pending", s.appliedAt?.toISOString() ?? "", flags.join(", ")];
  });
  const applied = states.filter((s) => s.applied).length;
  const summary = `${applied} applied, ${states.length - applied} pending (${dir})\n`;
  return table(["VERSION", "NAME", "STATE", "APPLIED AT", "NOTES"], rows) + summary;
}

function formatHistory(entries: HistoryEntry[]): string {
  if (!entries.length) return "no migrations have run yet\n";
  const rows = entries.map((e) => [e.at.toISOString(), e.direction, e.version, e.name, e.durationMs === null ? "" : `${e.durationMs} ms`]);
  return table(["AT", "DIRECTION", "VERSION", "NAME", "DURATION"], rows);
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd() + "\n";
  return line(head) + rows.map(line).join("");
}

/** One clear message per failure; never a stack trace. */
function reportError(err: unknown, out: Output): void {
  if (err instanceof MigrationFailedError) {
    out.stderr(formatFailure(err));
  } else if (err instanceof MigrationError || err instanceof ApprovalError || err instanceof TemplateError) {
    out.stderr(`plinth migrate: ${err.message}\n`);
  } else {
    const code = (err as { code?: unknown } | null)?.code;
    const sqlState = (err as { name?: unknown } | null)?.name === "PostgresError" ? ` (SQLSTATE ${code})` : "";
    out.stderr(`plinth migrate: ${messageOf(err)}${sqlState}\n`);
  }
}

function formatFailure(err: MigrationFailedError): string {
  const where = err.position ? `${err.file}:${err.position.line}:${err.position.column}` : err.file!;
  const pg = err.postgres;
  const lines = [
    `plinth migrate: ${err.direction} ${label(err.version, err.migrationName)} failed and was rolled back completely`,
    `  file:    ${where}`,
    `  error:   ${pg.message}${pg.code ? ` (SQLSTATE ${pg.code})` : ""}`,
  ];
  if (pg.detail) lines.push(`  detail:  ${pg.detail}`);
  if (pg.hint) lines.push(`  hint:    ${pg.hint}`);
  if (pg.where) lines.push(`  context: ${pg.where}`);
  if (err.position && err.sourceLine !== undefined) {
    const gutter = String(err.position.line);
    // Keep tabs in the caret line so the caret lands under the right character.
    const pad = [...err.sourceLine]
      .slice(0, err.position.column - 1)
      .map((c) => (c === "\t" ? "\t" : " "))
      .join("");
    lines.push("", `  ${gutter} | ${err.sourceLine}`, `  ${" ".repeat(gutter.length)} | ${pad}^`);
  }
  lines.push(
    "",
    err.direction === "up"
      ? "Migrations applied before it in this run stay applied; fix the file and run `plinth migrate up` again."
      : "Migrations reverted before it in this run stay reverted; fix the down file and run `plinth migrate down` again.",
  );
  return lines.join("\n") + "\n";
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
