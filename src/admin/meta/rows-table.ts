// The table a rows request addresses, read through the catalog (catalog/table-shape.sql.ts, one
// query per request, so a column added a moment ago is there): its columns with the types their
// values are cast to, and its primary key in key order. Every name the rows API puts into SQL was
// matched against this first.
import { tableShape } from "../../catalog/table-shape.sql.ts";
import type { Queryable } from "./introspect/queryable.ts";
import { SYSTEM_SCHEMAS } from "./introspect/schemas.sql.ts";
import { RowsErrors } from "./rows-query.ts";

export interface RowColumn {
  name: string;
  /** format_type() with typmod, as shown to the console, e.g. "character varying(20)". */
  type: string;
  /**
   * format_type() without typmod: what filter and key values (text) are cast to. SQL text made by
   * the catalog (format_type quotes and qualifies as needed), never by the request.
   */
  castType: string;
  /** The type's name after one level of domain: "int8", "numeric", "_int8", "tsvector", "jsonb", … */
  baseType: string;
  /** Position in the primary key (0-based), or null. */
  pkIndex: number | null;
  /** Why a write to it is refused (generated, identity ALWAYS), or null. */
  readOnly: string | null;
  plinthType: "rich_text" | "file_ref" | null;
}

export interface RowTable {
  schema: string;
  name: string;
  columns: RowColumn[];
  byName: Map<string, RowColumn>;
  /** Primary-key columns in key order; empty for a keyless table. */
  pk: string[];
}

/**
 * PostgreSQL's own schemas and Plinth's (auth, storage, realtime, plinth, extensions) are out of the
 * rows API's reach: their rows have their own APIs with their own capabilities (users:*, audit:*,
 * storage policies), which this one must not become a way around (an admin assigned `rows:*` would
 * otherwise read refresh tokens or another admin's sessions).
 */
export function checkRowsSchema(schema: string): void {
  if (SYSTEM_SCHEMAS.includes(schema) || /^pg_/.test(schema)) throw RowsErrors.schemaNotAllowed(schema);
}

/** The table (ordinary or partitioned), or a 404 error. */
export async function readRowTable(sql: Queryable, schema: string, name: string): Promise<RowTable> {
  checkRowsSchema(schema);
  const [row] = await tableShape(sql, schema, name);
  if (!row) throw RowsErrors.tableNotFound(schema, name);
  const columns: RowColumn[] = row.columns.map((c) => ({
    name: c.name,
    type: c.type,
    castType: c.cast_type,
    baseType: c.base_type,
    pkIndex: row.pk.includes(c.name) ? row.pk.indexOf(c.name) : null,
    readOnly: c.generated ? "it is a generated column" : c.identity_always ? "it is an identity column (GENERATED ALWAYS)" : null,
    plinthType: c.plinth_type,
  }));
  return { schema, name, columns, byName: new Map(columns.map((c) => [c.name, c])), pk: row.pk };
}

/** What the list answer says about the columns. */
export const columnsInfo = (t: RowTable) => t.columns.map((c) => ({ name: c.name, type: c.type, pk: c.pkIndex !== null }));
