// DDL runs in one transaction per request, on the owner connection: either every statement of an
// edit applies or none does. Each statement is noted for the audit log as it runs. The event
// trigger of migration 0003 announces the change, so schema caches reload by themselves.
import type { Sql, Tx } from "../../db/pool.ts";
import { CONSOLE_ROLE } from "./console-login.ts";
import { ident, qualified } from "./ident.ts";

export interface StatementLog {
  statements: string[];
}

export type RunDdl = (statement: string) => Promise<void>;

export function inDdlTransaction<T>(sql: Sql, log: StatementLog, fn: (run: RunDdl, tx: Tx) => Promise<T>): Promise<T> {
  return sql.begin(async (tx) => {
    // Safe: every statement is built by the meta service from ident()/literal()/typeName()/expression().
    const run: RunDdl = async (statement) => {
      log.statements.push(statement);
      await tx.unsafe(statement);
    };
    return fn(run, tx);
  }) as Promise<T>;
}

/**
 * A table the editor creates in an app schema (public, or one the console made) is handed to the
 * SQL console's role, so that DDL typed in the console works on it too (migration 0010 did the same
 * for older tables). Skipped where that role is missing or the server role may not act for it.
 */
export async function handToConsole(run: RunDdl, tx: Tx, schema: string, table: string): Promise<void> {
  const [row] = await tx<{ ok: boolean }[]>`
    select case when r.oid is null then false
                else pg_has_role(r.oid, 'MEMBER')
                     and (${schema} = 'public' or exists (select 1 from pg_namespace where nspname = ${schema} and nspowner = r.oid))
           end as ok
    from (select (select oid from pg_roles where rolname = ${CONSOLE_ROLE}) as oid) r`;
  if (row?.ok) await run(`ALTER TABLE ${qualified(schema, table)} OWNER TO ${ident(CONSOLE_ROLE)}`);
}
