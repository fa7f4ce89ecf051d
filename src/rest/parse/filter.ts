// Horizontal filters: `col=op.value`, `not.`, `in.(…)`, `is.`, full-text search, quantifiers, and
// the logic trees of `or=(…)` / `and=(…)` (also under an embed path: `rel.or=(…)`).
import { QUANTIFIABLE, type EmbedPath, type FieldRef, type Filter, type LogicTree, type OpExpr, type Operation, type SimpleOp } from "./ast.ts";
import { Cursor, fieldName, identifier, ParseFailure, quoted } from "./cursor.ts";
import { jsonPath } from "./select.ts";
import { parseError } from "../errors.ts";

const SIMPLE_OPS: SimpleOp[] = ["neq", "cs", "cd", "ov", "sl", "sr", "nxr", "nxl", "adj"];
const QUANT_OPS: SimpleOp[] = ["eq", "gte", "gt", "lte", "lt", "like", "ilike", "match", "imatch"];
const FTS_OPS = ["fts", "plfts", "phfts", "wfts"] as const;
const IS_VALUES = ["null", "not_null", "true", "false", "unknown"] as const;

/** `a.b.c->x` → path [a, b], field c->x. */
export function parseTreePath(key: string): { path: EmbedPath; field: FieldRef } {
  const c = new Cursor(key);
  try {
    const names = [fieldName(c)];
    while (c.eat(".")) names.push(fieldName(c));
    const json = jsonPath(c);
    c.end();
    return { path: names.slice(0, -1), field: { name: names[names.length - 1]!, json } };
  } catch (e) {
    if (e instanceof ParseFailure) throw parseError("tree path", key, e.details);
    throw e;
  }
}

/** `op.value` as a query parameter value, or null when it has no operator (RPC arguments). */
export function parseOpExpr(value: string, allowNoOp = false): OpExpr | null {
  const c = new Cursor(value);
  try {
    return opExpr(c, "single");
  } catch (e) {
    if (e instanceof ParseFailure) {
      if (allowNoOp) return null;
      throw parseError("filter", value, e.details);
    }
    throw e;
  }
}

type ValueMode = "single" | "logic";

function opExpr(c: Cursor, mode: ValueMode): OpExpr {
  let not = false;
  if (c.startsWith("not.")) {
    c.pos += 4;
    not = true;
  }
  return { not, operation: operation(c, mode) };
}

const SIMPLE = new Set<string>(SIMPLE_OPS);
const QUANT = new Set<string>(QUANT_OPS);
const FTS = new Set<string>(FTS_OPS);

/** The operator is the run of lower-case letters at `pos`; what follows it decides the form. */
function operatorEnd(text: string, pos: number): number {
  let end = pos;
  while (end < text.length) {
    const ch = text.charCodeAt(end);
    if (ch < 97 || ch > 122) break;
    end++;
  }
  return end;
}

/**
 * The first level of a filter value, `[not.]op.operand`, without parsing the operand: for the plan
 * cache, which needs to tell values from operators on every request and must not pay for more.
 * `operand` is the value exactly as parseOpExpr takes it for the operators whose value is the whole
 * rest (eq, neq, gt, …, isdistinct); null when no `.` follows the operator's name (`eq(any).…`,
 * `fts(english).…`, no operator at all).
 */
export function splitOperator(value: string): { op: string; prefix: string; operand: string } | null {
  const start = value.startsWith("not.") ? 4 : 0;
  const end = operatorEnd(value, start);
  if (end === start || value.charCodeAt(end) !== 46 /* . */) return null;
  return { op: value.slice(start, end), prefix: value.slice(0, end + 1), operand: value.slice(end + 1) };
}

function operation(c: Cursor, mode: ValueMode): Operation {
  const end = operatorEnd(c.text, c.pos);
  const name = c.text.slice(c.pos, end);
  const next = c.text[end];
  if (name === "in" && next === ".") {
    c.pos = end + 1;
    return { op: "in", values: listValue(c) };
  }
  if (name === "isdistinct" && next === ".") {
    c.pos = end + 1;
    return { op: "isdistinct", value: singleValue(c, mode) };
  }
  if (name === "is" && next === ".") {
    c.pos = end + 1;
    const rest = c.text.slice(c.pos);
    for (const v of IS_VALUES) {
      if (rest.toLowerCase().startsWith(v)) {
        c.pos += v.length;
        if (mode === "single") c.end();
        return { op: "is", value: v };
      }
    }
    c.fail("isVal: (null, not_null, true, false, unknown)");
  }
  if (FTS.has(name) && (next === "." || next === "(")) {
    c.pos = end;
    let config: string | undefined;
    if (c.eat("(")) {
      config = identifier(c, "a text search configuration");
      c.expect(")");
    }
    c.expect(".", "delimiter (.)");
    return { op: name as (typeof FTS_OPS)[number], config, value: singleValue(c, mode) };
  }
  if (SIMPLE.has(name) && next === ".") {
    c.pos = end + 1;
    return { op: name as SimpleOp, value: singleValue(c, mode) };
  }
  if (QUANT.has(name)) {
    const op = name as SimpleOp;
    c.pos = end;
    let quant: "any" | "all" | undefined;
    if (c.eat("(any)")) quant = "any";
    else if (c.eat("(all)")) quant = "all";
    if (c.eat(".")) {
      if (quant && !QUANTIFIABLE.has(op)) c.fail("operator (eq, gt, ...)");
      return { op, quant, value: singleValue(c, mode) };
    }
    c.pos = end - name.length;
  }
  c.fail("operator (eq, gt, ...)");
}

