// Row level security policies: create and drop. Policy expressions are checked by expression();
// role names are quoted, except PUBLIC, which is a keyword and not a role.
import type { Sql } from "../../db/pool.ts";
import { AdminErrors } from "../errors.ts";
import { inDdlTransaction, type StatementLog } from "./ddl.ts";
import { checkName, ident, qualified, splitQualified } from "./ident.ts";
import { listPolicies, type PolicyInfo } from "./introspect/policies.sql.ts";
import { findTable } from "./introspect/tables.sql.ts";
import type { PolicyInput } from "./model.ts";
import { expression } from "./user-sql.ts";

export async function createPolicy(sql: Sql, log: StatementLog, input: PolicyInput): Promise<PolicyInfo> {
  const { schema, name: table } = splitQualified(input.table, checkName(input.schema ?? "public", "schema"));
  const name = checkName(input.name, "name");
  if (!input.roles.length) throw AdminErrors.validation("roles must name at least one role (or public)");
  const roles = input.roles.map((r) => (r.toLowerCase() === "public" ? "PUBLIC" : ident(r))).join(", ");
  const using = input.using != null ? ` USING ${await expression(input.using, "using")}` : "";
  const check = input.with_check != null ? ` WITH CHECK ${await expression(input.with_check, "with_check")}` : "";
  return inDdlTransaction(sql, log, async (run, tx) => {
    if (!(await findTable(tx, schema, table))) throw AdminErrors.notFound(`Table ${schema}.${table}`);
    await run(
      `CREATE POLICY ${ident(name)} ON ${qualified(schema, table)} AS ${input.permissive ? "PERMISSIVE" : "RESTRICTIVE"} ` +
        `FOR ${input.command.toUpperCase()} TO ${roles}${using}${check}`,
    );
    const [created] = (await listPolicies(tx, { schema, table })).filter((p) => p.name === name);
    return created!;
  });
}

export async function dropPolicy(sql: Sql, log: StatementLog, schema: string, table: string, name: string): Promise<PolicyInfo> {
  return inDdlTransaction(sql, log, async (run, tx) => {
    const [existing] = (await listPolicies(tx, { schema, table })).filter((p) => p.name === name);
    if (!existing) throw AdminErrors.notFound(`Policy ${name} on ${schema}.${table}`);
    await run(`DROP POLICY ${ident(name)} ON ${qualified(schema, table)}`);
    return existing;
  });
}
