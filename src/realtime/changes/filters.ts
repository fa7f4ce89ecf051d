// postgres_changes filters, as realtime-js's RealtimePostgresFilterBuilder writes them and Supabase
// Realtime parses them: `col=op.value`, several joined by commas (AND), `not.` negating an operator,
// values optionally double-quoted (with backslash escapes), `in.(a,b,"c d")`. Parsing is pure and
// schema-free; evaluation compares typed values (see values.ts). A NULL column value matches only
// `is.null` (and `isdistinct`), like SQL's three-valued logic collapsed to "no match".
//
// Cost is the trap here: filters are a client's code running on the server for every change of the
// table, before the subscriber's right to see the row is checked (the dispatcher argues why that is
// harmless for what they reveal). So every operator must cost time linear in the value and bounded
// per binding, whatever the client writes:
// - `match`/`imatch` (regular expressions) are refused at join. A pattern such as `^(a+)+$` on
//   JavaScript's backtracking engine took seconds per value and blocked the main loop, and no
//   linear-time regular-expression engine ships with Bun. (Supabase runs its regex filters inside
//   PostgreSQL; its core list, eq, neq, lt, lte, gt, gte and in, needs none.)
// - `like`/`ilike` are kept, but never turned into a RegExp (even `[\s\S]*` runs backtrack
//   quadratically or worse): likeMatcher below is a bit-parallel automaton (shift-and, with a
//   self-loop where the pattern has `%`), one pass over the value, O(length of the value).
//   Measured: 99 patterns like `%a%a…%b` against a 200 kB value take ~40 ms in all; as RegExps
//   (each % a `[\s\S]*`) the same work did not finish in ten minutes. No library offers this.
// - `in` lists are capped at 100 values, like patterns at MAX_LIKE_SYMBOLS characters.
import { compareValues, type TypeInfo } from "./values.ts";

export const FILTER_OPS = ["eq", "neq", "lt", "lte", "gt", "gte", "in", "is", "isdistinct", "like", "ilike"] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

/** Refused with their own message: regular expressions cannot be evaluated safely (see above). */
const REGEX_OPS = ["match", "imatch"];

/** Characters of a like pattern other than `%` (each one a state of the automaton). */
export const MAX_LIKE_SYMBOLS = 63;

export interface Filter {
  column: string;
  op: FilterOp;
  negate: boolean;
  /** The operand; a list for `in`. */
  value: string | string[];
  /** Compiled pattern for like/ilike. */
  like?: LikeMatcher;
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
  if (REGEX_OPS.includes(op)) {
    return {
      ok: false,
      message: `the ${op} operator (regular expressions) is not supported; use eq, neq, lt, lte, gt, gte, in, is, isdistinct, like or ilike`,
    };
  }
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
    const like = likeMatcher(String(filter.value), op === "ilike");
    if (typeof like === "string") return { ok: false, message: like };
    filter.like = like;
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
      base = f.like!.test(value);
      break;
    default: {
      const c = compareValues(type, value, String(f.value));
      if (c === null) return false;
      base = f.op === "eq" ? c === 0 : f.op === "neq" ? c !== 0 : f.op === "lt" ? c < 0 : f.op === "lte" ? c <= 0 : f.op === "gt" ? c > 0 : c >= 0;
    }
  }
  return f.negate ? !base : base;
}

export interface LikeMatcher {
  test(value: string): boolean;
}

/**
 * A LIKE pattern (`%` any run, `_` one character, `\` escaping the next) as a shift-and automaton:
 * state i means "the first i non-% symbols matched"; a character moves every live state i to i+1
 * when symbol i+1 accepts it, and states followed by a `%` also stay where they are. The live states
 * (at most 64: MAX_LIKE_SYMBOLS + 1) are a bit set in two 32-bit words, so a value is read once,
 * with a handful of integer operations per character and no backtracking. Characters are code
 * points (as `_` is in PostgreSQL); ilike compares JavaScript's lowercase of both sides. Returns an
 * error message for a pattern it refuses.
 */
export function likeMatcher(pattern: string, insensitive: boolean): LikeMatcher | string {
  const symbols: Array<number | null> = []; // a code point, or null for `_`
  const loops: number[] = []; // states with a self-loop (a `%` after that many symbols)
  const chars = [...(insensitive ? pattern.toLowerCase() : pattern)];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === "%") {
      if (loops.at(-1) !== symbols.length) loops.push(symbols.length);
    } else if (c === "_") symbols.push(null);
    else if (c === "\\") {
      if (i + 1 >= chars.length) return "like pattern must not end with the escape character \\";
      symbols.push(chars[++i]!.codePointAt(0)!);
    } else symbols.push(c.codePointAt(0)!);
    if (symbols.length > MAX_LIKE_SYMBOLS) return `like pattern too long: at most ${MAX_LIKE_SYMBOLS} characters besides %`;
  }
  const m = symbols.length;
  // Bit sets of states as [low word, high word]; masks[2c], masks[2c + 1] for ASCII character c.
  const set = (into: Int32Array, at: number, state: number) => (into[at + (state >> 5)]! |= 1 << (state & 31));
  // The states a character may enter (bit i+1 for symbol i). `_` accepts anything, so every
  // character's mask starts from the wildcard mask.
  const wildcard = new Int32Array(2);
  symbols.forEach((s, i) => s === null && set(wildcard, 0, i + 1));
  const ascii = new Int32Array(256);
  for (let c = 0; c < 128; c++) ascii.set(wildcard, 2 * c);
  const others = new Map<number, Int32Array>();
  symbols.forEach((s, i) => {
    if (s === null) return;
    if (s < 128) return set(ascii, 2 * s, i + 1);
    let mask = others.get(s);
    if (!mask) others.set(s, (mask = Int32Array.from(wildcard)));
    set(mask, 0, i + 1);
  });
  const loop = new Int32Array(2);
  for (const state of loops) set(loop, 0, state);
  const [loopLo, loopHi] = [loop[0]!, loop[1]!];
  const [anyLo, anyHi] = [wildcard[0]!, wildcard[1]!];
  const acceptLo = m < 32 ? 1 << m : 0;
  const acceptHi = m < 32 ? 0 : 1 << (m - 32);
  const finalLoops = loops.at(-1) === m;

  return {
    test(raw: string): boolean {
      const value = insensitive ? raw.toLowerCase() : raw;
      let lo = 1;
      let hi = 0;
      const n = value.length;
      for (let i = 0; i < n; i++) {
        let c = value.charCodeAt(i);
        let maskLo: number;
        let maskHi: number;
        if (c < 128) {
          maskLo = ascii[2 * c]!;
          maskHi = ascii[2 * c + 1]!;
        } else {
          if (c >= 0xd800 && c < 0xdc00 && i + 1 < n) {
            const low = value.charCodeAt(i + 1);
            if (low >= 0xdc00 && low < 0xe000) {
              c = ((c - 0xd800) << 10) + (low - 0xdc00) + 0x10000;
              i++;
            }
          }
          const mask = others.get(c);
          maskLo = mask ? mask[0]! : anyLo;
          maskHi = mask ? mask[1]! : anyHi;
        }
        const nextHi = (((hi << 1) | (lo >>> 31)) & maskHi) | (hi & loopHi);
        lo = ((lo << 1) & maskLo) | (lo & loopLo);
        hi = nextHi;
        if ((lo | hi) === 0) return false;
        // Everything matched and a trailing % takes the rest: no need to read further.
        if (finalLoops && ((lo & acceptLo) | (hi & acceptHi)) !== 0) return true;
      }
      return ((lo & acceptLo) | (hi & acceptHi)) !== 0;
    },
  };
}
