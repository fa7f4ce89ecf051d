// postgres_changes filters, as realtime-js's RealtimePostgresFilterBuilder writes them and Supabase
// Realtime parses them: `col=op.value`, several joined by commas (AND), `not.` negating an operator,
// values optionally double-quoted (with backslash escapes), `in.(a,b,"c d")`. Parsing is pure and
// schema-free; evaluation compares typed values (see values.ts). A NULL column value matches only
// `is.null` (and `isdistinct`), like SQL's three-valued logic collapsed to "no match".
import { compareValues, type TypeInfo } from "./values.ts";

export const FILTER_OPS = ["eq", "neq", "lt", "lte", "gt", "gte", "in", "is", "isdistinct", "like", "ilike", "match", "imatch"] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

export interface Filter {
  column: string;
  op: FilterOp;
  negate: boolean;
  /** The operand; a list for `in`. */
  value: string | string[];
  /** Compiled pattern for like/ilike/match/imatch. */
  pattern?: RegExp;
}

export type FilterParse = { ok: true; filters: Filter[] } | { ok: false; message: string };

export function parseFilters(text: string | undefined | null): FilterParse {
  if (text === undefined || text === null || text.trim() === "") return { ok: true, filters: [] };
  const filters: Filter[] = [];
  for (const segment of splitTopLevel(text.trim())) {
    const parsed = parseSegment(segment);
    if (!parsed.ok) return { ok: false, message: `Error parsing \`filter\` params: ${parsed.message}` };
    filters.push(parsed.filter);
  }
  return { ok: true, filters };
}

function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let depth = 0;
  let quoted = false;
  let prev = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quoted) {
      if (c === "\\" && i + 1 < s.length) {
        cur += c + s[++i];
        continue;
      }
      if (c === '"') quoted = false;
      cur += c;
    } else if (c === '"' && (prev === "." || prev === "(" || prev === ",")) {
      quoted = true;
      cur += c;
    } else if (c === "(") {
      depth++;
      cur += c;
    } else if (c === ")") {
      depth = Math.max(0, depth - 1);
      cur += c;
    } else if (c === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += c;
    prev = c;
  }
  out.push(cur);
  return out;
}

function parseSegment(raw: string): { ok: true; filter: Filter } | { ok: false; message: string } {
  const seg = raw.trim();
  if (!seg) return { ok: false, message: "filter must not contain empty segments (check for extra commas)" };
  const eq = seg.indexOf("=");
  if (eq <= 0) return { ok: false, message: JSON.stringify([seg]) };
  const column = seg.slice(0, eq);
  let rest = seg.slice(eq + 1);
  const negate = rest.startsWith("not.");
  if (negate) rest = rest.slice(4);
  const dot = rest.indexOf(".");
  if (dot < 0) return { ok: false, message: JSON.stringify([column, rest]) };
  const op = rest.slice(0, dot);
  const operand = rest.slice(dot + 1);
  if (!(FILTER_OPS as readonly string[]).includes(op)) return { ok: false, message: JSON.stringify([op, operand]) };
  const filter: Filter = { column, op: op as FilterOp, negate, value: unquote(operand) };
  if (op === "in") {
    if (!(operand.length >= 2 && operand.startsWith("(") && operand.endsWith(")"))) {
      return { ok: false, message: "`in` filter value must be wrapped by parentheses" };
    }
    filter.value = listItems(operand.slice(1, -1));
    if (filter.value.length > 100) return { ok: false, message: "too many values for `in` filter. Maximum 100" };
  } else if (op === "is") {
    if (!["null", "true", "false", "unknown"].includes(String(filter.value).toLowerCase())) {
      return { ok: false, message: "invalid value for is filter: must be null, true, false, or unknown" };
    }
  } else if (op === "like" || op === "ilike") {
    filter.pattern = likeToRegExp(String(filter.value), op === "ilike");
  } else if (op === "match" || op === "imatch") {
    try {
      filter.pattern = new RegExp(String(filter.value), op === "imatch" ? "iu" : "u");
    } catch (err) {
      return { ok: false, message: `invalid regular expression for ${op} filter: ${(err as Error).message}` };
    }
  }
  return { ok: true, filter };
}

function unquote(v: string): string {
  if (!v.startsWith('"')) return v;
  let out = "";
  for (let i = 1; i < v.length; i++) {
    const c = v[i]!;
    if (c === "\\" && i + 1 < v.length) out += v[++i];
    else if (c === '"') return i === v.length - 1 ? out : v;
    else out += c;
  }
  return v;
}

function listItems(s: string): string[] {
  const items: string[] = [];
  let i = 0;
  while (i <= s.length) {
    let item = "";
    if (s[i] === '"') {
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === "\\") i++;
        item += s[i++] ?? "";
      }
      i++;
      while (i < s.length && s[i] !== ",") i++;
    } else {
      const start = i;
      while (i < s.length && s[i] !== ",") i++;
      item = s.slice(start, i).trim();
    }
    items.push(item);
    i++;
  }
  return items;
}

function likeToRegExp(pattern: string, insensitive: boolean): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "\\" && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else if (c === "%") re += "[\\s\\S]*";
    else if (c === "_") re += "[\\s\\S]";
    else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`, insensitive ? "iu" : "u");
}

const escapeRe = (c: string) => c.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");

/**
 * Whether one filter holds for a column value (`undefined`: the column is absent from the row, e.g.
 * a key-only old row or an unchanged TOAST value; it never matches).
 */
export function filterMatches(f: Filter, type: TypeInfo, value: string | null | undefined): boolean {
  if (value === undefined) return false;
  if (f.op === "is") {
    const want = String(f.value).toLowerCase();
    let base: boolean;
    if (want === "null") base = value === null;
    else if (want === "unknown") base = value === null;
    else base = value !== null && compareValues({ ...type, kind: "bool" }, value, want) === 0;
    return f.negate ? !base : base;
  }
  if (f.op === "isdistinct") {
    const operandNull = String(f.value).toLowerCase() === "null";
    const base = value === null ? !operandNull : operandNull || compareValues(type, value, String(f.value)) !== 0;
    return f.negate ? !base : base;
  }
  if (value === null) return false;
  let base: boolean | null;
  switch (f.op) {
    case "in":
      base = (f.value as string[]).some((v) => compareValues(type, value, v) === 0);
      break;
    case "like":
    case "ilike":
    case "match":
    case "imatch":
      base = f.pattern!.test(value);
      break;
    default: {
      const c = compareValues(type, value, String(f.value));
      if (c === null) return false;
      base = f.op === "eq" ? c === 0 : f.op === "neq" ? c !== 0 : f.op === "lt" ? c < 0 : f.op === "lte" ? c <= 0 : f.op === "gt" ? c > 0 : c >= 0;
    }
  }
  return f.negate ? !base : base;
}
