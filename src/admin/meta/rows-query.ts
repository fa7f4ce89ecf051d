// What a rows request says, before the table is looked at (parse, in PostgREST's sense): filters,
// order, paging, a primary key from the path, a row body. Pure and schema-free; names here are raw
// user text that rows-plan.ts matches against the catalog before any SQL is built.
//
// Wire encoding (the /admin/v1 rows API, see routes/rows.ts):
// - `filter` holds ONE PostgREST filter, `col=op.value`, and may be repeated; all are ANDed. The
//   part after the first `=` is PostgREST's grammar exactly (parsed by src/rest/parse/filter.ts):
//   `filter=age%3Dgt.30&filter=name%3Dlike.A*&filter=or%3D(a.is.null,b.in.(1,2))`. A logic tree is
//   `or=(…)`, `and=(…)`, `not.or=(…)`. One filter per parameter (rather than PostgREST's top-level
//   `col=op.value`) keeps columns named `limit`, `order` or `filter` filterable and leaves nothing
//   ambiguous; a column whose name holds `=` or `.` is written quoted: `filter="a=b"=eq.1`.
// - `order=col.asc,col2.desc.nullsfirst` as PostgREST; JSON paths (`data->>k.desc`) allowed.
// - `limit` (default 100, at most 1000: larger values are clamped) and `offset` (default 0).
// - Any other query parameter is refused (400 unknown_parameter): a PostgREST-style `?id=eq.1` on a
//   DELETE must never be silently ignored and widen the delete to every row.
// - The primary key in the path (`…/rows/{pk}`): for a one-column key, the value's text form
//   (`/rows/42`, `/rows/ada%40example.com`); for a composite key, a JSON object naming every key
//   column (`/rows/%7B%22a%22%3A1%2C%22b%22%3A%22x%22%7D`). Which form applies follows from the
//   table's key, never from the text, so a text key starting with `{` is just text.
import { PlinthError } from "../../errors.ts";
import type { LogicTree, OrderTerm } from "../../rest/parse/ast.ts";
import { parseLogic, parseOpExpr, parseTreePath } from "../../rest/parse/filter.ts";
import { parseOrder } from "../../rest/parse/query.ts";
import { AdminError, AdminErrors } from "../errors.ts";

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

export interface PageQuery {
  /** Top-level filters, ANDed; each a filter leaf or a logic tree. */
  where: LogicTree[];
  order: OrderTerm[];
  limit: number;
  offset: number;
}

export const RowsErrors = {
  invalidFilter: (message: string, details?: unknown) => new AdminError(400, "invalid_filter", message, details),
  invalidOrder: (message: string, details?: unknown) => new AdminError(400, "invalid_order", message, details),
  unknownParameter: (name: string) =>
    new AdminError(400, "unknown_parameter", `Unknown query parameter "${truncate(name)}"; filters go in filter=col=op.value`, { parameter: name }),
  unknownColumn: (column: string) => new AdminError(400, "unknown_column", `No column "${truncate(column)}" in this table`, { column }),
  columnNotWritable: (column: string, why: string) =>
    new AdminError(400, "column_not_writable", `Column "${truncate(column)}" cannot be written: ${why}`, { column }),
  invalidKey: (message: string) => new AdminError(400, "invalid_key", message),
  noPrimaryKey: () =>
    new AdminError(400, "no_primary_key", "This table has no primary key: its rows can be listed and deleted by filter, not addressed one by one"),
  nothingToChange: () => AdminErrors.validation("The body names no column to change"),
  filterRequired: () =>
    new AdminError(
      400,
      "filter_required",
      "Deleting rows needs at least one filter; to delete every row on purpose, use one that matches all (e.g. id=not.is.null)",
    ),
  confirmationRequired: (count: number) =>
    new AdminError(409, "confirmation_required", `This would delete ${count} rows; send {"confirm": true} to go ahead`, { count }),
  schemaNotAllowed: (schema: string) =>
    new AdminError(
      403,
      "schema_not_allowed",
      `Rows of "${truncate(schema)}" are not reachable here: PostgreSQL's and Plinth's own schemas change through their own APIs (users, storage, audit) or the SQL console`,
    ),
  tableNotFound: (schema: string, name: string) => AdminErrors.notFound(`Table ${truncate(schema)}.${truncate(name)}`),
  rowNotFound: () => AdminErrors.notFound("Row"),
};

/** The parameters each rows route takes; `apikey` is the gateway's and always allowed. */
export function checkParameters(params: URLSearchParams, allowed: readonly string[]): void {
  for (const key of params.keys()) {
    if (key !== "apikey" && !allowed.includes(key)) throw RowsErrors.unknownParameter(key);
  }
}

export function parsePageQuery(params: URLSearchParams): PageQuery {
  checkParameters(params, ["limit", "offset", "order", "filter"]);
  return {
    where: parseFilters(params.getAll("filter")),
    order: params.get("order") ? orderOf(params.get("order")!) : [],
    limit: Math.min(count(params.get("limit"), "limit", DEFAULT_LIMIT, 1), MAX_LIMIT),
    offset: count(params.get("offset"), "offset", 0, 0),
  };
}

