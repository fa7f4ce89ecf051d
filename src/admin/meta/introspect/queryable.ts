// Introspection runs both on the pool and inside DDL transactions (to read back what an edit made).
export type { Queryable } from "../../../catalog/queryable.ts";
