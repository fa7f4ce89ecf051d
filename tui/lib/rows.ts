// What the data grid sends: a row's key in the rows API's path form, typed values from what was
// typed in a cell, and the `/` filter as PostgREST filters (src/admin/meta/rows-query.ts describes
// the wire grammar). Pure functions, tested without a terminal.
export interface GridColumn {
  name: string;
  type: string;
  pk: boolean;
}

/** `…/rows/{pk}`: the value's text for a one-column key, a JSON object for a composite one. */
export function rowKey(row: Record<string, unknown>, pk: string[]): string | null {
  if (pk.length === 0) return null;
  if (pk.length === 1) {
    const v = row[pk[0]!];
    return v === null || v === undefined ? null : typeof v === "object" ? JSON.stringify(v) : String(v);
  }
  return JSON.stringify(Object.fromEntries(pk.map((k) => [k, row[k]])));
}

const isJsonish = (type: string) =>
  type === "json" || type === "jsonb" || type.endsWith("[]") || type.startsWith("plinth.") || type.endsWith("rich_text") || type.endsWith("file_ref");
const isNumeric = (type: string) => /^(smallint|integer|bigint|real|double precision|numeric|decimal|int[248]?|float[48])/.test(type);
export const isTextual = (type: string) => /^(text|character varying|varchar|character|char|citext|name)(\(\d+\))?$/.test(type);

/** A cell's value as the editor shows it: JSON for structured values, `\N` for null. */
export function editText(value: unknown, type: string): string {
  if (value === null || value === undefined) return "\\N";
  if (typeof value === "string" && !isJsonish(type)) return value;
  return typeof value === "object" || isJsonish(type) ? JSON.stringify(value) : String(value);
}

/** What was typed, as the value to send: `\N` is null; JSON columns and arrays parse as JSON. Throws with a readable message. */
export function parseCell(text: string, type: string): unknown {
  if (text === "\\N") return null;
  if (isJsonish(type)) {
    try {
      return JSON.parse(text);
    } catch {
      // A bare string is a valid rich_text write (taken as HTML); anything else must be JSON.
      if (type.endsWith("rich_text")) return text;
      throw new Error(`Not valid JSON for a ${type} column`);
    }
  }
  if (type === "boolean") {
    if (/^(true|t|yes|1)$/i.test(text)) return true;
    if (/^(false|f|no|0)$/i.test(text)) return false;
    throw new Error("A boolean is true or false");
  }
  if (isNumeric(type) && text.trim() !== "" && Number.isFinite(Number(text)) && Math.abs(Number(text)) < Number.MAX_SAFE_INTEGER) return Number(text);
  return text;
}

const quoteName = (n: string) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(n) ? n : `"${n.replace(/"/g, '""')}"`);
const quoteValue = (v: string) => `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

export const orderParam = (col: string, dir: "asc" | "desc"): string => `${quoteName(col)}.${dir}`;

/**
 * The `/` filter as rows-API filters: `col=op.value` (PostgREST's own form, several joined with
 * ` & `) passes through; any other text searches every text column (ilike, OR'ed).
 */
export function filterParams(text: string, columns: GridColumn[]): { filters: string[]; note: string | null } {
  const t = text.trim();
  if (!t) return { filters: [], note: null };
  if (/^[A-Za-z_"][^=]*=(not\.)?[a-z]+\./.test(t) || /^(or|and|not\.or|not\.and)=\(/.test(t)) return { filters: t.split(/\s+&\s+/), note: null };
  const textual = columns.filter((c) => isTextual(c.type));
  if (!textual.length) return { filters: [], note: "No text column to search: filter with col=op.value (e.g. id=gt.100)" };
  const like = quoteValue(`*${t}*`);
  return { filters: [`or=(${textual.map((c) => `${quoteName(c.name)}.ilike.${like}`).join(",")})`], note: null };
}
