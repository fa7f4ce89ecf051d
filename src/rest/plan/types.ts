// Plans: requests resolved against the schema cache. Every name in here is an Ident that matched the
// cache (or an alias/label); every value is still raw text that the SQL builder binds as a parameter.
import type { CastType, Column, ComputedField, ComputedRelationship, Relationship, Routine, Table } from "../../schema-cache/types.ts";
import type { Aggregate, JsonStep, OpExpr, Preferences } from "../parse/ast.ts";
import type { MediaType } from "../parse/headers.ts";
import type { Ident } from "../sql/ident.ts";

export interface TableRef {
  table: Table;
  schema: Ident;
  name: Ident;
}

/** A computed field: `fn(row)` stands where a column would. */
export interface ComputedRef {
  schema: Ident;
  name: Ident;
}

export interface PlannedType {
  type: CastType;
  schema: Ident;
  name: Ident;
}

export type PlannedSelect =
  | {
      kind: "column";
      column: Column;
      col: Ident;
      fn?: ComputedRef;
      json: JsonStep[];
      cast?: PlannedType;
      agg?: Aggregate;
      aggCast?: PlannedType;
      label: Ident;
      /** A plinth.file_ref column answered with the object's metadata (Prefer: plinth-file-refs=expand). */
      expandFile?: { base: string };
    }
  | { kind: "count"; aggCast?: PlannedType; label: Ident };

export type PlannedCond =
  | { kind: "filter"; column: Column; col: Ident; fn?: ComputedRef; json: JsonStep[]; expr: OpExpr }
  /** `rel=is.null` / `rel=not.is.null` on an embedded resource. */
  | { kind: "embedNull"; embed: Embed; isNull: boolean }
  | { kind: "logic"; not: boolean; op: "and" | "or"; children: PlannedCond[] };

export interface PlannedOrder {
  col: Ident;
  fn?: ComputedRef;
  json: JsonStep[];
  direction?: "asc" | "desc";
  nulls?: "first" | "last";
  /** Ordering by a column of a to-one embed. */
  embed?: Embed;
}

export interface ReadNode {
  from: TableRef;
  select: PlannedSelect[];
  embeds: Embed[];
  where: PlannedCond[];
  order: PlannedOrder[];
  limit?: number;
  offset?: number;
  hasAggregates: boolean;
  /** Computed fields of `from` (filters and order may name them). */
  computed?: Map<string, ComputedField>;
  /** How PostgreSQL errors name this node's relation under PostgREST's aliases (see planSelectTree). */
  sqlName?: string;
}

export interface Embed {
  /** The JSON key (alias or relation name). */
  label: Ident;
  /** How filters/order address it (the alias if given, else the name). */
  pathName: string;
  rel: Relationship | ComputedRelationship;
  /** The function of a computed relationship. */
  fn?: ComputedRef;
  /** Junction table for many-to-many. */
  junction?: TableRef;
  join: "left" | "inner";
  spread: boolean;
  toMany: boolean;
  /** `rel()` with no columns: joined for filtering only, not part of the output. */
  empty: boolean;
  node: ReadNode;
}

export interface RangeSpec {
  offset: number;
  limit?: number;
}

export interface ReadPlan {
  kind: "read";
  root: ReadNode;
  range: RangeSpec;
  count?: Preferences["count"];
  media: MediaType;
  stripNulls: boolean;
  head: boolean;
}

export interface InsertPlan {
  kind: "insert";
  target: TableRef;
  /** Columns to insert (validated), in order. Groups when missing=default splits rows by key set. */
  groups: Array<{ columns: Array<{ column: Column; col: Ident }>; rows: unknown[] }>;
  onConflict?: { columns: Ident[]; action: "merge" | "ignore" };
  /**
   * missing=default with ?columns: a merge sets every listed column from EXCLUDED (a column a row
   * left out takes its default there), as PostgREST's single statement does, not just the row's own.
   */
  updateColumns?: Array<{ column: Column; col: Ident }>;
  /**
   * missing=default: a row that leaves out a listed column gets the column's default (Column.
   * insertDefault), evaluated for every row as PostgREST does, in one statement that keeps row order.
   */
  applyDefaults?: boolean;
  /** PUT: the single row must match these primary-key filters. */
  put: boolean;
}

/** PATCH/DELETE with `limit` (and `order`): only the first rows in that order are affected. */
export interface LimitedMutation {
  limit: number;
  offset?: number;
  order: PlannedOrder[];
}

export interface UpdatePlan {
  kind: "update";
  target: TableRef;
  columns: Array<{ column: Column; col: Ident }>;
  body: Record<string, unknown>;
  where: PlannedCond[];
  limited?: LimitedMutation;
}

export interface DeletePlan {
  kind: "delete";
  target: TableRef;
  where: PlannedCond[];
  limited?: LimitedMutation;
}

export type MutationPlan = InsertPlan | UpdatePlan | DeletePlan;

export interface WritePlan {
  kind: "write";
  mutation: MutationPlan;
  /** Shape of the returned representation (select=, embeds) over the affected rows. */
  returning: ReadNode;
  representation: "minimal" | "headers-only" | "representation";
  count?: Preferences["count"];
  media: MediaType;
  stripNulls: boolean;
  rollback: boolean;
  maxAffected?: number;
  /** PATCH with an empty object: nothing to set, so nothing runs (PostgREST answers empty). */
  noop?: boolean;
  /** plinth.file_ref values written: each must be a storage object the caller can see. */
  fileRefChecks?: Array<{ bucket: string; path: string }>;
  /** file_ref columns whose objects are deleted when a write removes the reference. */
  ownedFileColumns?: Ident[];
}

export interface CallPlan {
  kind: "call";
  routine: Routine;
  fn: { schema: Ident; name: Ident };
  /** Named arguments (validated param names) with their JSON values, or one whole-body argument. */
  args: { kind: "named"; values: Array<{ param: Ident; type: string; value: unknown; variadic: boolean }> } | { kind: "single"; type: string; body: unknown };
  /** Shaping of the result: for functions returning rows, a read over the result. */
  read: ReadNode | null;
  range: RangeSpec;
  count?: Preferences["count"];
  media: MediaType;
  stripNulls: boolean;
  head: boolean;
  readOnly: boolean;
  rollback: boolean;
  maxAffected?: number;
}

export type Plan = ReadPlan | WritePlan | CallPlan;
