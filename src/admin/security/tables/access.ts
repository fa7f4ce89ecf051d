// The document as access rules, before any SQL: for each operation and API role, the row condition
// (a policy), and which columns the role's privilege covers (table-wide or a column list). Pure: the
// catalog facts it needs (the column names) are given. The column rules' limits are decided here:
// column privileges are per database role, so `owner` or `team` in a column rule can only be
// enforced when every authenticated caller who reaches the rows for that operation is that owner or
// team member already (owner_only + `email: {read: ["owner"]}` works; public_read_owner_write with
// the same rule cannot, and is refused rather than silently widened).
import { ident, qualified, splitQualified } from "../../meta/ident.ts";
import { operationAudiences, OPERATIONS, type Audience, type Operation, type TableSecurityDocument } from "./document.ts";
import { error, warning, type Finding } from "./findings.ts";

export const API_ROLES = ["anon", "authenticated"] as const;
export type ApiRole = (typeof API_ROLES)[number];

/** Policies this feature makes are named plinth_sec_<operation>_<role>: the prefix says they are ours. */
export const POLICY_PREFIX = "plinth_sec_";
export const policyName = (op: Operation, role: ApiRole) => `${POLICY_PREFIX}${op}_${role}`;
/** The alias of the membership table inside the team condition (not a name a table of the user may take). */
export const MEMBER_ALIAS = "plinth_sec_member";

export interface PlannedPolicy {
  name: string;
  operation: Operation;
  role: ApiRole;
  /** SQL boolean expression ("true" for everyone of the role). */
  condition: string;
}

export interface PlannedGrant {
  role: ApiRole | "service_role";
  privilege: "SELECT" | "INSERT" | "UPDATE" | "DELETE" | "ALL";
  /** null: the whole table. */
  columns: string[] | null;
}

export interface AccessPlan {
  audiences: Record<Operation, ReadonlySet<Audience>>;
  policies: PlannedPolicy[];
  grants: PlannedGrant[];
  findings: Finding[];
}

const PRIVILEGE: Record<Operation, PlannedGrant["privilege"]> = { select: "SELECT", insert: "INSERT", update: "UPDATE", delete: "DELETE" };
const AUTH_AUDIENCES: readonly Audience[] = ["authenticated", "owner", "team"];

export function planAccess(doc: TableSecurityDocument, schema: string, table: string, columnNames: readonly string[]): AccessPlan {
  const audiences = operationAudiences(doc);
  const findings: Finding[] = [];
  const uid = "(select auth.uid())";
  const conditionOf = (a: Audience): string => {
    if (a === "owner") return `${ident(doc.owner_column ?? "owner_id")} = ${uid}`;
    if (a === "team") {
      const team = doc.team;
      if (!team) return "false"; // refused by validation (team_required) before any SQL is used
      let m: { schema: string; name: string };
      try {
        m = splitQualified(team.membership.table, schema);
      } catch {
        return "false"; // not a table name: refused by validation (membership_table_not_found)
      }
      return (
        `exists (select 1 from ${qualified(m.schema, m.name)} ${ident(MEMBER_ALIAS)} ` +
        `where ${ident(MEMBER_ALIAS)}.${ident(team.membership.team_column)} = ${ident(table)}.${ident(team.column)} ` +
        `and ${ident(MEMBER_ALIAS)}.${ident(team.membership.user_column)} = ${uid})`
      );
    }
    return "true";
  };

  const policies: PlannedPolicy[] = [];
  for (const op of OPERATIONS) {
    const aud = audiences[op];
    if (aud.has("anon")) policies.push({ name: policyName(op, "anon"), operation: op, role: "anon", condition: "true" });
    const auth = AUTH_AUDIENCES.filter((a) => aud.has(a));
    if (auth.length) {
      const condition = auth.includes("authenticated") ? "true" : auth.map(conditionOf).join(" or ");
      policies.push({ name: policyName(op, "authenticated"), operation: op, role: "authenticated", condition });
    }
  }

  // Columns: which of them each role's privilege for an operation covers.
  const rules = doc.columns ?? {};
  const grants: PlannedGrant[] = [{ role: "service_role", privilege: "ALL", columns: null }];
  for (const op of OPERATIONS) {
    const aud = audiences[op];
    for (const role of API_ROLES) {
      const reaches = role === "anon" ? aud.has("anon") : AUTH_AUDIENCES.some((a) => aud.has(a));
      if (!reaches) continue;
      if (op === "delete") {
        grants.push({ role, privilege: "DELETE", columns: null });
        continue;
      }
      const kind = op === "select" ? "read" : "write";
      const allowed: string[] = [];
      for (const column of columnNames) {
        const rule = rules[column]?.[kind];
        if (!rule || columnAllows(rule, role, aud, column, kind, op, findings)) allowed.push(column);
      }
      if (allowed.length === columnNames.length) grants.push({ role, privilege: PRIVILEGE[op], columns: null });
      else if (allowed.length) grants.push({ role, privilege: PRIVILEGE[op], columns: allowed });
      else
        findings.push(
          warning("no_columns_left", `${role} may ${op} rows but no column: the column rules leave it none, so it gets no ${PRIVILEGE[op]} privilege`),
        );
    }
  }
  // A column rule that names someone who cannot reach the rows at all grants nothing.
  for (const [column, rule] of Object.entries(rules)) {
    for (const kind of ["read", "write"] as const) {
      const ops: Operation[] = kind === "read" ? ["select"] : ["insert", "update"];
      for (const a of rule[kind] ?? []) {
        if (a === "service_role") continue;
        if (!ops.some((op) => reachesAs(a, audiences[op]))) {
          findings.push(
            warning("column_rule_unused", `columns.${column}.${kind} names ${a}, who cannot ${ops.join(" or ")} rows of this table: it grants nothing`, {
              column,
            }),
          );
        }
      }
    }
  }
  return { audiences, policies, grants, findings };
}

/** Whether audience `a` reaches rows for the operation whose audiences are `aud`. */
function reachesAs(a: Audience, aud: ReadonlySet<Audience>): boolean {
  if (aud.has(a)) return true;
  // An authenticated caller is also an owner or a team member of the rows it reaches.
  return (a === "owner" || a === "team") && aud.has("authenticated");
}

function columnAllows(
  rule: readonly Audience[],
  role: "anon" | "authenticated",
  aud: ReadonlySet<Audience>,
  column: string,
  kind: "read" | "write",
  op: Operation,
  findings: Finding[],
): boolean {
  if (role === "anon") return rule.includes("anon");
  if (rule.includes("authenticated")) return true;
  const narrow: Audience[] = rule.filter((a) => a === "owner" || a === "team");
  if (!narrow.length) return false;
  // Every way an authenticated caller reaches the rows for this operation must be one the rule names.
  const ways = AUTH_AUDIENCES.filter((a) => aud.has(a));
  if (ways.every((w) => narrow.includes(w))) return true;
  const already = findings.some((f) => f.code === "column_rule_not_enforceable" && f.column === column && f.message.startsWith(`columns.${column}.${kind} `));
  if (!already) {
    findings.push(
      error(
        "column_rule_not_enforceable",
        `columns.${column}.${kind} names ${narrow.join(", ")}, but authenticated callers reach rows for ${op} as ${ways.join(", ")}: ` +
          `column privileges are per role, so this column cannot be limited to ${narrow.join(", ")} here ` +
          `(name authenticated, leave it out, or narrow the operation to ${narrow.join(", ")})`,
        { column },
      ),
    );
  }
  return false;
}
