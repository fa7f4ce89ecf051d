// Approvals of user migrations (plinth.migration_approvals, system migration 0019) and the gate
// `migrate up` passes in production: a migration whose plan has destructive or security findings
// (or that the parser rejects) runs only when an admin approved exactly that file. The approval
// binds the file's checksum: an edited file is another file, and the old approval does not cover it.
//
// Traps:
// - The gate runs inside migrateUp's check (user.ts), on the locked connection, against the text
//   and checksum that will run: a file swapped between `plan` and `up` is planned again, and its
//   old approval no longer matches.
// - Approving is only for a pending migration that exists as a file: an unknown version or one
//   already applied is refused (an approval must never wait around for a file to appear later).
import type { Sql } from "../../db/pool.ts";
import { PlinthError } from "../../errors.ts";
import { migrationStatus } from "../../db/migrations/user.ts";
import { planFile, readMigrationFile, type MigrationPlan, type PlanOptions } from "./plan.ts";

export class ApprovalError extends PlinthError {
  constructor(
    status: number,
    code: "approval_required" | "unknown_version" | "already_applied" | "missing_up_file" | "not_an_approver" | "invalid_approval",
    message: string,
    /** The plans refused (approval_required). */
    readonly plans: MigrationPlan[] = [],
  ) {
    super(status, code, message);
    this.name = "ApprovalError";
  }
}

export interface Approval {
  id: number;
  version: string;
  name: string;
  checksum: string;
  approvedBy: string;
  adminId: string | null;
  note: string | null;
  verdict: string;
  approvedAt: Date;
}

interface ApprovalRow {
  id: string;
  version: string;
  name: string;
  checksum: string;
  approved_by: string;
  admin_id: string | null;
  note: string | null;
  verdict: string;
  approved_at: Date;
}

const approvalOf = (r: ApprovalRow): Approval => ({
  id: Number(r.id),
  version: r.version,
  name: r.name,
  checksum: r.checksum,
  approvedBy: r.approved_by,
  adminId: r.admin_id,
  note: r.note,
  verdict: r.verdict,
  approvedAt: r.approved_at,
});

export const approvalJson = (a: Approval) => ({
  id: a.id,
  version: a.version,
  name: a.name,
  checksum: a.checksum,
  approved_by: a.approvedBy,
  admin_id: a.adminId,
  note: a.note,
  verdict: a.verdict,
  approved_at: a.approvedAt.toISOString(),
});

const MAX_NOTE = 2000;

/**
 * Records an approval of the pending migration `version` as its file is now. Returns the approval
 * and the plan the approver approved.
 */
export async function approveMigration(
  sql: Sql,
  dir: string,
  input: { version: string; by: string; adminId: string | null; note: string | null },
  opts: PlanOptions,
): Promise<{ approval: Approval; plan: MigrationPlan }> {
  if (!/^\d{14}$/.test(input.version)) throw new ApprovalError(400, "invalid_approval", "VERSION is the 14-digit version in the file name (YYYYMMDDHHMMSS)");
  if (input.note !== null && (input.note.length > MAX_NOTE || input.note.includes("\0"))) {
    throw new ApprovalError(400, "invalid_approval", `the note must be at most ${MAX_NOTE} characters, without NUL`);
  }
  const state = (await migrationStatus(sql, dir)).find((s) => s.version === input.version);
  if (!state) throw new ApprovalError(404, "unknown_version", `unknown version ${input.version}: no such migration file in ${dir}`);
  if (state.applied) throw new ApprovalError(409, "already_applied", `${input.version}_${state.name} is already applied: nothing to approve`);
  if (!state.upFile) throw new ApprovalError(409, "missing_up_file", `${input.version}_${state.name} has no up file`);
  const file = await readMigrationFile(state.upFile);
  const plan = await planFile(sql, { version: state.version, name: state.name, path: state.upFile, ...file }, opts);
  const [row] = await sql<ApprovalRow[]>`
    insert into plinth.migration_approvals (version, name, checksum, approved_by, admin_id, note, verdict)
    values (${state.version}, ${state.name}, ${file.checksum}, ${input.by}, ${input.adminId}, ${input.note}, ${plan.verdict})
    returning id::text, version, name, checksum, approved_by, admin_id, note, verdict, approved_at`;
  return { approval: approvalOf(row!), plan };
}

/** Approvals of some versions (all when none given), newest first. */
export async function listApprovals(sql: Sql, versions?: readonly string[]): Promise<Approval[]> {
  const rows = await sql<ApprovalRow[]>`
    select id::text, version, name, checksum, approved_by, admin_id, note, verdict, approved_at
    from plinth.migration_approvals
    where ${versions ? sql`version = any(${versions as string[]})` : sql`true`}
    order by id desc`;
  return rows.map(approvalOf);
}

/** The approval that covers this plan's file exactly, if any. */
export async function approvalFor(sql: Sql, plan: MigrationPlan): Promise<Approval | null> {
  const rows = await sql<ApprovalRow[]>`
    select id::text, version, name, checksum, approved_by, admin_id, note, verdict, approved_at
    from plinth.migration_approvals where version = ${plan.version} and checksum = ${plan.checksum}
    order by id desc limit 1`;
  return rows[0] ? approvalOf(rows[0]) : null;
}

/**
 * The production gate for one planned file: passes when it needs no approval or has one for this
 * checksum; otherwise throws approval_required saying why (an approval of an earlier edit of the
 * file is named, so the operator knows to approve again).
 */
export async function requireApproval(sql: Sql, plan: MigrationPlan): Promise<Approval | null> {
  if (!plan.needsApproval) return null;
  const approval = await approvalFor(sql, plan);
  if (approval) return approval;
  const older = await sql<{ n: number }[]>`select count(*)::int as n from plinth.migration_approvals where version = ${plan.version}`;
  const label = `${plan.version}_${plan.name}`;
  const why = older[0]!.n
    ? `${label} was approved, but the file changed since (checksum differs): approve it again`
    : `${label} needs approval in production: ${plan.verdict}`;
  throw new ApprovalError(
    409,
    "approval_required",
    `${why}. Review it with \`plinth migrate plan\`, then \`plinth migrate approve ${plan.version} --by ADMIN\``,
    [plan],
  );
}
