// The whole query string → QueryAst: which parameters are select/order/limit/offset/logic, which are
// filters, and (for RPC reads) which are function arguments. Pure; no schema knowledge.
import type { QueryAst, OrderTerm, RangeParams } from "./ast.ts";
import { Cursor, fieldName, ParseFailure } from "./cursor.ts";
import { parseLogic, parseOpExpr, parseTreePath } from "./filter.ts";
import { parseSelect, jsonPath } from "./select.ts";
import { parseError } from "../errors.ts";

/** Parameters PostgREST ignores or that only the gateway reads. */
const IGNORED = new Set(["apikey"]);

/**
 * What a query parameter is, told by its key alone: the first step of parseQuery, and all the plan
 * cache needs to tell filters from the rest. `order`, `limit`, `offset`, `and` and `or` may follow an
 * embed path (`authors.order`, `authors.not.or`); everything that is none of these is a filter.
 */
export type ParamKind = "ignored" | "select" | "columns" | "on_conflict" | "logic" | "order" | "limit" | "offset" | "filter";

export function paramKind(key: string): ParamKind {
  if (IGNORED.has(key)) return "ignored";
  if (key === "select" || key === "columns" || key === "on_conflict") return key;
  switch (key.slice(key.lastIndexOf(".") + 1)) {
    case "and":
    case "or":
      return "logic";
    case "order":
      return "order";
    case "limit":
      return "limit";
    case "offset":
      return "offset";
    default:
      return "filter";
  }
}

export function parseQuery(params: Iterable<[string, string]>, opts: { rpcRead?: boolean } = {}): QueryAst {
  const ast: QueryAst = { select: [{ kind: "star" }], filters: [], logic: [], order: [], ranges: new Map(), rpcArgs: [] };
  let select: string | undefined;
  for (const [key, value] of params) {
    const kind = paramKind(key);
    switch (kind) {
      case "ignored":
        continue;
      case "select":
        select = value;
        continue;
      case "columns":
        ast.columns = parseColumns("columns parameter", value);
        continue;
      case "on_conflict":
        ast.onConflict = parseColumns("on_conflict parameter", value);
        continue;
      case "logic":
        if (value !== "") ast.logic.push(parseLogic(key, value));
        continue;
      case "order":
        if (value !== "") ast.order.push({ path: embedPath(key), terms: parseOrder(value) });
        continue;
      case "limit":
      case "offset": {
        if (value === "") continue;
        const n = Number(value);
        if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw parseError(kind, value, "expecting a non-negative integer");
        const k = embedPath(key).join(".");
        const r: RangeParams = ast.ranges.get(k) ?? {};
        if (kind === "limit") r.limit = n;
        else r.offset = n;
        ast.ranges.set(k, r);
        continue;
      }
      case "filter":
        break;
    }
    // A filter (or, for RPC reads, an argument when the value has no operator).
    if (value === "" && !opts.rpcRead) continue;
    const expr = parseOpExpr(value, opts.rpcRead);
    if (!expr) {
      ast.rpcArgs.push([key, value]);
      continue;
    }
    const { path, field } = parseTreePath(key);
    if (opts.rpcRead && path.length === 0 && field.json.length === 0) {
      // Could still be an argument whose value looks like an operator; the planner decides.
      ast.rpcArgs.push([key, value]);
    }
    ast.filters.push({ path, filter: { field, expr } });
  }
  if (select !== undefined) ast.select = parseSelect(select);
  return ast;
}

function embedPath(key: string): string[] {
  const parts = key.split(".");
  return parts.slice(0, -1);
}

function parseColumns(what: string, text: string): string[] {
  const c = new Cursor(text);
  try {
    const cols: string[] = [];
    for (;;) {
      c.skipSpaces();
      cols.push(fieldName(c));
      c.skipSpaces();
      if (!c.eat(",")) break;
    }
    c.end();
    return cols;
  } catch (e) {
    if (e instanceof ParseFailure) throw parseError(what, text, e.details);
    throw e;
  }
}

export function parseOrder(text: string): OrderTerm[] {
  const c = new Cursor(text);
  try {
    const terms: OrderTerm[] = [];
    for (;;) {
      c.skipSpaces();
      const name = fieldName(c);
      let term: OrderTerm;
      if (c.eat("(")) {
        const col = fieldName(c);
        const json = jsonPath(c);
        c.expect(")");
        term = { relation: name, field: { name: col, json } };
      } else {
        term = { field: { name, json: jsonPath(c) } };
      }
      if (c.eat(".asc")) term.direction = "asc";
      else if (c.eat(".desc")) term.direction = "desc";
      if (c.eat(".nullsfirst")) term.nulls = "first";
      else if (c.eat(".nullslast")) term.nulls = "last";
      terms.push(term);
      c.skipSpaces();
      if (c.eat(",")) continue;
      if (!c.done) c.fail('"asc", "desc", "nullsfirst", "nullslast", "," or end of input');
      return terms;
    }
  } catch (e) {
    if (e instanceof ParseFailure) throw parseError("order", text, e.details);
    throw e;
  }
}
