// The access plan as SQL: the up statements (RLS on, Plinth's policies replaced, the API roles'
// privileges revoked and granted again as planned, the document stored) and the down statements that
// put back exactly what the table had (its policies — hand-written ones this change dropped included —
// its privileges table- and column-wide, RLS as it was, the document before). Identifiers go through
// ident(); the only SQL not built here is the USING/WITH CHECK text of existing policies, which is
// PostgreSQL's own deparse (pg_policies) and goes back as it came.
import { ident, literal, qualified } from "../../meta/ident.ts";
import type { AccessPlan, PlannedPolicy } from "./access.ts";
import { POLICY_PREFIX } from "./access.ts";
import type { TableSecurityDocument } from "./document.ts";
import { MANAGED_GRANTEES, type Grant, type TableState } from "./state.ts";
import type { PolicyInfo } from "../../meta/introspect/policies.sql.ts";

export interface CompiledChange {
  up: string[];
  down: string[];
}

const roleSql = (r: string) => (r.toLowerCase() === "public" ? "PUBLIC" : ident(r));

function createPlanned(p: PlannedPolicy, target: string): string {
  const clause =
    p.operation === "insert"
      ? `WITH CHECK (${p.condition})`
      : p.operation === "update"
        ? `USING (${p.condition}) WITH CHECK (${p.condition})`
        : `USING (${p.condition})`;
  return `CREATE POLICY ${ident(p.name)} ON ${target} AS PERMISSIVE FOR ${p.operation.toUpperCase()} TO ${roleSql(p.role)} ${clause}`;
}

/** An existing policy as it is (for the down file). */
function recreate(p: PolicyInfo, target: string): string {
  const using = p.using !== null ? ` USING (${p.using})` : "";
  const check = p.with_check !== null ? ` WITH CHECK (${p.with_check})` : "";
  return (
    `CREATE POLICY ${ident(p.name)} ON ${target} AS ${p.permissive ? "PERMISSIVE" : "RESTRICTIVE"} FOR ${p.command.toUpperCase()} ` +
    `TO ${p.roles.map(roleSql).join(", ")}${using}${check}`
  );
}

/** GRANT statements that give `grants` back (grouped by grantee, column and grant option). */
function grantStatements(grants: Grant[], target: string): string[] {
  const groups = new Map<string, { grantee: string; column: string | null; grantable: boolean; privileges: string[] }>();
  for (const g of grants) {
    const key = `${g.grantee}\0${g.column ?? ""}\0${g.grantable}`;
    const group = groups.get(key) ?? { grantee: g.grantee, column: g.column, grantable: g.grantable, privileges: [] };
    group.privileges.push(g.privilege);
    groups.set(key, group);
  }
  return [...groups.values()].map(
    (g) =>
      `GRANT ${g.privileges.map((p) => (g.column ? `${p} (${ident(g.column)})` : p)).join(", ")} ON TABLE ${target} TO ${roleSql(g.grantee)}` +
      (g.grantable ? " WITH GRANT OPTION" : ""),
  );
}

const storeDocument = (schema: string, table: string, doc: TableSecurityDocument, migration: string) =>
  `INSERT INTO plinth.table_security (schema_name, table_name, document, migration) VALUES (${literal(schema)}, ${literal(table)}, ${literal(JSON.stringify(doc))}::jsonb, ${literal(migration)}) ` +
  `ON CONFLICT (schema_name, table_name) DO UPDATE SET document = excluded.document, migration = excluded.migration, updated_at = now()`;

export function compileChange(doc: TableSecurityDocument, state: TableState, plan: AccessPlan, migration: string): CompiledChange {
  const target = qualified(state.schema, state.table);
  const revokeAll = `REVOKE ALL ON TABLE ${target} FROM ${MANAGED_GRANTEES.map(roleSql).join(", ")}`;
  const replaced = new Set(doc.replace_policies ?? []);
  const dropped = state.policies.filter((p) => p.name.startsWith(POLICY_PREFIX) || replaced.has(p.name));

  const up: string[] = [`ALTER TABLE ${target} ENABLE ROW LEVEL SECURITY`];
  for (const p of dropped) up.push(`DROP POLICY ${ident(p.name)} ON ${target}`);
  for (const p of plan.policies) up.push(createPlanned(p, target));
  up.push(revokeAll);
  for (const g of plan.grants) {
    const privilege = g.columns ? `${g.privilege} (${g.columns.map(ident).join(", ")})` : g.privilege;
    up.push(`GRANT ${privilege} ON TABLE ${target} TO ${roleSql(g.role)}`);
  }
  up.push(storeDocument(state.schema, state.table, doc, migration));

  const down: string[] = [];
  for (const p of plan.policies) down.push(`DROP POLICY ${ident(p.name)} ON ${target}`);
  for (const p of dropped) down.push(recreate(p, target));
  down.push(revokeAll);
  down.push(...grantStatements(state.grants, target));
  if (!state.rls) down.push(`ALTER TABLE ${target} DISABLE ROW LEVEL SECURITY`);
  down.push(
    state.stored
      ? storeDocument(state.schema, state.table, state.stored.document, state.stored.migration)
      : `DELETE FROM plinth.table_security WHERE schema_name = ${literal(state.schema)} AND table_name = ${literal(state.table)}`,
  );
  return { up, down };
}
