// GET /admin/v1/tables/{schema}/{table}/security: the stored document (when an admin set one), and
// always what is in force — RLS, every policy (Plinth's own marked), the API roles' privileges —
// described in plain sentences, with warnings about what is open or has drifted from the document.
import type { Sql } from "../../../db/pool.ts";
import { AdminErrors } from "../../errors.ts";
import { API_ROLES, planAccess, POLICY_PREFIX } from "./access.ts";
import { detectConflicts, grantText } from "./conflicts.ts";
import type { TableSecurityDocument } from "./document.ts";
import { warning, type Finding } from "./findings.ts";
import { readTableState, type Grant, type TableState } from "./state.ts";

export interface SecurityView {
  schema: string;
  table: string;
  document: TableSecurityDocument | null;
  migration: string | null;
  updated_at: Date | null;
  rls_enabled: boolean;
  rls_forced: boolean;
  policies: Array<TableState["policies"][number] & { managed: boolean }>;
  grants: Array<{ grantee: string; privileges: string[]; column: string | null }>;
  described: string[];
  warnings: Finding[];
}

export async function describeTableSecurity(sql: Sql, schema: string, table: string): Promise<SecurityView> {
  const state = await sql.begin("isolation level repeatable read read only", (tx) => readTableState(tx, schema, table));
  if (!state) throw AdminErrors.notFound(`Table ${schema}.${table}`);
  const doc = state.stored?.document ?? null;
  const warnings: Finding[] = [];
  if (doc) {
    const plan = planAccess(
      doc,
      schema,
      table,
      state.columns.map((c) => c.name),
    );
    // Against the document as stored: what differs now was changed by hand since.
    for (const f of detectConflicts(doc, state, plan)) {
      if (f.code === "grant_revoked" || f.code === "public_grant_revoked" || f.code === "grant_contradicts_column_rule")
        warnings.push(warning("grant_outside_document", `Grant ${f.grant} is not part of the document (granted by hand since)`, { grant: f.grant }));
      else if (f.code !== "redundant_policy") warnings.push({ ...f, severity: "warning" });
    }
    const expected = new Set(plan.policies.map((p) => p.name));
    const actual = new Set(state.policies.filter((p) => p.name.startsWith(POLICY_PREFIX)).map((p) => p.name));
    const missing = [...expected].filter((n) => !actual.has(n));
    const extra = [...actual].filter((n) => !expected.has(n));
    if (!state.rls || missing.length || extra.length) {
      warnings.push(
        warning(
          "drifted",
          `The table no longer matches its document (${[!state.rls ? "RLS is off" : "", missing.length ? `missing ${missing.join(", ")}` : "", extra.length ? `extra ${extra.join(", ")}` : ""].filter(Boolean).join("; ")}): PUT the document again`,
        ),
      );
    }
  } else {
    warnings.push(
      ...detectConflicts({ template: "admin_only" }, state, planAccess({ template: "admin_only" }, schema, table, [])).filter(
        (f) => f.code === "rls_off_with_grants",
      ),
    );
  }
  return {
    schema,
    table,
    document: doc,
    migration: state.stored?.migration ?? null,
    updated_at: state.stored?.updated_at ?? null,
    rls_enabled: state.rls,
    rls_forced: state.forceRls,
    policies: state.policies.map((p) => ({ ...p, managed: p.name.startsWith(POLICY_PREFIX) })),
    grants: groupGrants(state.grants),
    described: describe(state),
    warnings,
  };
}

function groupGrants(grants: Grant[]) {
  const out = new Map<string, { grantee: string; privileges: string[]; column: string | null }>();
  for (const g of grants) {
    const key = `${g.grantee}\0${g.column ?? ""}`;
    const entry = out.get(key) ?? { grantee: g.grantee, privileges: [], column: g.column };
    entry.privileges.push(g.grantable ? `${g.privilege} WITH GRANT OPTION` : g.privilege);
    out.set(key, entry);
  }
  return [...out.values()];
}

/** Plain sentences: who reaches what, as the table is now. */
function describe(state: TableState): string[] {
  const lines: string[] = [];
  const name = `${state.schema}.${state.table}`;
  lines.push(
    state.rls
      ? `Row level security is on${state.forceRls ? " (forced, the owner included)" : ""}: the API roles reach only the rows a policy lets them.`
      : `Row level security is off: every role holding a privilege on ${name} reaches every row.`,
  );
  for (const role of ["PUBLIC", ...API_ROLES, "service_role"]) {
    const mine = state.grants.filter((g) => g.grantee === role);
    if (!mine.length) {
      if (role !== "PUBLIC") lines.push(`${role} holds no privilege on ${name}.`);
      continue;
    }
    lines.push(`${role} holds ${mine.map((g) => grantText(g, state.schema, state.table).replace(` on ${name} to ${role}`, "")).join(", ")}.`);
  }
  lines.push("service_role bypasses row level security.");
  for (const p of state.policies) {
    lines.push(
      `Policy ${p.name} (${p.permissive ? "permissive" : "restrictive"}, ${p.command}, to ${p.roles.join(", ")})` +
        `${p.using ? ` USING ${p.using}` : ""}${p.with_check ? ` WITH CHECK ${p.with_check}` : ""}${p.name.startsWith(POLICY_PREFIX) ? " — Plinth's" : " — hand-written"}.`,
    );
  }
  if (state.rls && !state.policies.length) lines.push("No policy: the API roles reach no row (service_role still does).");
  return lines;
}
