// The schema cache: what the exposed schemas contain, read once from the catalogs and swapped whole
// on reload. Everything here is plain data, so planners stay pure functions of (request, cache).

/** A column of a table, view, or of a function's result. */
export interface Column {
  name: string;
  /** format_type() of the column's type, e.g. "integer", "text[]", "public.mood". */
  type: string;
  /** format_type() without the typmod: what filter values are cast to (no varchar(n) truncation). */
  castType: string;
  /** Name of the type after resolving domains (e.g. "tsvector", "int4", "_text" for text[]). */
  baseType: string;
  /** pg_type.typcategory of the base type: A array, N numeric, S string, B boolean, U user, … */
  category: string;
  nullable: boolean;
  /** The default expression's text, or null. */
  default: string | null;
  /**
   * What an INSERT puts in the column when a row leaves it out: the default expression, or for an
   * identity column `nextval('<its sequence>'::regclass)`. SQL from the catalog (pg_get_expr).
   */
  insertDefault?: string;
  generated: boolean;
  position: number;
  enumValues: string[];
  description: string | null;
  /** Element type name for arrays (for OpenAPI). */
  elementType: string | null;
  /** Plinth's own column types (migration 0007's domains), which the REST write path treats specially. */
  plinthType?: "rich_text" | "file_ref";
}

export type RelationKind = "table" | "view" | "materialized_view" | "foreign_table" | "partitioned_table" | "function_result";

export interface Table {
  schema: string;
  name: string;
  kind: RelationKind;
  description: string | null;
  columns: Map<string, Column>;
  /** Columns in ordinal order. */
  columnList: Column[];
  /** Primary-key columns (empty for views and keyless tables). */
  pk: string[];
  /** Every unique key (including the primary key), for one-to-one detection and on_conflict. */
  uniqueKeys: string[][];
  insertable: boolean;
  updatable: boolean;
  deletable: boolean;
}

export interface ForeignKey {
  constraint: string;
  schema: string;
  table: string;
  columns: string[];
  refSchema: string;
  refTable: string;
  refColumns: string[];
}

/** A relationship seen from its origin table, as PostgREST names them. */
export type Relationship =
  | {
      kind: "m2o" | "o2m" | "o2o";
      /** For o2o: whether the origin holds the foreign key. */
      originHoldsKey: boolean;
      constraint: string;
      origin: Table;
      target: Table;
      /** Pairs (origin column, target column) that join the two. */
      columns: Array<[string, string]>;
      isSelf: boolean;
    }
  | {
      kind: "m2m";
      origin: Table;
      target: Table;
      junction: Table;
      /** The junction's key to the origin and to the target. */
      originKey: ForeignKey;
      targetKey: ForeignKey;
      /** (origin column, junction column) and (target column, junction column). */
      originColumns: Array<[string, string]>;
      targetColumns: Array<[string, string]>;
      constraint: string;
      isSelf: boolean;
    };

export interface RoutineParam {
  name: string;
  /** format_type() text of the parameter's type (rendered as a cast; it comes from the catalog). */
  type: string;
  baseType: string;
  hasDefault: boolean;
  variadic: boolean;
}

export interface Routine {
  schema: string;
  name: string;
  oid: number;
  params: RoutineParam[];
  /** 'i' immutable, 's' stable, 'v' volatile. */
  volatility: "i" | "s" | "v";
  returnsSet: boolean;
  /** format_type of the return type. */
  returnType: string;
  returnsVoid: boolean;
  /** Returns a base/domain/enum/array value rather than rows with columns. */
  returnsScalar: boolean;
  /** For composite results: the table-like shape (its columns), which select/filters address. */
  result: Table | null;
  /** When the result is a table or view's row type, that relation (for embedding from results). */
  resultRelation: Table | null;
  description: string | null;
  /** Base type name of the result (after domains), e.g. "text", "numeric". */
  returnBaseType?: string;
  /** prorows: 1 makes a set-returning computed relationship to-one, as in PostgREST. */
  rows?: number;
  /** When the only parameter is the row type of an exposed table or view: that relation. */
  rowParamRelation?: Table | null;
}

/**
 * A function taking one row of `origin` (PostgREST's computed fields and relationships). With a
 * scalar result it is a computed field, selected/filtered/ordered like a column but never part of
 * `*`; with rows of a table or view it is a computed relationship, embedded like a foreign key.
 */
export interface ComputedField {
  routine: Routine;
  origin: Table;
  /** The result described as a column (name = the function's name), for filters and casts. */
  column: Column;
}

export interface ComputedRelationship {
  kind: "computed";
  routine: Routine;
  origin: Table;
  target: Table;
  /** Not SETOF, or SETOF with ROWS 1: a single row (to-one). */
  toOne: boolean;
  /** The function name (what embeds and hints match). */
  constraint: string;
  isSelf: boolean;
}

/** A type that casts in select (`col::type`) may name. */
export interface CastType {
  schema: string;
  name: string;
}

export interface SchemaCache {
  /** Exposed schemas, the first being the default. */
  schemas: string[];
  /** "schema.name" → table/view. */
  tables: Map<string, Table>;
  /** "schema.name" → overloads. */
  routines: Map<string, Routine[]>;
  foreignKeys: ForeignKey[];
  /** "schema.name" of the origin → its relationships to tables of the same schema. */
  relationships: Map<string, Relationship[]>;
  /** Lower-cased type name or alias ("integer", "int4", "double precision", "mood") → type. */
  castTypes: Map<string, CastType>;
  /** "schema.name" of a table/view → its computed fields by function name. */
  computedFields?: Map<string, Map<string, ComputedField>>;
  /** "schema.name" of a table/view → functions embeddable from its rows. */
  computedRelationships?: Map<string, ComputedRelationship[]>;
  /**
   * Some SQL may read request.method/path/headers/cookies, so each request must set them (in a
   * transaction); when false the data API may use its one-statement path (db.runAs).
   */
  usesRequestInfo?: boolean;
  /** PostGIS's st_asgeojson(record), when installed: REST answers Accept: application/geo+json with it. */
  geoJson?: { schema: string; name: string } | null;
  loadedAt: number;
}

export const tableKey = (schema: string, name: string): string => `${schema}\u0000${name}`;
