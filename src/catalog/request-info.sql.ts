// Whether any SQL in the database may read request.method, request.path, request.headers or
// request.cookies (PostgREST's per-request settings): function bodies, policies, views, column
// defaults, check constraints and trigger conditions outside the system catalogs. Any mention of
// "request." other than request.jwt counts — deliberately broad, since a name can be built at run
// time. When nothing does, the data API skips setting them and can serve a request as one statement.
import type { Queryable } from "./queryable.ts";

/** A regular expression (PostgreSQL's ARE), sent as a bind parameter. */
const REQUEST_INFO_PATTERN = String.raw`request\.(?!jwt\.)`;

export async function usesRequestInfo(sql: Queryable): Promise<boolean> {
  // The user's functions and views are picked first (materialized), so that printing bodies and
  // view definitions — the costly part — is never done for PostgreSQL's own hundreds: a condition
  // on the printed text alone would be checked during the scan, before the schema is known.
  const [row] = await sql<{ uses: boolean }[]>`
    with user_functions as materialized (
      select p.oid, p.prosrc, p.prosqlbody is not null as has_sqlbody
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname not in ('pg_catalog', 'information_schema')
    ), user_views as materialized (
      select c.oid
      from pg_rewrite r join pg_class c on c.oid = r.ev_class join pg_namespace n on n.oid = c.relnamespace
      where n.nspname not in ('pg_catalog', 'information_schema') and r.rulename = '_RETURN'
    )
    select exists (
      select 1 from user_functions f
      where f.prosrc ~ ${REQUEST_INFO_PATTERN} or (f.has_sqlbody and pg_get_function_sqlbody(f.oid) ~ ${REQUEST_INFO_PATTERN})
      union all
      select 1 from pg_policy pol
      where coalesce(pg_get_expr(pol.polqual, pol.polrelid), '') || ' ' || coalesce(pg_get_expr(pol.polwithcheck, pol.polrelid), '') ~ ${REQUEST_INFO_PATTERN}
      union all
      select 1 from user_views v where pg_get_viewdef(v.oid) ~ ${REQUEST_INFO_PATTERN}
      union all
      select 1 from pg_attrdef d where pg_get_expr(d.adbin, d.adrelid) ~ ${REQUEST_INFO_PATTERN}
      union all
      select 1 from pg_constraint con where con.contype = 'c' and pg_get_constraintdef(con.oid) ~ ${REQUEST_INFO_PATTERN}
      union all
      select 1 from pg_trigger t where t.tgqual is not null and pg_get_triggerdef(t.oid) ~ ${REQUEST_INFO_PATTERN}
    ) as uses`;
  return row?.uses ?? true;
}
