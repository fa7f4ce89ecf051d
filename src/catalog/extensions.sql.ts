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

/**
 * PostGIS's `st_asgeojson(record, …)` (PostGIS 3+): what REST's `Accept: application/geo+json` calls
 * on each row, as PostgREST does. Its schema, or null when no such function is installed. Only a
 * function an extension installed or a superuser owns counts, the extension's first: every caller's
 * GeoJSON request runs it with the caller's rights (service_role's too), so a same-named function that
 * a role allowed to create functions somewhere put in a schema sorting first must not be chosen.
 */
export async function findGeoJsonFunction(sql: Queryable): Promise<{ schema: string; name: string } | null> {
  const [row] = await sql<{ schema: string; name: string }[]>`
    select n.nspname as schema, p.proname as name
    from pg_proc p
    join pg_namespace n on n.oid = p.pronamespace
    join pg_roles r on r.oid = p.proowner
    cross join lateral (
      select exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e') as installed
    ) e
    where p.proname = 'st_asgeojson' and p.pronargs >= 1 and p.proargtypes[0] = 'record'::regtype
      and p.prorettype = 'text'::regtype and (e.installed or r.rolsuper)
    order by e.installed desc, n.nspname
    limit 1`;
  return row ?? null;
}
