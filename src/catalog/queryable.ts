// What every catalog function runs on: the pool, or a transaction (the admin API reads back inside
// its DDL transactions what an edit made).
import type { Sql, Tx } from "../db/pool.ts";

export type Queryable = Sql | Tx;
