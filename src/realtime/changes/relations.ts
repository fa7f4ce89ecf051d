// What the change pipeline needs to know about a published table, cached by relation OID: column
// types (for JSON typing and filters), the primary key (for the RLS row lookup), whether RLS is on,
// and which columns each API role may SELECT (column privileges decide what a subscriber is sent).
//
// Freshness: pgoutput re-sends a Relation message before the next change of a table whenever its
// relcache entry was invalidated — ALTER TABLE, ENABLE ROW LEVEL SECURITY, GRANT/REVOKE (table or
// column) all do that — and every Relation message refreshes the entry here. So the cache follows
// the catalog in WAL order, without polling. What it knows it reads from the catalog (src/catalog/).
import { listColumns, listColumnSelectGrants, listRelations, listRoles, type ColumnRow } from "../../catalog/index.ts";
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
      const roles = await listRoles(this.sql);
      const b = { anon: false, authenticated: false, service_role: false } as Record<ApiRole, boolean>;
      for (const r of roles) if ((API_ROLES as readonly string[]).includes(r.name)) b[r.name as ApiRole] = r.bypass_rls || r.superuser;
      this.bypass = b;
    }
    return this.bypass[role];
  }

  /** Loads (or reloads) a relation announced by the stream. */
  async refresh(msg: RelationMessage): Promise<RelationInfo> {
    const [[relation], rows, grants] = await Promise.all([
      listRelations(this.sql, { oid: msg.oid }),
      listColumns(this.sql, { relid: msg.oid }),
      listColumnSelectGrants(this.sql, msg.oid, API_ROLES),
    ]);
    const catalog = new Map(rows.map((r) => [r.name, r]));
    const grantedTo = new Map(grants.map((g) => [g.name, g.roles]));
    const selectable = { anon: new Set<string>(), authenticated: new Set<string>(), service_role: new Set<string>() };
    const columns: RelationColumnInfo[] = msg.columns.map((col) => {
      const row = catalog.get(col.name);
      for (const role of grantedTo.get(col.name) ?? []) selectable[role as ApiRole].add(col.name);
      return { name: col.name, isKey: col.isKey, type: typeOf(col.typeOid, row) };
    });
    const info: RelationInfo = {
      oid: msg.oid,
      schema: msg.schema,
      table: msg.table,
      columns,
      byName: new Map(columns.map((c) => [c.name, c])),
      primaryKey: rows.filter((r) => r.primary_key).map((r) => r.name),
      rls: relation?.rls_enabled ?? false,
      selectable,
    };
    this.byOid.set(msg.oid, info);
    return info;
  }
}

function typeOf(oid: number, row: ColumnRow | undefined): TypeInfo {
  const builtin = builtinType(oid);
  if (builtin) return builtin;
  if (!row) return { oid, name: "text", kind: "string" };
  if (row.array_element_oid !== null) {
    const elemOid = Number(row.array_element_oid);
    const elem = builtinType(elemOid) ?? {
      oid: elemOid,
      name: row.array_element_name ?? "text",
      kind: kindForCatalog({ typname: row.array_element_name ?? "", typcategory: row.array_element_category ?? "S", base_oid: null }),
    };
    return { oid, name: row.type_name, kind: "array", elem };
  }
  return { oid, name: row.type_name, kind: kindForCatalog(catalogType(row)) };
}

/** The column's type as kindForCatalog reads it: a domain by its base type. */
const catalogType = (row: ColumnRow) => ({
  typname: row.type_name,
  typcategory: row.type_category,
  base_oid: row.base_type_oid !== row.type_oid ? Number(row.base_type_oid) : null,
});
