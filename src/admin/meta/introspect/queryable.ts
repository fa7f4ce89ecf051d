// Introspection runs both on the pool and inside DDL transactions (to read back what an edit made).
import type { Sql, Tx } from "../../../db/pool.ts";

export type Queryable = Sql | Tx;
