// What validation and conflict detection report: errors stop the change (400 for a document that
// does not fit the table, 409 for one that contradicts what the table already has), warnings ride
// along with the dry run and the applied change. Each names what it is about (column, policy, grant).
import { AdminError } from "../../errors.ts";

export interface Finding {
  severity: "error" | "warning";
  /** Stable: `owner_column_not_uuid`, `conflicting_policy`, `grant_revoked`, … */
  code: string;
  message: string;
  column?: string;
  policy?: string;
  /** e.g. "SELECT on public.notes to anon" or "SELECT (email) on public.notes to anon". */
  grant?: string;
  /** True for a finding about what the table has now (conflicts), false for the document alone. */
  conflict?: boolean;
}

export const error = (code: string, message: string, about: Partial<Finding> = {}): Finding => ({ severity: "error", code, message, ...about });
export const warning = (code: string, message: string, about: Partial<Finding> = {}): Finding => ({ severity: "warning", code, message, ...about });

/** Throws when any finding is an error: its code becomes the answer's; every finding goes in details. */
export function refuseOnErrors(findings: Finding[]): void {
  const errors = findings.filter((f) => f.severity === "error");
  if (!errors.length) return;
  const first = errors[0]!;
  const warnings = findings.filter((f) => f.severity === "warning");
  const status = first.conflict ? 409 : 400;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more: see details.errors)` : "";
  throw new AdminError(status, first.code, `${first.message}${more}`, { errors, warnings });
}
