// Extensions: every one the server could install, with the installed version and schema if it is.
import type { Queryable } from "./queryable.ts";

export interface ExtensionInfo {
  name: string;
  default_version: string | null;
  installed_version: string | null;
  schema: string | null;
  comment: string | null;
}

export const listExtensions = (sql: Queryable) => sql<ExtensionInfo[]>`
  select a.name, a.default_version, a.installed_version, n.nspname as schema, a.comment
  from pg_available_extensions a
  left join pg_extension e on e.extname = a.name
  left join pg_namespace n on n.oid = e.extnamespace
  order by a.name`;
