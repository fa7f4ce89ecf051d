// Schemas: every namespace but PostgreSQL's toast and temp ones, with owner and comment.
import type { Queryable } from "./queryable.ts";

export interface SchemaInfo {
  name: string;
  owner: string;
  comment: string | null;
  /** PostgreSQL's own or Plinth's (pg_catalog, information_schema, auth, storage, …). */
  system: boolean;
}

/** Schemas that belong to PostgreSQL or to Plinth's services rather than to the app. */
export const SYSTEM_SCHEMAS = ["pg_catalog", "information_schema", "auth", "storage", "realtime", "plinth", "extensions"];

export const listSchemas = (sql: Queryable) => sql<SchemaInfo[]>`
  select n.nspname as name,
         pg_get_userbyid(n.nspowner) as owner,
         obj_description(n.oid, 'pg_namespace') as comment,
         n.nspname = any(${SYSTEM_SCHEMAS}::text[]) as system
  from pg_namespace n
  where n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
  order by n.nspname`;