function singleValue(c: Cursor, mode: ValueMode): string {
  if (mode === "single") {
    const v = c.text.slice(c.pos);
    c.pos = c.text.length;
    return v;
  }
  // Inside a logic tree: a quoted value, a {pg,array}, or everything up to , or ).
  if (c.peek() === '"') {
    const save = c.pos;
    const v = quoted(c);
    if (c.done || c.peek() === "," || c.peek() === ")") return v;
    c.pos = save;
  }
  if (c.peek() === "{") {
    const close = c.text.indexOf("}", c.pos);
    const inner = close < 0 ? "" : c.text.slice(c.pos + 1, close);
    if (close >= 0 && !inner.includes("{")) {
      const v = c.text.slice(c.pos, close + 1);
      c.pos = close + 1;
      return v;
    }
  }
  const start = c.pos;
  // JSON values for cs/cd may contain brackets and quotes; stop only at an unnested , or ).
  let depth = 0;
  while (!c.done) {
    const ch = c.peek();
    if (ch === "[") depth++;
    else if (ch === "]" && depth > 0) depth--;
    else if (depth === 0 && (ch === "," || ch === ")")) break;
    c.pos++;
  }
  return c.text.slice(start, c.pos);
}

/** `(a,"b,c",d)`. */
function listValue(c: Cursor): string[] {
  c.skipSpaces();
  c.expect("(");
  c.skipSpaces();
  const values: string[] = [];
  if (c.eat(")")) {
    c.skipSpaces();
    return values;
  }
  for (;;) {
    let v: string | null = null;
    if (c.peek() === '"') {
      const save = c.pos;
      const q = quoted(c);
      if (c.peek() === "," || c.peek() === ")") v = q;
      else c.pos = save;
    }
    if (v === null) {
      const start = c.pos;
      while (!c.done && c.peek() !== "," && c.peek() !== ")") c.pos++;
      v = c.text.slice(start, c.pos);
    }
    values.push(v);
    if (c.eat(",")) continue;
    c.skipSpaces();
    c.expect(")", '"," or ")"');
    c.skipSpaces();
    return values;
  }
}

/** A logic parameter: key `or`, `not.and`, `rel.or`, `rel.not.or`; value `(f1,f2,and(f3,f4))`. */
export function parseLogic(key: string, value: string): { path: EmbedPath; tree: LogicTree } {
  const parts = key.split(".");
  const op = parts[parts.length - 1] as "and" | "or";
  const not = parts.includes("not");
  const path = parts.slice(0, -1).filter((p) => p !== "not");
  const c = new Cursor(value);
  try {
    c.skipSpaces();
    c.expect("(");
    const children = logicChildren(c, 0);
    c.end();
    return { path, tree: { kind: "logic", not, op, children } };
  } catch (e) {
    if (e instanceof ParseFailure) throw parseError("logic tree", value, e.details);
    throw e;
  }
}

const MAX_DEPTH = 32;

function logicChildren(c: Cursor, depth: number): LogicTree[] {
  if (depth > MAX_DEPTH) c.fail("less nesting");
  const out: LogicTree[] = [];
  for (;;) {
    c.skipSpaces();
    out.push(logicTree(c, depth));
    c.skipSpaces();
    if (c.eat(",")) continue;
    c.expect(")", '"," or ")"');
    c.skipSpaces();
    return out;
  }
}

function logicTree(c: Cursor, depth: number): LogicTree {
  const save = c.pos;
  // and(…), or(…), not.and(…), not.or(…)
  let not = false;
  if (c.startsWith("not.")) {
    c.pos += 4;
    not = true;
  }
  for (const op of ["and", "or"] as const) {
    if (c.startsWith(op + "(")) {
      c.pos += op.length + 1;
      return { kind: "logic", not, op, children: logicChildren(c, depth + 1) };
    }
  }
  c.pos = save;
  const field: FieldRef = { name: fieldName(c), json: jsonPath(c) };
  c.expect(".", "delimiter (.)");
  const expr = opExpr(c, "logic");
  const filter: Filter = { field, expr };
  return { kind: "filter", filter };
}
