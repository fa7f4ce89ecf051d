// The catalog: the one place Plinth reads PostgreSQL's system catalogs (STYLE.md rule 13). Static
// SQL in typed functions, one file per subject, postgres-meta style: each takes a Queryable (the
// pool or a transaction) and returns typed rows; inputs are bind parameters, never SQL text. The
// consumers map the rows to their own models:
//   - the schema cache (src/schema-cache/introspect.ts) builds REST's model from them;
//   - the admin API (src/admin/meta/introspect/) serves them, shaped as its wire format;
//   - realtime's relation cache (src/realtime/changes/relations.ts) types the changes it streams;
//   - the admin rows API (src/admin/meta/rows-table.ts) reads a table's shape per request.
// When one of them needs something the catalog does not say yet, add it here (a field, a scope)
// rather than a query there: one question, one answer.
//
// What each file answers:
//   schemas.sql.ts       the schemas, and which ones are PostgreSQL's or Plinth's own
//   relations.sql.ts     tables, views, … of some schemas / by name / by OID (kind, RLS, writability);
//                        a schema's tables with row and size estimates
//   columns.sql.ts       columns with their types (after domains, array elements, casts), defaults,
//                        identity, generation, key flags, comments
//   constraints.sql.ts   primary, unique and foreign keys (referenced table, actions), checks, …
//   indexes.sql.ts       a table's indexes
//   triggers.sql.ts      a table's triggers
//   policies.sql.ts      row level security policies
//   functions.sql.ts     functions and procedures: parameters, results, signature, language
//   types.sql.ts         types a value can have; every enum's labels
//   views.sql.ts         views' lineage: the table column each view column shows (query-tree.ts reads
//                        the stored query tree)
//   roles.sql.ts         roles; column SELECT privileges of given roles
//   extensions.sql.ts    available and installed extensions; PostGIS's st_asgeojson(record) if installed
//   request-info.sql.ts  whether any SQL reads PostgREST's request.* settings
//   sizes.sql.ts         relations' row and size estimates by name as SQL writes it; a column's type
//                        next to a new one (migration plans)
//   table-shape.sql.ts   one table's columns (cast types, generated/identity) and primary key in one
//                        query, for the admin rows API
//
// Row order: lists for display come sorted by name. Bulk reads by schema list (the schema cache's)
// come in catalog order: the order of the catalog's own rows (ctid), which is what a sequential scan
// returns and so what the schema cache always saw. It shows in REST's answers (which overload
// OpenAPI describes, the order foreign keys become relationships and so which of two equally close
// names a "Perhaps you meant" hint offers), so it is stated in the SQL rather than left to the plan.
export type { Queryable } from "./queryable.ts";
export * from "./columns.sql.ts";
export * from "./constraints.sql.ts";
export * from "./extensions.sql.ts";
export * from "./functions.sql.ts";
export * from "./indexes.sql.ts";
export * from "./policies.sql.ts";
export * from "./relations.sql.ts";
export * from "./request-info.sql.ts";
export * from "./roles.sql.ts";
export * from "./schemas.sql.ts";
export * from "./sizes.sql.ts";
export * from "./table-shape.sql.ts";
export * from "./triggers.sql.ts";
export * from "./types.sql.ts";
export * from "./views.sql.ts";
