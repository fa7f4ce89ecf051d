// What a table has now, as far as its security goes: RLS flags, columns and their types, policies,
// the privileges of the roles the document manages (table- and column-level), and the stored
// document. Everything the validator, the conflict check, the compiler (for the down file) and GET
// need, read in one place and in one snapshot (callers pass a transaction).
//
// Traps:
// - relacl NULL means "the default privileges" (the owner's only): aclexplode(acldefault(…)) reads it
//   as the owner's entries, so a table never granted anything shows no entry for the API roles.
// - A grant to PUBLIC is grantee 0 in aclexplode; it reaches anon and authenticated too.
// - REVOKE run by the owner (or a superuser, who acts as the owner) removes only the owner's grants:
//   one made by another role holding GRANT OPTION survives it, so `grantor` names such grantors
//   and the conflict check refuses the change until that grant is gone.
import type { Tx } from "../../../db/pool.ts";
import type { Queryable } from "../../../catalog/queryable.ts";
import { listPolicies, type PolicyInfo } from "../../meta/introspect/policies.sql.ts";
import type { TableSecurityDocument } from "./document.ts";

/** The grantees the compiled SQL revokes from and grants to (and the down file restores). */
export const MANAGED_GRANTEES = ["PUBLIC", "anon", "authenticated", "service_role"] as const;

export interface ColumnState {
  name: string;
  /** format_type: "uuid", "text", "bigint", … */
  type: string;
  typeOid: number;
}

export interface Grant {
  grantee: string;
  privilege: string;
  grantable: boolean;
  /** The role that granted it, when that is not the table's owner (null: the owner). */
  grantor: string | null;
  /** null: on the table; else the column. */
  column: string | null;
}

export interface StoredDocument {
  document: TableSecurityDocument;
  migration: string;
  updated_at: Date;
}

export interface TableState {
  oid: number;
  schema: string;
  table: string;
  kind: string;
  rls: boolean;
  forceRls: boolean;
  columns: ColumnState[];
  policies: PolicyInfo[];
  grants: Grant[];
  stored: StoredDocument | null;
}

export async function readTableState(tx: Queryable, schema: string, table: string): Promise<TableState | null> {
  const [rel] = await tx<{ oid: number; kind: string; rls: boolean; force_rls: boolean }[]>`
    select c.oid::int8::float8 as oid, c.relkind::text as kind, c.relrowsecurity as rls, c.relforcerowsecurity as force_rls
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${schema} and c.relname = ${table} and c.relkind in ('r', 'p')`;
  if (!rel) return null;
  const columns = await tableColumns(tx, rel.oid);
  const policies = await listPolicies(tx, { schema, table });
  const grants = await tx<Grant[]>`
    select g.grantee, g.privilege, g.grantable, g.column, nullif(g.grantor, g.owner) as grantor from (
      select case when a.grantee = 0 then 'PUBLIC' else pg_get_userbyid(a.grantee)::text end as grantee,
             a.privilege_type::text as privilege, a.is_grantable as grantable, null::text as column,
             pg_get_userbyid(a.grantor)::text as grantor, pg_get_userbyid(c.relowner)::text as owner
      from pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
      where c.oid = ${rel.oid}::oid
      union all
      select case when a.grantee = 0 then 'PUBLIC' else pg_get_userbyid(a.grantee)::text end,
             a.privilege_type::text, a.is_grantable, att.attname::text,
             pg_get_userbyid(a.grantor)::text, pg_get_userbyid(c.relowner)::text
      from pg_class c join pg_attribute att on att.attrelid = c.oid, aclexplode(att.attacl) a
      where c.oid = ${rel.oid}::oid and att.attnum > 0 and not att.attisdropped and att.attacl is not null
    ) g
    where g.grantee = any(${MANAGED_GRANTEES as unknown as string[]})
    order by g.column nulls first, g.grantee, g.privilege`;
  const [stored] = await tx<StoredDocument[]>`
    select document, migration, updated_at from plinth.table_security where schema_name = ${schema} and table_name = ${table}`;
  return {
    oid: rel.oid,
    schema,
    table,
    kind: rel.kind,
    rls: rel.rls,
    forceRls: rel.force_rls,
    columns,
    policies,
    grants: grants.map((g) => ({ ...g })),
    stored: stored ?? null,
  };
}

export async function tableColumns(tx: Queryable, oid: number): Promise<ColumnState[]> {
  const rows = await tx<{ name: string; type: string; type_oid: number }[]>`
    select attname::text as name, format_type(atttypid, atttypmod) as type, atttypid::int8::float8 as type_oid
    from pg_attribute where attrelid = ${oid}::oid and attnum > 0 and not attisdropped order by attnum`;
  return rows.map((r) => ({ name: r.name, type: r.type, typeOid: r.type_oid }));
}

/** Another table's oid and columns (the membership table of the team template); null when absent. */
export async function otherTable(tx: Queryable, schema: string, table: string): Promise<{ oid: number; columns: ColumnState[] } | null> {
  const [rel] = await tx<{ oid: number }[]>`
    select c.oid::int8::float8 as oid from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${schema} and c.relname = ${table} and c.relkind in ('r', 'p', 'v', 'm', 'f')`;
  return rel ? { oid: rel.oid, columns: await tableColumns(tx, rel.oid) } : null;
}

/** Whether `role` may read `column` of the relation (the membership lookup runs as the caller). */
export async function canReadColumn(tx: Queryable, role: string, oid: number, column: string): Promise<boolean> {
  const [row] = await tx<{ ok: boolean }[]>`
    select has_column_privilege(${role}, ${oid}::oid, ${column}, 'SELECT') and
           has_schema_privilege(${role}, (select relnamespace from pg_class where oid = ${oid}::oid), 'USAGE') as ok`;
  return !!row?.ok;
}

export type { Tx };
