// select=: columns, aliases, casts, JSON paths, aggregates and embedded resources (PostgREST's
// grammar, as postgrest-js's select-query-parser also reads it).
import type { Aggregate, FieldRef, JsonStep, SelectItem } from "./ast.ts";
import { Cursor, fieldName, identifier, ParseFailure, quoted } from "./cursor.ts";
import { parseError } from "../errors.ts";

export function parseSelect(text: string): SelectItem[] {
  const c = new Cursor(text);
  try {
    const items = forest(c, 0);
    c.end();
    return items;
  } catch (e) {
    if (e instanceof ParseFailure) throw parseError("select parameter", text, e.details);
    throw e;
  }
}

const MAX_DEPTH = 32;

function forest(c: Cursor, depth: number): SelectItem[] {
  if (depth > MAX_DEPTH) c.fail("less nesting");
  const items: SelectItem[] = [];
  // An empty forest is allowed (e.g. `rel()` embeds nothing but may filter).
  c.skipSpaces();
  if (c.done || c.peek() === ")") return items;
  for (;;) {
    c.skipSpaces();
    items.push(item(c, depth));
    c.skipSpaces();
    if (!c.eat(",")) break;
  }
  return items;
}

function item(c: Cursor, depth: number): SelectItem {
  if (c.eat("...")) {
    const name = fieldName(c);
    const params = embedParams(c);
    if (c.peek() !== "(") c.fail('"("');
    return { kind: "embed", name, spread: true, ...params, children: children(c, depth) };
  }
  if (c.peek() === "*") {
    c.pos++;
    c.skipSpaces();
    if (!atItemEnd(c)) c.fail('"," or ")"');
    return { kind: "star" };
  }
  const start = c.pos;
  let alias: string | undefined;
  const first = fieldName(c);
  if (c.peek() === ":" && c.peek(1) !== ":") {
    c.pos++;
    alias = first;
  } else {
    c.pos = start;
  }
  c.skipSpaces();
  if (c.startsWith("count()")) {
    c.pos += "count()".length;
    const aggCast = cast(c);
    c.skipSpaces();
    if (!atItemEnd(c)) c.fail('"::", "," or ")"');
    return { kind: "count", alias, aggCast };
  }
  const name = fieldName(c);
  // An embed: name, optional !hint / !inner, then "(". A column named `count` is never an embed.
  if (name !== "count" && (c.peek() === "!" || c.peek() === "(")) {
    const params = embedParams(c);
    if (c.peek() !== "(") c.fail('"("');
    return { kind: "embed", name, alias, spread: false, ...params, children: children(c, depth) };
  }
  const field: FieldRef = { name, json: jsonPath(c) };
  const fieldCast = cast(c);
  let agg: Aggregate | undefined;
  if (c.peek() === ".") {
    c.pos++;
    agg = aggregate(c);
    c.expect("()");
  }
  const aggCast = agg ? cast(c) : undefined;
  c.skipSpaces();
  if (!atItemEnd(c)) c.fail('"->", "::", ".", "," or ")"');
  return { kind: "field", field, alias, cast: fieldCast, agg, aggCast };
}

function children(c: Cursor, depth: number): SelectItem[] {
  c.expect("(");
  const kids = forest(c, depth + 1);
  c.skipSpaces();
  c.expect(")");
  return kids;
}

function atItemEnd(c: Cursor): boolean {
  return c.done || c.peek() === "," || c.peek() === ")";
}

function embedParams(c: Cursor): { hint?: string; join?: "inner" | "left" } {
  const out: { hint?: string; join?: "inner" | "left" } = {};
  for (let i = 0; i < 2 && c.peek() === "!"; i++) {
    c.pos++;
    const save = c.pos;
    const word = fieldName(c);
    if ((word === "inner" || word === "left") && !out.join) out.join = word;
    else if (!out.hint) out.hint = word;
    else {
      c.pos = save;
      c.fail('"("');
    }
  }
  return out;
}

function aggregate(c: Cursor): Aggregate {
  for (const a of ["sum", "avg", "count", "max", "min"] as const) if (c.eat(a)) return a;
  c.fail("an aggregate (sum, avg, count, max, min)");
}

export function cast(c: Cursor): string | undefined {
  if (!c.startsWith("::")) return undefined;
  c.pos += 2;
  return identifier(c, "a type name");
}

/** `->key`, `->>key`, `->0`, `->-1`, repeated. */
export function jsonPath(c: Cursor): JsonStep[] {
  const steps: JsonStep[] = [];
  for (;;) {
    let arrow: "->" | "->>";
    if (c.eat("->>")) arrow = "->>";
    else if (c.eat("->")) arrow = "->";
    else return steps;
    if (c.peek() === '"') {
      steps.push({ arrow, key: quoted(c), index: false });
      continue;
    }
    const m = /^-?\d+(?=->|::|\.|,|\)|$)/.exec(c.text.slice(c.pos));
    if (m) {
      c.pos += m[0].length;
      steps.push({ arrow, key: m[0], index: true });
      continue;
    }
    const start = c.pos;
    while (!c.done && !"(-:.,>)".includes(c.peek())) c.pos++;
    // A dash inside a key is allowed unless it starts an arrow.
    while (c.peek() === "-" && c.peek(1) !== ">") {
      c.pos++;
      while (!c.done && !"(-:.,>)".includes(c.peek())) c.pos++;
    }
    const key = c.text.slice(start, c.pos).trim();
    if (!key) c.fail("a JSON key");
    steps.push({ arrow, key, index: false });
  }
}
