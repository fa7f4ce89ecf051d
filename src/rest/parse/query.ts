// The whole query string → QueryAst: which parameters are select/order/limit/offset/logic, which are
// filters, and (for RPC reads) which are function arguments. Pure; no schema knowledge.
import type { QueryAst, OrderTerm, RangeParams } from "./ast.ts";
import { Cursor, fieldName, ParseFailure } from "./cursor.ts";
import { parseLogic, parseOpExpr, parseTreePath } from "./filter.ts";
import { parseSelect, jsonPath } from "./select.ts";
import { parseError } from "../errors.ts";

const RESERVED = new Set(["select", "columns", "on_conflict"]);
const EMBEDDABLE = new Set(["order", "limit", "offset", "and", "or"]);

/** Parameters PostgREST ignores or that only the gateway reads. */
const IGNORED = new Set(["apikey"]);

export function parseQuery(params: Iterable<[string, string]>, opts: { rpcRead?: boolean } = {}): QueryAst {
  const ast: QueryAst = { select: [{ kind: "star" }], filters: [], logic: [], order: [], ranges: new Map(), rpcArgs: [] };
  let select: string | undefined;
  for (const [key, value] of params) {
    if (IGNORED.has(key)) continue;
    if (key === "select") {
      select = value;
      continue;
    }
    if (key === "columns") {
      ast.columns = parseColumns("columns parameter", value);
      continue;
    }
    if (key === "on_conflict") {
      ast.onConflict = parseColumns("on_conflict parameter", value);
      continue;
    }
    const last = key.slice(key.lastIndexOf(".") + 1);
    if (EMBEDDABLE.has(last) && !RESERVED.has(key)) {
      if (value === "") continue;
      if (last === "and" || last === "or") {
        ast.logic.push(parseLogic(key, value));
        continue;
      }
      const path = embedPath(key);
      if (last === "order") {
        ast.order.push({ path, terms: parseOrder(value) });
        continue;
      }
      const n = Number(value);
      if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw parseError(last, value, "expecting a non-negative integer");
      const k = path.join(".");
      const r: RangeParams = ast.ranges.get(k) ?? {};
      if (last === "limit") r.limit = n;
      else r.offset = n;
      ast.ranges.set(k, r);
      continue;
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
