// What a PostgREST request says, before anyone looked at the schema: the output of parse/, the
// input of plan/. Names here are raw user text; nothing in this file has been matched yet.

export interface JsonStep {
  arrow: "->" | "->>";
  /** A key, or a (possibly negative) array index when `index` is true. */
  key: string;
  index: boolean;
}

/** A column reference with an optional JSON path: `data->a->>b`. */
export interface FieldRef {
  name: string;
  json: JsonStep[];
}

export type Aggregate = "count" | "sum" | "avg" | "max" | "min";

export type SelectItem =
  | { kind: "star" }
  | { kind: "field"; field: FieldRef; alias?: string; cast?: string; agg?: Aggregate; aggCast?: string }
  /** `count()` on its own: counts rows. */
  | { kind: "count"; alias?: string; aggCast?: string }
  | {
      kind: "embed";
      name: string;
      alias?: string;
      hint?: string;
      join?: "inner" | "left";
      spread: boolean;
      children: SelectItem[];
    };

export type SimpleOp =
  | "eq"
  | "neq"
  | "gt"
  | "gte"
  | "lt"
  | "lte"
  | "like"
  | "ilike"
  | "match"
  | "imatch"
  | "cs"
  | "cd"
  | "ov"
  | "sl"
  | "sr"
  | "nxr"
  | "nxl"
  | "adj"
  | "isdistinct";
export type FtsOp = "fts" | "plfts" | "phfts" | "wfts";
export const QUANTIFIABLE = new Set<SimpleOp>(["eq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch"]);

export type Operation =
  | { op: SimpleOp; quant?: "any" | "all"; value: string }
  | { op: "in"; values: string[] }
  | { op: "is"; value: "null" | "not_null" | "true" | "false" | "unknown" }
  | { op: FtsOp; config?: string; value: string };

export interface OpExpr {
  not: boolean;
  operation: Operation;
}

export interface Filter {
  field: FieldRef;
  expr: OpExpr;
}

export type LogicTree = { kind: "filter"; filter: Filter } | { kind: "logic"; not: boolean; op: "and" | "or"; children: LogicTree[] };

export interface OrderTerm {
  /** For `rel(col).desc`: order by a column of a to-one embedded resource. */
  relation?: string;
  field: FieldRef;
  direction?: "asc" | "desc";
  nulls?: "first" | "last";
}

/** A path of embedded resource names (aliases) from the root; [] is the root. */
export type EmbedPath = string[];

export interface RangeParams {
  limit?: number;
  offset?: number;
}

export interface QueryAst {
  select: SelectItem[];
  filters: Array<{ path: EmbedPath; filter: Filter }>;
  logic: Array<{ path: EmbedPath; tree: LogicTree }>;
  order: Array<{ path: EmbedPath; terms: OrderTerm[] }>;
  /** Keyed by the embed path joined with "." ("" for the root). */
  ranges: Map<string, RangeParams>;
  onConflict?: string[];
  columns?: string[];
  /** RPC via GET/HEAD: parameters without an operator, which are function arguments. */
  rpcArgs: Array<[string, string]>;
}

/** A request body as parsed by its Content-Type (JSON, CSV or a form); `none` for an RPC called without one. */
export type Body = { kind: "json"; value: unknown } | { kind: "none" };

export type CountPreference = "exact" | "planned" | "estimated";

export interface Preferences {
  return?: "minimal" | "headers-only" | "representation";
  count?: CountPreference;
  resolution?: "merge-duplicates" | "ignore-duplicates";
  missing?: "default" | "null";
  tx?: "commit" | "rollback";
  handling?: "strict" | "lenient";
  maxAffected?: number;
  params?: "single-object";
  timezone?: string;
  /** Plinth's own: `plinth-file-refs=expand` answers file_ref columns with their object's metadata. */
  fileRefs?: "expand";
  /** Preferences that were not understood (refused with handling=strict). */
  invalid: string[];
}
