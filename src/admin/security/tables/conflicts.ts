// What the table already has that the document would contradict: hand-written permissive policies
// that let a role reach rows the document keeps from it (policies OR together, so one such policy
// undoes the document: an error until it is listed in replace_policies), restrictive ones that will
// narrow it (a warning), grants that will be revoked or narrowed (each named), and RLS off while the
// API roles hold grants (every row open to them until the change applies). Pure, given the state.
import { API_ROLES, POLICY_PREFIX, type AccessPlan, type ApiRole } from "./access.ts";
import { OPERATIONS, type Operation, type TableSecurityDocument } from "./document.ts";
import { error, warning, type Finding } from "./findings.ts";
import type { Grant, TableState } from "./state.ts";

const opsOf = (command: string): Operation[] => (command === "all" ? [...OPERATIONS] : [command as Operation]);

/** The API roles a policy applies to ("public" applies to every role). */
const apiRolesOf = (roles: string[]): ApiRole[] => (roles.includes("public") ? [...API_ROLES] : API_ROLES.filter((r) => roles.includes(r)));

export const grantText = (g: Pick<Grant, "grantee" | "privilege" | "column">, schema: string, table: string) =>
  `${g.privilege}${g.column ? ` (${g.column})` : ""} on ${schema}.${table} to ${g.grantee}`;

export function detectConflicts(doc: TableSecurityDocument, state: TableState, plan: AccessPlan): Finding[] {
  const findings: Finding[] = [];
  const replaced = new Set(doc.replace_policies ?? []);
  const planned = (op: Operation, role: ApiRole) => plan.policies.find((p) => p.operation === op && p.role === role);

  for (const p of state.policies) {
    if (p.name.startsWith(POLICY_PREFIX) || replaced.has(p.name)) continue;
    const roles = apiRolesOf(p.roles);
    if (!roles.length) continue; // service_role bypasses RLS; other roles are not the API's
    if (!p.permissive) {
      findings.push(
        warning("restrictive_policy", `Restrictive policy ${p.name} (${p.command}, to ${p.roles.join(", ")}) stays and narrows what the document allows`, {
          policy: p.name,
          conflict: true,
        }),
      );
      continue;
    }
    const widened: string[] = [];
    for (const op of opsOf(p.command)) {
      for (const role of roles) {
        const mine = planned(op, role);
        if (!mine || mine.condition !== "true") widened.push(`${role} ${op}`);
      }
    }
    if (widened.length) {
      findings.push(
        error(
          "conflicting_policy",
          `Permissive policy ${p.name} (${p.command}, to ${p.roles.join(", ")}) may let ${widened.join(", ")} reach rows the document keeps from them ` +
            `(permissive policies add up): list it in replace_policies to drop it with this change, or drop it first`,
          { policy: p.name, conflict: true },
        ),
      );
    } else {
      findings.push(
        warning("redundant_policy", `Permissive policy ${p.name} allows nothing beyond the document (it stays)`, { policy: p.name, conflict: true }),
      );
    }
  }

  // Grants now held by the API roles (and PUBLIC) that the compiled grants do not keep.
  const kept = (g: Grant): boolean => {
    if (g.grantee === "PUBLIC") return false;
    if (g.grantee === "service_role") return !g.grantable;
    return plan.grants.some(
      (p) =>
        p.role === g.grantee &&
        (p.privilege === g.privilege || p.privilege === "ALL") &&
        (p.columns === null || (g.column !== null && p.columns.includes(g.column))),
    );
  };
  const hidden = (g: Grant) => {
    if (g.grantee !== "anon" && g.grantee !== "authenticated" && g.grantee !== "PUBLIC") return null;
    const kind = g.privilege === "SELECT" ? "read" : g.privilege === "INSERT" || g.privilege === "UPDATE" ? "write" : null;
    if (!kind) return null;
    const ruled = Object.entries(doc.columns ?? {}).filter(([, r]) => r[kind] !== undefined);
    return ruled.find(([c]) => g.column === null || g.column === c)?.[0] ?? null;
  };
  for (const g of state.grants) {
    if (g.grantor) {
      const text = grantText(g, state.schema, state.table);
      findings.push(
        error(
          "grant_by_other_grantor",
          `Grant ${text} was made by ${g.grantor}, not the table's owner: this change could neither revoke nor restore it exactly; revoke it as ${g.grantor} first`,
          { grant: text, conflict: true },
        ),
      );
      continue;
    }
    if (kept(g)) continue;
    const text = grantText(g, state.schema, state.table);
    const column = hidden(g);
    if (column) {
      findings.push(
        warning("grant_contradicts_column_rule", `Grant ${text} contradicts the rule for column ${column}: it is revoked`, {
          grant: text,
          column,
          conflict: true,
        }),
      );
    } else if (g.grantee === "PUBLIC") {
      findings.push(warning("public_grant_revoked", `Grant ${text} reaches every role, anon included: it is revoked`, { grant: text, conflict: true }));
    } else if (g.grantee !== "service_role") {
      findings.push(warning("grant_revoked", `Grant ${text} is not part of the document: it is revoked`, { grant: text, conflict: true }));
    }
  }

  if (!state.rls) {
    const open = state.grants.filter((g) => g.grantee === "anon" || g.grantee === "PUBLIC");
    if (open.length) {
      const privileges = [...new Set(open.map((g) => g.privilege))].join(", ");
      findings.push(
        warning(
          "rls_off_with_grants",
          `Row level security is off on ${state.schema}.${state.table} while anon holds ${privileges}: every row is open to it (this change turns RLS on)`,
          {
            conflict: true,
          },
        ),
      );
    }
  }
  return findings;
}
