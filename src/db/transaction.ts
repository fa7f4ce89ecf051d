// BEGIN … COMMIT on one reserved connection. postgres.js has no begin() on a reserved connection (its
// types say otherwise), and the migrations need one: their advisory lock is held by that session, so
// every step must run on it. A reserved connection sends statements in order to the same session,
// so BEGIN … COMMIT brackets exactly what `fn` runs.
import type postgres from "postgres";
import { retryOnce } from "./cancel.ts";

export async function inTransaction<T>(conn: postgres.Sql | postgres.ReservedSql, fn: (tx: postgres.Sql) => Promise<T>): Promise<T> {
  await conn.unsafe("begin");
  try {
    const result = await fn(conn as postgres.Sql);
    await conn.unsafe("commit");
    return result;
  } catch (err) {
    // After a failed statement the transaction is aborted; ROLLBACK ends it. If the connection is
    // gone, the server has rolled back already: keep the original error. Tried twice: a cancel
    // request that raced the statement it was meant for can hit the ROLLBACK instead (cancel.ts).
    await retryOnce(() => conn.unsafe("rollback")).catch(() => {});
    throw err;
  }
}
