// Turns the text pgoutput carries into the JSON that Supabase Realtime sends (what to_jsonb gives):
// numbers as JSON numbers (exact digits, no float rounding), booleans, json/jsonb inline, arrays as
// JSON arrays, timestamps in ISO form with a `T`, everything else as strings. realtime-js's
// transformers (convertChangeData) then leave typed values alone and parse what is still text.

export type ValueKind = "bool" | "number" | "json" | "timestamp" | "timestamptz" | "timetz" | "string";

export interface TypeInfo {
  oid: number;
  /** pg_type.typname, the name Supabase puts in `columns[].type` ("int8", "_text", …). */
  name: string;
  kind: ValueKind | "array";
  /** For arrays: the element type. */
  elem?: TypeInfo;
}

/** Built-in scalar types, by OID, so the common case needs no catalog lookup. */
const SCALARS: Record<number, [string, ValueKind]> = {
  16: ["bool", "bool"],
  17: ["bytea", "string"],
  18: ["char", "string"],
  19: ["name", "string"],
  20: ["int8", "number"],
  21: ["int2", "number"],
  23: ["int4", "number"],
  25: ["text", "string"],
  26: ["oid", "number"],
  114: ["json", "json"],
  700: ["float4", "number"],
  701: ["float8", "number"],
  790: ["money", "string"],
  1042: ["bpchar", "string"],
  1043: ["varchar", "string"],
  1082: ["date", "string"],
  1083: ["time", "string"],
  1114: ["timestamp", "timestamp"],
  1184: ["timestamptz", "timestamptz"],
  1186: ["interval", "string"],
  1266: ["timetz", "timetz"],
  1700: ["numeric", "number"],
  2950: ["uuid", "string"],
  3802: ["jsonb", "json"],
  869: ["inet", "string"],
  650: ["cidr", "string"],
  829: ["macaddr", "string"],
};

/** Built-in array types: array OID → element OID. */
const ARRAYS: Record<number, number> = {
  1000: 16,
  1001: 17,
  1002: 18,
  1003: 19,
  1016: 20,
  1005: 21,
  1007: 23,
  1009: 25,
  1028: 26,
  199: 114,
  1021: 700,
  1022: 701,
  791: 790,
  1014: 1042,
  1015: 1043,
  1182: 1082,
  1183: 1083,
  1115: 1114,
  1185: 1184,
  1187: 1186,
  1270: 1266,
  1231: 1700,
  2951: 2950,
  3807: 3802,
  1041: 869,
  651: 650,
  1040: 829,
};

export function builtinType(oid: number): TypeInfo | null {
  const s = SCALARS[oid];
  if (s) return { oid, name: s[0], kind: s[1] };
  const elemOid = ARRAYS[oid];
  if (elemOid !== undefined) {
    const elem = builtinType(elemOid)!;
    return { oid, name: `_${elem.name}`, kind: "array", elem };
  }
  return null;
}

/** The kind a catalog type maps to, for types outside the built-in table (domains use their base). */
export function kindForCatalog(row: { typname: string; typcategory: string; base_oid: number | null }): ValueKind {
  if (row.base_oid) {
    const base = builtinType(row.base_oid);
    if (base && base.kind !== "array") return base.kind;
  }
  if (row.typcategory === "N") return "number";
  if (row.typcategory === "B") return "bool";
  return "string";
}

const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** One value as JSON text. */
export function valueJson(type: TypeInfo, text: string): string {
  switch (type.kind) {
    case "bool":
      return text === "t" ? "true" : text === "f" ? "false" : JSON.stringify(text);
    case "number":
      return JSON_NUMBER.test(text) ? text : JSON.stringify(text);
    case "json":
      return text;
    case "timestamp":
      return JSON.stringify(text.replace(" ", "T"));
    case "timestamptz":
      return JSON.stringify(isoZone(text.replace(" ", "T")));
    case "timetz":
      return JSON.stringify(isoZone(text));
    case "array":
      return arrayJson(type.elem ?? { oid: 0, name: "text", kind: "string" }, text);
    default:
      return JSON.stringify(text);
  }
}

/** "+00" → "+00:00" (to_jsonb's form); "+05:30" stays. */
function isoZone(s: string): string {
  return /[+-]\d\d$/.test(s) ? `${s}:00` : s;
}