function count(text: string | null, name: string, fallback: number, min: number): number {
  if (text === null || text === "") return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min) {
    throw AdminErrors.validation(`${name} must be an integer of at least ${min}`);
  }
  return n;
}

/** Each `filter` value: `key=value` split at the first `=` outside a quoted name, then PostgREST's grammar. */
export function parseFilters(values: string[]): LogicTree[] {
  return values.map((text) => {
    const eq = keyEnd(text);
    if (eq < 0) throw RowsErrors.invalidFilter(`Filter "${truncate(text)}" is not col=op.value`);
    const key = text.slice(0, eq);
    const value = text.slice(eq + 1);
    try {
      const last = key.slice(key.lastIndexOf(".") + 1);
      if ((last === "or" || last === "and") && !key.startsWith('"')) {
        const { path, tree } = parseLogic(key, value);
        if (path.length) throw RowsErrors.invalidFilter(`Filter "${truncate(key)}": embedded resources are not part of the rows API`);
        return tree;
      }
      const expr = parseOpExpr(value)!;
      const { path, field } = parseTreePath(key);
      if (path.length) throw RowsErrors.invalidFilter(`Filter "${truncate(key)}": embedded resources are not part of the rows API`);
      return { kind: "filter", filter: { field, expr } };
    } catch (e) {
      throw asAdminError(e, RowsErrors.invalidFilter);
    }
  });
}

function orderOf(text: string): OrderTerm[] {
  try {
    const terms = parseOrder(text);
    if (terms.some((t) => t.relation !== undefined)) throw RowsErrors.invalidOrder("Ordering by an embedded resource is not part of the rows API");
    return terms;
  } catch (e) {
    throw asAdminError(e, RowsErrors.invalidOrder);
  }
}

/** The REST parser's PGRST100 becomes the admin API's code; its details (no positions) are kept. */
function asAdminError(e: unknown, make: (message: string, details?: unknown) => AdminError): unknown {
  if (e instanceof AdminError || !(e instanceof PlinthError)) return e;
  return make(e.message, e.details ? { details: e.details } : undefined);
}

/** Index of the `=` that ends a filter's key: the first one outside a double-quoted name. */
function keyEnd(text: string): number {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted && ch === "\\") i++;
    else if (ch === '"') quoted = !quoted;
    else if (ch === "=" && !quoted) return i;
  }
  return -1;
}

/**
 * A primary key from the path, as a JSON object text naming every key column: built here for a
 * one-column key; passed through as sent for a composite key (after checking its shape), so that
 * big numbers keep their digits (PostgreSQL, not JSON.parse, reads the values: see rows-sql.ts).
 */
export function parseKey(segment: string, pk: readonly string[]): string {
  if (pk.length === 0) throw RowsErrors.noPrimaryKey();
  if (pk.length === 1) return JSON.stringify({ [pk[0]!]: segment });
  let value: unknown;
  try {
    value = JSON.parse(segment);
  } catch {
    throw RowsErrors.invalidKey(`This table's key has ${pk.length} columns: give it as a JSON object, e.g. ${example(pk)}`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw RowsErrors.invalidKey(`This table's key has ${pk.length} columns: give it as a JSON object, e.g. ${example(pk)}`);
  }
  const given = Object.keys(value);
  const missing = pk.filter((c) => !Object.hasOwn(value, c));
  const extra = given.filter((c) => !pk.includes(c));
  if (missing.length || extra.length) {
    throw RowsErrors.invalidKey(
      `The key must name exactly the columns ${pk.join(", ")}${extra.length ? `; not a key column: ${truncate(extra.join(", "))}` : ""}`,
    );
  }
  if (pk.some((c) => (value as Record<string, unknown>)[c] === null)) throw RowsErrors.invalidKey("A key value cannot be null");
  return segment;
}

const example = (pk: readonly string[]) => JSON.stringify(Object.fromEntries(pk.map((c, i) => [c, i + 1])));

export interface RowBody {
  /** The body as sent (JSON text): what PostgreSQL reads, so numbers keep every digit. */
  text: string;
  /** The same, parsed: for checking column names and for rich-text sanitising. */
  value: Record<string, unknown>;
}

/** A JSON object body (write routes take their body as text: see routes/input.ts). */
export function parseRowBody(raw: unknown, opts: { allowEmpty?: boolean } = {}): RowBody {
  let text = typeof raw === "string" ? raw : raw === undefined || raw === null ? "" : JSON.stringify(raw);
  if (text.trim() === "" && opts.allowEmpty) text = "{}";
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AdminError(400, "bad_json", "Request body could not be parsed as JSON");
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw AdminErrors.validation("Request body must be a JSON object (one row)");
  return { text, value: value as Record<string, unknown> };
}

/** `{"confirm": true}` (or no body) for deleting by filter. */
export function parseConfirm(raw: unknown): boolean {
  const { value } = parseRowBody(raw, { allowEmpty: true });
  for (const k of Object.keys(value)) if (k !== "confirm") throw AdminErrors.validation(`Unknown field "${truncate(k)}" (only "confirm")`);
  if (value.confirm !== undefined && typeof value.confirm !== "boolean") throw AdminErrors.validation("confirm must be true or false");
  return value.confirm === true;
}

function truncate(s: string): string {
  return s.length > 100 ? `${s.slice(0, 100)}…` : s;
}
