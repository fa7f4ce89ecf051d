// PostgREST's filter operators as SQL, in one place: REST's read/write planner (sql/read.ts) and the
// admin API's rows endpoints (admin/meta/rows-sql.ts) both build their WHERE conditions here.
// Values are always bind parameters; the left-hand side is an expression the caller built from
// names that matched the catalog, and `type` is a type name from the catalog (never request text).
import type { OpExpr } from "../parse/ast.ts";
import type { SqlWriter } from "./ident.ts";

const OPS: Record<string, string> = {
  eq: "=",
  neq: "<>",
  gt: ">",
  gte: ">=",
  lt: "<",
  lte: "<=",
  like: "LIKE",
  ilike: "ILIKE",
  match: "~",
  imatch: "~*",
  cs: "@>",
  cd: "<@",
  ov: "&&",
  sl: "<<",
  sr: ">>",
  nxr: "&<",
  nxl: "&>",
  adj: "-|-",
};
const FTS: Record<string, string> = { fts: "to_tsquery", plfts: "plainto_tsquery", phfts: "phraseto_tsquery", wfts: "websearch_to_tsquery" };

/** Values are always parameters; `*` in like patterns means `%`, as in PostgREST. */
export function filterSql(w: SqlWriter, lhs: string, type: string, baseType: string, viaJson: boolean, e: OpExpr): string {
  const o = e.operation;
  let sql: string;
  switch (o.op) {
    case "in":
      sql = o.values.length === 0 ? "FALSE" : `${lhs} = ANY(${w.param(pgArrayLiteral(o.values))}::${arrayOf(type)})`;
      break;
    case "is":
      sql = `${lhs} IS ${o.value === "null" ? "NULL" : o.value === "not_null" ? "NOT NULL" : o.value.toUpperCase()}`;
      break;
    case "isdistinct":
      sql = `${lhs} IS DISTINCT FROM ${w.param(o.value)}::${type}`;
      break;
    case "fts":
    case "plfts":
    case "phfts":
    case "wfts": {
      const cfg = o.config !== undefined ? `${w.param(o.config)}::regconfig, ` : "";
      const doc = baseType === "tsvector" && !viaJson ? lhs : `to_tsvector(${cfg}${lhs}${viaJson ? "" : "::text"})`;
      sql = `${doc} @@ ${FTS[o.op]}(${cfg}${w.param(o.value)})`;
      break;
    }
    default: {
      const op = OPS[o.op]!;
      const textual = o.op === "like" || o.op === "ilike" || o.op === "match" || o.op === "imatch";
      const v = o.op === "like" || o.op === "ilike" ? o.value.replaceAll("*", "%") : o.value;
      const valueType = textual ? "text" : type;
      if (o.quant) sql = `${lhs} ${op} ${o.quant.toUpperCase()}(${w.param(v)}::${arrayOf(valueType)})`;
      else sql = `${lhs} ${op} ${textual ? w.param(v) : `${w.param(v)}::${valueType}`}`;
    }
  }
  return e.not ? `NOT (${sql})` : sql;
}

const arrayOf = (type: string) => (type.endsWith("[]") ? type : `${type}[]`);

/** `{"a","b,c"}`: every element quoted, so commas, braces and the word null stay text. */
export function pgArrayLiteral(values: string[]): string {
  return `{${values.map((v) => `"${v.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`).join(",")}}`;
}
