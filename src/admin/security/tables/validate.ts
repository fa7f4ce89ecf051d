// Does the document fit the table? Owner column present and holding user ids (uuid, what auth.uid()
// returns), the team's membership table present with the named columns and comparable types and
// readable by the callers (the membership check runs as them), the roles each template needs,
// columns that exist, policies to replace that exist. Reads the catalog; refuses nothing itself.
import type { Queryable } from "../../../catalog/queryable.ts";
import { splitQualified } from "../../meta/ident.ts";
import type { AccessPlan } from "./access.ts";
import { MEMBER_ALIAS, POLICY_PREFIX } from "./access.ts";
import { OPERATIONS, type Audience, type TableSecurityDocument } from "./document.ts";
import { error, warning, type Finding } from "./findings.ts";
import { canReadColumn, otherTable, type TableState } from "./state.ts";

const USES_OWNER = new Set(["owner_only", "public_read_owner_write"]);

export async function validateDocument(tx: Queryable, doc: TableSecurityDocument, state: TableState, plan: AccessPlan): Promise<Finding[]> {
  const findings: Finding[] = [];
  const column = (name: string) => state.columns.find((c) => c.name === name);
  const named = (a: Audience) =>
    OPERATIONS.some((op) => plan.audiences[op].has(a)) || Object.values(doc.columns ?? {}).some((r) => r.read?.includes(a) || r.write?.includes(a));

  if (doc.operations && doc.template !== "custom") {
    findings.push(error("operations_need_custom", `operations are only read with the custom template (this one is ${doc.template})`));
  }
  if (state.table === MEMBER_ALIAS) findings.push(error("reserved_table_name", `${MEMBER_ALIAS} is the name Plinth's team condition uses; rename the table`));

  // The owner column.
  const needsOwner = USES_OWNER.has(doc.template) || named("owner");
  if (needsOwner && !doc.owner_column) {
    findings.push(error("owner_column_required", `owner_column is required: the ${doc.template} template or a rule names owner`));
  } else if (doc.owner_column) {
    const c = column(doc.owner_column);
    if (!c)
      findings.push(
        error("unknown_column", `owner_column ${doc.owner_column} is not a column of ${state.schema}.${state.table}`, { column: doc.owner_column }),
      );
    else if (c.type !== "uuid")
      findings.push(
        error("owner_column_not_uuid", `owner_column ${doc.owner_column} is ${c.type}; it must be uuid to hold user ids (auth.uid())`, {
          column: doc.owner_column,
        }),
      );
    if (!needsOwner)
      findings.push(warning("owner_column_unused", `owner_column is not used by the ${doc.template} template or any rule`, { column: doc.owner_column }));
  }

  // The team and its membership table.
  const needsTeam = doc.template === "team" || named("team");
  if (needsTeam && !doc.team) findings.push(error("team_required", "team is required (column and membership table): the team template or a rule names team"));
  else if (doc.team) {
    const t = doc.team;
    const rowColumn = column(t.column);
    if (!rowColumn) findings.push(error("unknown_column", `team.column ${t.column} is not a column of ${state.schema}.${state.table}`, { column: t.column }));
    let m: { schema: string; name: string } | null = null;
    try {
      m = splitQualified(t.membership.table, state.schema);
    } catch {
      findings.push(error("membership_table_not_found", `team.membership.table "${t.membership.table}" is not a table name`));
    }
    const membership = m ? await otherTable(tx, m.schema, m.name) : null;
    if (m && !membership) findings.push(error("membership_table_not_found", `Membership table ${m.schema}.${m.name} does not exist`));
    if (m && membership) {
      const teamCol = membership.columns.find((c) => c.name === t.membership.team_column);
      const userCol = membership.columns.find((c) => c.name === t.membership.user_column);
      for (const [what, name, found] of [
        ["team_column", t.membership.team_column, teamCol],
        ["user_column", t.membership.user_column, userCol],
      ] as const) {
        if (!found)
          findings.push(error("membership_column_missing", `team.membership.${what} ${name} is not a column of ${m.schema}.${m.name}`, { column: name }));
      }
      if (userCol && userCol.type !== "uuid")
        findings.push(
          error("membership_user_column_not_uuid", `team.membership.user_column ${userCol.name} is ${userCol.type}; it must be uuid (user ids)`, {
            column: userCol.name,
          }),
        );
      if (teamCol && rowColumn && teamCol.typeOid !== rowColumn.typeOid)
        findings.push(
          error(
            "team_column_type_mismatch",
            `team.column ${rowColumn.name} is ${rowColumn.type} but ${m.schema}.${m.name}.${teamCol.name} is ${teamCol.type}: they must be the same type`,
            { column: rowColumn.name },
          ),
        );
      if (teamCol && userCol) {
        for (const c of [teamCol, userCol]) {
          if (!(await canReadColumn(tx, "authenticated", membership.oid, c.name))) {
            findings.push(
              error(
                "membership_not_readable",
                `authenticated may not read ${m.schema}.${m.name}.${c.name}: the membership check runs as the caller, so grant it SELECT on that column ` +
                  `(and, with RLS on that table, a policy that shows callers their own membership rows)`,
                { column: c.name },
              ),
            );
          }
        }
      }
    }
  }

  // Column rules name columns of this table.
  for (const name of Object.keys(doc.columns ?? {})) {
    if (!column(name)) findings.push(error("unknown_column", `columns.${name}: no such column in ${state.schema}.${state.table}`, { column: name }));
  }

  // Policies to replace must exist and be hand-written (ours are replaced anyway).
  for (const name of doc.replace_policies ?? []) {
    if (!state.policies.some((p) => p.name === name))
      findings.push(error("unknown_policy", `replace_policies names ${name}, which is not a policy on ${state.schema}.${state.table}`, { policy: name }));
    else if (name.startsWith(POLICY_PREFIX))
      findings.push(warning("own_policy_listed", `${name} is one of Plinth's own policies: it is replaced anyway`, { policy: name }));
  }

  if (doc.template === "custom" && OPERATIONS.every((op) => plan.audiences[op].size === 0)) {
    findings.push(
      warning("nobody_allowed", "custom names nobody for any operation: only service_role reaches the table (the admin_only template says so directly)"),
    );
  }
  // An owner who may insert but not write the owner column can only insert rows its default fills.
  const ownerRule = doc.owner_column ? doc.columns?.[doc.owner_column]?.write : undefined;
  if (ownerRule && plan.audiences.insert.has("owner") && !ownerRule.includes("owner") && !ownerRule.includes("authenticated")) {
    findings.push(
      warning("owner_column_read_only", `owners may insert but not write ${doc.owner_column}: inserts work only where its default fills in auth.uid()`, {
        column: doc.owner_column,
      }),
    );
  }
  return [...findings, ...plan.findings];
}
