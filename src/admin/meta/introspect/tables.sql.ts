// Tables and everything the table editor shows about one: columns, indexes, constraints, foreign
// keys both ways, policies and triggers — the catalog's answers (src/catalog/) in the admin API's
// wire shape. The table is always named by its oid once found.
import { listColumns as catalogColumns, listConstraints as catalogConstraints, listRelations } from "../../../catalog/index.ts";
import type { Queryable } from "./queryable.ts";

export { listTables, type TableSummary } from "../../../catalog/relations.sql.ts";
export { listIndexes, type IndexInfo } from "../../../catalog/indexes.sql.ts";
export { listTriggers, type TriggerInfo } from "../../../catalog/triggers.sql.ts";

export interface TableRef {
  oid: number;
  schema: string;
  name: string;
  rls_enabled: boolean;
  comment: string | null;
}

/** An ordinary or partitioned table by name. */
export async function findTable(sql: Queryable, schema: string, name: string): Promise<TableRef | null> {
  const [row] = await listRelations(sql, { schema, name }, ["r", "p"]);
  return row ? { oid: row.oid, schema: row.schema, name: row.name, rls_enabled: row.rls_enabled, comment: row.comment } : null;
}

export interface ColumnInfo {
  name: string;
  type: string;
  nullable: boolean;
  default: string | null;
  primary_key: boolean;
  unique: boolean;
  identity: "always" | "by default" | null;
  generated: string | null;
  comment: string | null;
}

export async function listColumns(sql: Queryable, oid: number): Promise<ColumnInfo[]> {
  return (await catalogColumns(sql, { relid: oid })).map((c) => ({
    name: c.name,
    type: c.type,
    nullable: c.nullable,
    // pg_attrdef holds a generated column's expression where others have their default.
    default: c.generated ? null : c.default_expr,
    primary_key: c.primary_key,
    unique: c.unique,
    identity: c.identity,
    generated: c.generated ? c.default_expr : null,
    comment: c.comment,
  }));
}

export interface ConstraintInfo {
  name: string;
  type: string;
  definition: string;
}

export async function listConstraints(sql: Queryable, oid: number): Promise<ConstraintInfo[]> {
  return (await catalogConstraints(sql, { relid: oid })).map((c) => ({ name: c.name, type: c.type, definition: c.definition }));
}

export interface ForeignKeyInfo {
  name: string;
  /** The referencing table. */
  schema: string;
  table: string;
  columns: string[];
  references: { schema: string; table: string; columns: string[] };
  on_delete: string;
  on_update: string;
}

/** Keys this table holds (`direction` "out") or keys other tables hold on it ("in"). */
export async function listForeignKeys(sql: Queryable, oid: number, direction: "out" | "in"): Promise<ForeignKeyInfo[]> {
  const rows = await catalogConstraints(sql, direction === "out" ? { relid: oid } : { referencing: oid }, ["foreign_key"]);
  return rows.map((r) => ({
    name: r.name,
    schema: r.schema,
    table: r.table,
    columns: r.columns,
    references: { schema: r.ref_schema!, table: r.ref_table!, columns: r.ref_columns },
    on_delete: r.on_delete!,
    on_update: r.on_update!,
  }));
}
