// What the change pipeline needs to know about a published table, cached by relation OID: column
// types (for JSON typing and filters), the primary key (for the RLS row lookup), whether RLS is on,
// and which columns each API role may SELECT (column privileges decide what a subscriber is sent).
//
// Freshness: pgoutput re-sends a Relation message before the next change of a table whenever its
// relcache entry was invalidated — ALTER TABLE, ENABLE ROW LEVEL SECURITY, GRANT/REVOKE (table or
// column) all do that — and every Relation message refreshes the entry here. So the cache follows
// the catalog in WAL order, without polling.
import type { Sql } from "../../db/pool.ts";
import { API_ROLES, type ApiRole } from "../../db/pool.ts";
import type { RelationMessage } from "./pgoutput.ts";
import { builtinType, kindForCatalog, type TypeInfo } from "./values.ts";

export interface RelationColumnInfo {
  name: string;
  type: TypeInfo;
  /** In the replica identity (key-only old tuples carry just these). */
  isKey: boolean;
}

export interface RelationInfo {
  oid: number;
  schema: string;
  table: string;
  columns: RelationColumnInfo[];
  byName: Map<string, RelationColumnInfo>;
  primaryKey: string[];
  rls: boolean;
  /** Per role: the columns it may SELECT (empty: none). */
  selectable: Record<ApiRole, Set<string>>;
}

interface CatalogRow {
  attname: string;
  typname: string;
  typcategory: string;
  base_oid: number | null;
  elem_oid: number | null;
  elem_typname: string | null;
  elem_category: string | null;
  is_pk: boolean;
  anon: boolean;
  authenticated: boolean;
  service_role: boolean;
  rls: boolean;
}

export class RelationCache {
  private readonly byOid = new Map<number, RelationInfo>();
  private bypass: Record<ApiRole, boolean> | null = null;

  constructor(private readonly sql: Sql) {}

  get(oid: number): RelationInfo | undefined {
    return this.byOid.get(oid);
  }

  /** Whether the role skips RLS altogether (service_role has BYPASSRLS on Supabase and here). */
  async bypassesRls(role: ApiRole): Promise<boolean> {
    if (!this.bypass) {
      const rows = await this.sql<{ rolname: ApiRole; bypass: boolean }[]>`
        select rolname, rolbypassrls or rolsuper as bypass from pg_roles where rolname in ${this.sql(API_ROLES as unknown as string[])}`;
      const b = { anon: false, authenticated: false, service_role: false } as Record<ApiRole, boolean>;
      for (const r of rows) b[r.rolname] = r.bypass;
      this.bypass = b;
    }
    return this.bypass[role];
  }

  /** Loads (or reloads) a relation announced by the stream. */
  async refresh(msg: RelationMessage): Promise<RelationInfo> {
    const rows = await this.sql<CatalogRow[]>`
      select a.attname, t.typname, t.typcategory,
             case when t.typtype = 'd' then t.typbasetype::int end as base_oid,
             case when t.typcategory = 'A' then t.typelem::int end as elem_oid,
             et.typname as elem_typname, et.typcategory as elem_category,
             coalesce(a.attnum = any (pk.indkey), false) as is_pk,
             has_column_privilege('anon', c.oid, a.attnum, 'SELECT') as anon,
             has_column_privilege('authenticated', c.oid, a.attnum, 'SELECT') as authenticated,
             has_column_privilege('service_role', c.oid, a.attnum, 'SELECT') as service_role,
             c.relrowsecurity as rls
        from pg_class c
        join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        join pg_type t on t.oid = a.atttypid
        left join pg_type et on et.oid = t.typelem and t.typcategory = 'A'
        left join pg_index pk on pk.indrelid = c.oid and pk.indisprimary
       where c.oid = ${msg.oid}
       order by a.attnum`;
    const catalog = new Map(rows.map((r) => [r.attname, r]));
    const selectable = { anon: new Set<string>(), authenticated: new Set<string>(), service_role: new Set<string>() };
    const columns: RelationColumnInfo[] = msg.columns.map((col) => {
      const row = catalog.get(col.name);
      if (row) for (const role of API_ROLES) if (row[role]) selectable[role].add(col.name);
      return { name: col.name, isKey: col.isKey, type: typeOf(col.typeOid, row) };
    });
    const info: RelationInfo = {
      oid: msg.oid,
      schema: msg.schema,
      table: msg.table,
      columns,
      byName: new Map(columns.map((c) => [c.name, c])),
      primaryKey: rows.filter((r) => r.is_pk).map((r) => r.attname),
      rls: rows[0]?.rls ?? false,
      selectable,
    };
    this.byOid.set(msg.oid, info);
    return info;
  }
}

function typeOf(oid: number, row: CatalogRow | undefined): TypeInfo {
  const builtin = builtinType(oid);
  if (builtin) return builtin;
  if (!row) return { oid, name: "text", kind: "string" };
  if (row.elem_oid !== null) {
    const elem = builtinType(row.elem_oid) ?? {
      oid: row.elem_oid,
      name: row.elem_typname ?? "text",
      kind: kindForCatalog({ typname: row.elem_typname ?? "", typcategory: row.elem_category ?? "S", base_oid: null }),
    };
    return { oid, name: row.typname, kind: "array", elem };
  }
  return { oid, name: row.typname, kind: kindForCatalog(row) };
}
