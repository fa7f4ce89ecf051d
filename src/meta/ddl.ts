// DDL runs in one transaction per request, on the owner connection: either every statement of an
// edit applies or none does. Each statement is noted for the audit log as it runs. The event
// trigger of migration 0003 announces the change, so schema caches reload by themselves.
import type { Sql, Tx } from "../db/pool.ts";

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
