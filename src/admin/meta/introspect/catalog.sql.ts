// The rest of the catalogue the console lists: functions, extensions, roles and types — the
// catalog's answers (src/catalog/), narrowed to what the console shows and in its wire shape.
import { listEnumLabels, listFunctions as catalogFunctions, listTypes as catalogTypes, type TypeRow } from "../../../catalog/index.ts";
import type { Queryable } from "./queryable.ts";

export { listExtensions, type ExtensionInfo } from "../../../catalog/extensions.sql.ts";
export { listRoles, type RoleInfo } from "../../../catalog/roles.sql.ts";

export interface FunctionInfo {
  schema: string;
  name: string;
  arguments: string;
  return_type: string;
  language: string;
  kind: "function" | "procedure" | "aggregate" | "window";
  volatility: "immutable" | "stable" | "volatile";
  security_definer: boolean;
  comment: string | null;
}

/** PostgreSQL's own schemas: their functions are never listed, even when asked for by name. */
const POSTGRES_SCHEMAS = ["pg_catalog", "information_schema"];

/** User functions, by schema, name and arguments: PostgreSQL's own and extension members are left out. */
export async function listFunctions(sql: Queryable, schema: string | null): Promise<FunctionInfo[]> {
  if (schema !== null && POSTGRES_SCHEMAS.includes(schema)) return [];
  const rows = await catalogFunctions(sql, schema === null ? null : [schema], { sorted: true });
  return rows
    .filter((f) => !f.extension_member)
    .map((f) => ({
      schema: f.schema,
      name: f.name,
      arguments: f.arguments,
      return_type: f.result,
      language: f.language,
      kind: f.kind,
      volatility: f.volatility,
      security_definer: f.security_definer,
      comment: f.comment,
    }));
}

export interface TypeInfo {
  schema: string;
  name: string;
  /** What format_type prints: the spelling to use in a column definition. */
  format: string;
  kind: "base" | "composite" | "domain" | "enum" | "range" | "multirange";
  /** The element or base type of domains. */
  base_type: string | null;
  enum_values: string[] | null;
  comment: string | null;
}

/** PostgreSQL's internal types, not for columns (besides pg_* and array types). */
const INTERNAL_TYPES = new Set(["aclitem", "cid", "xid", "xid8", "tid", "oidvector", "int2vector", "regproc", "refcursor", "gtsvector", "txid_snapshot"]);

/** Not an array, pseudo or shell type, not in information_schema or a toast/temp schema, not internal. */
const offersType = (t: TypeRow) =>
  t.defined &&
  !t.is_array &&
  t.category !== "P" &&
  t.schema !== "information_schema" &&
  !/^pg_(toast|temp_)/.test(t.schema) &&
  (t.schema !== "pg_catalog" || (!/^(pg_|_)/.test(t.name) && !INTERNAL_TYPES.has(t.name)));

/**
 * Types a column can have: every base type (arrays of them are spelled `type[]`), enums, domains
 * (Plinth's plinth.rich_text and plinth.file_ref among them), ranges, and free-standing composite
 * types. Left out: array types themselves, pseudo-types, table row types and internal types.
 */
export async function listTypes(sql: Queryable): Promise<TypeInfo[]> {
  const [types, enums] = await Promise.all([catalogTypes(sql, { all: true }), listEnumLabels(sql)]);
  const labels = new Map(enums.map((e) => [Number(e.oid), e.labels]));
  return types.filter(offersType).map((t) => ({
    schema: t.schema,
    name: t.name,
    format: t.format,
    kind: t.kind,
    base_type: t.base_type,
    enum_values: t.kind === "enum" ? (labels.get(Number(t.oid)) ?? []) : null,
    comment: t.comment,
  }));
}