/** A PostgreSQL array literal ({1,2}, {"a b",NULL}, {{1,2},{3,4}}, [0:1]={1,2}) as a JSON array. */
export function arrayJson(elem: TypeInfo, literal: string): string {
  let s = literal;
  if (s.startsWith("[")) s = s.slice(s.indexOf("=") + 1);
  let at = 0;
  const parse = (): string => {
    if (s[at] !== "{") throw new Error("array literal");
    at++;
    const items: string[] = [];
    if (s[at] === "}") {
      at++;
      return "[]";
    }
    for (;;) {
      if (s[at] === "{") items.push(parse());
      else if (s[at] === '"') {
        at++;
        let v = "";
        while (at < s.length && s[at] !== '"') {
          if (s[at] === "\\") at++;
          v += s[at++];
        }
        at++; // closing quote
        items.push(valueJson(elem, v));
      } else {
        const start = at;
        while (at < s.length && s[at] !== "," && s[at] !== "}") at++;
        const raw = s.slice(start, at).trim();
        items.push(raw.toUpperCase() === "NULL" ? "null" : valueJson(elem, raw));
      }
      if (s[at] === ",") {
        at++;
        continue;
      }
      if (s[at] === "}") {
        at++;
        return `[${items.join(",")}]`;
      }
      throw new Error("array literal");
    }
  };
  try {
    return parse();
  } catch {
    return JSON.stringify(literal);
  }
}

/**
 * Typed comparison of a column's text value with a filter operand, for the eq/lt/… filters. Returns
 * null when the two cannot be compared (the filter then does not match, as in Supabase).
 */
export function compareValues(type: TypeInfo, a: string, b: string): number | null {
  switch (type.kind) {
    case "number": {
      if (type.name === "int8" || type.name === "int2" || type.name === "int4" || type.name === "oid") {
        try {
          const x = BigInt(a);
          const y = BigInt(b.trim());
          return x < y ? -1 : x > y ? 1 : 0;
        } catch {
          return null;
        }
      }
      const x = Number(a);
      const y = Number(b);
      if (Number.isNaN(x) || Number.isNaN(y) || b.trim() === "") return null;
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case "bool": {
      const x = boolOf(a);
      const y = boolOf(b);
      if (x === null || y === null) return null;
      return Number(x) - Number(y);
    }
    case "timestamp":
    case "timestamptz": {
      const x = dateOf(a, type.kind === "timestamptz");
      const y = dateOf(b, type.kind === "timestamptz");
      if (x === null || y === null) return null;
      return x < y ? -1 : x > y ? 1 : 0;
    }
    default: {
      if (type.name === "uuid") {
        a = a.toLowerCase();
        b = b.toLowerCase();
      } else if (type.name === "date" && !/^\d{4}-\d\d-\d\d$/.test(b)) {
        const y = dateOf(b, false);
        const x = dateOf(a, false);
        if (x === null || y === null) return null;
        return x < y ? -1 : x > y ? 1 : 0;
      }
      return codePointOrder(a, b);
    }
  }
}

/**
 * Byte order of the UTF-8 forms, as the C collation the embedded cluster uses (UTF-8 byte order is
 * code point order), without encoding either string: filters run for every change, and a copy of
 * a large value per binding would make each one cost its size.
 */
function codePointOrder(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === n) return a.length < b.length ? -1 : 1;
  // At the first differing UTF-16 unit: a surrogate stands for a code point above every BMP one.
  const x = a.codePointAt(i)!;
  const y = b.codePointAt(i)!;
  return x < y ? -1 : 1;
}

function boolOf(s: string): boolean | null {
  const v = s.trim().toLowerCase();
  if (["t", "true", "yes", "on", "1", "y"].includes(v)) return true;
  if (["f", "false", "no", "off", "0", "n"].includes(v)) return false;
  return null;
}

/** Milliseconds (with sub-ms kept as a fraction) of an ISO-ish timestamp; UTC unless it has a zone. */
function dateOf(s: string, zoned: boolean): number | null {
  let t = s.trim().replace(" ", "T");
  const frac = /\.(\d+)/.exec(t);
  const micros = frac ? Number(`0.${frac[1]}`) * 1000 - Math.floor(Number(`0.${frac[1]}`) * 1000) : 0;
  if (/[+-]\d\d$/.test(t)) t += ":00";
  if (!/(Z|[+-]\d\d:\d\d(:\d\d)?)$/i.test(t) || !zoned) t = t.replace(/(Z|[+-]\d\d:\d\d(:\d\d)?)$/i, "") + "Z";
  if (/^\d{4}-\d\d-\d\d$/.test(s.trim())) t = `${s.trim()}T00:00:00Z`;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : ms + micros;
}
