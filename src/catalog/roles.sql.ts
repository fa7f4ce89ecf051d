// Roles (without PostgreSQL's predefined pg_* ones) and what roles may read column by column.
import type { Queryable } from "./queryable.ts";

export interface RoleInfo {
  name: string;
  superuser: boolean;
  can_login: boolean;
  inherit: boolean;
  create_role: boolean;
  create_db: boolean;
  replication: boolean;
  bypass_rls: boolean;
  connection_limit: number;
  valid_until: Date | null;
  member_of: string[];
}

export const listRoles = (sql: Queryable) => sql<RoleInfo[]>`
  select r.rolname as name, r.rolsuper as superuser, r.rolcanlogin as can_login, r.rolinherit as inherit,
         r.rolcreaterole as create_role, r.rolcreatedb as create_db, r.rolreplication as replication,
         r.rolbypassrls as bypass_rls, r.rolconnlimit as connection_limit, r.rolvaliduntil as valid_until,
         array(select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid
               where m.member = r.oid order by g.rolname)::text[] as member_of
  from pg_roles r
  where r.rolname !~ '^pg_'
  order by r.rolname`;

/**
 * For each column of a relation (by position), which of `roles` may SELECT it (a table-wide grant
 * counts for every column). Every role named must exist: has_column_privilege raises otherwise.
 */
export const listColumnSelectGrants = (sql: Queryable, relid: number, roles: readonly string[]) => sql<{ name: string; roles: string[] }[]>`
  select a.attname as name,
         array(select r.role from unnest(${roles as string[]}::text[]) with ordinality r(role, ord)
               where has_column_privilege(r.role, a.attrelid, a.attnum, 'SELECT') order by r.ord) as roles
  from pg_attribute a
  where a.attrelid = ${relid}::oid and a.attnum > 0 and not a.attisdropped
  order by a.attnum`;
