// Row level security policies (pg_policies), optionally narrowed to a schema or one table.
import type { Queryable } from "./queryable.ts";

export interface PolicyInfo {
  schema: string;
  table: string;
  name: string;
  command: "all" | "select" | "insert" | "update" | "delete";
  permissive: boolean;
  roles: string[];
  using: string | null;
  with_check: string | null;
}

export const listPolicies = (sql: Queryable, filter: { schema?: string; table?: string }) => sql<PolicyInfo[]>`
  select schemaname::text as schema, tablename::text as table, policyname::text as name,
         lower(cmd) as command, permissive = 'PERMISSIVE' as permissive,
         roles::text[] as roles, qual as using, with_check
  from pg_policies
  where (${filter.schema ?? null}::text is null or schemaname = ${filter.schema ?? null})
    and (${filter.table ?? null}::text is null or tablename = ${filter.table ?? null})
  order by schemaname, tablename, policyname`;
