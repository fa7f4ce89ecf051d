// The REST API's errors, in PostgREST's codes and words, and the SQLSTATE → HTTP mapping of
// PostgREST's errors reference. Every factory returns a PlinthError; routes.ts renders it.
import postgres from "postgres";
import { PlinthError } from "../errors.ts";

export const parseError = (what: string, input: string, details: string) =>
  new PlinthError(400, "PGRST100", `failed to parse ${what} (${truncate(input)})`, details);

export const invalidBody = (message: string) => new PlinthError(400, "PGRST102", message);

export const invalidRange = (details: string) => new PlinthError(416, "PGRST103", "Requested range not satisfiable", details);

export const unacceptableSchema = (schema: string, exposed: string[]) =>
  new PlinthError(406, "PGRST106", `Invalid schema: ${schema}`, null, `Only the following schemas are exposed: ${exposed.join(", ")}`);

export const mediaTypeError = (types: string[], details: string | null = null, hint: string | null = null) =>
  new PlinthError(406, "PGRST107", `None of these media types are available: ${types.join(", ")}`, details, hint);

/** application/geo+json asked for where it cannot be answered (no PostGIS, nothing spatial selected). */
export const geoJsonUnavailable = (details: string, hint: string | null = null) => mediaTypeError(["application/geo+json"], details, hint);

export const notEmbedded = (resource: string) =>
  new PlinthError(
    400,
    "PGRST108",
    `'${resource}' is not an embedded resource in this request`,
    null,
    `Verify that '${resource}' is included in the 'select' query parameter.`,
  );

export const invalidFilters = () => new PlinthError(405, "PGRST105", "Filters must include all and only primary key columns with 'eq' operators");

export const putLimit = () => new PlinthError(400, "PGRST114", "limit/offset querystring parameters are not allowed for PUT");
export const putMatchingPk = () => new PlinthError(400, "PGRST115", "Payload values do not match URL in primary key column(s)");

export const singularity = (n: number) => new PlinthError(406, "PGRST116", "Cannot coerce the result to a single JSON object", `The result contains ${n} rows`);

export const unsupportedMethod = (method: string) => new PlinthError(405, "PGRST117", `Unsupported HTTP method: ${method}`);

export const relatedOrderNotToOne = (origin: string, target: string) =>
  new PlinthError(
    400,
    "PGRST118",
    `A related order on '${target}' is not possible`,
    `'${origin}' and '${target}' do not form a many-to-one or one-to-one relationship`,
  );

export const unacceptableFilter = (target: string) =>
  new PlinthError(
    400,
    "PGRST120",
    `Bad operator on the '${target}' embedded resource`,
    "Only is null or not is null filters are allowed on embedded resources",
  );

export const invalidPreferences = (prefs: string[]) =>
  new PlinthError(400, "PGRST122", "Invalid preferences given with handling=strict", `Invalid preferences: ${prefs.join(", ")}`);

export const maxAffectedViolation = (n: number) =>
  new PlinthError(400, "PGRST124", "Query result exceeds max-affected preference constraint", `The query affects ${n} rows`);

export const invalidRpcMethod = (method: string) => new PlinthError(405, "PGRST101", `Cannot use the ${method} method on RPC`);

export const noRelationship = (parent: string, child: string, hint: string | undefined, schema: string, suggestion: string | null = null) =>
  new PlinthError(
    400,
    "PGRST200",
    `Could not find a relationship between '${parent}' and '${child}' in the schema cache`,
    `Searched for a foreign key relationship between '${parent}' and '${child}'${hint ? ` using the hint '${hint}'` : ""} in the schema '${schema}', but no matches were found.`,
    suggestion,
  );

export const ambiguousRelationship = (parent: string, child: string, details: unknown[], hints: string[]) =>
  new PlinthError(
    300,
    "PGRST201",
    `Could not embed because more than one relationship was found for '${parent}' and '${child}'`,
    // PostgREST sends details as a JSON array here; PlinthError carries it as text, rendered raw.
    JSON.stringify(details),
    `Try changing '${child}' to one of the following: ${hints.join(", ")}. Find the desired relationship in the 'details' key.`,
  );

export const noFunction = (schema: string, name: string, args: string[], singleJsonAllowed: boolean, suggestion?: string) => {
  const list = args.join(", ");
  const message = `Could not find the function ${schema}.${name}${args.length ? `(${list})` : " without parameters"} in the schema cache`;
  const det = args.length ? ` with parameter${args.length > 1 ? "s" : ""} ${list}` : " without parameters";
  return new PlinthError(
    404,
    "PGRST202",
    message,
    `Searched for the function ${schema}.${name}${det}${singleJsonAllowed ? " or with a single unnamed json/jsonb parameter" : ""}, but no matches were found in the schema cache.`,
    suggestion ? `Perhaps you meant to call the function ${suggestion}` : null,
  );
};

export const ambiguousFunction = (candidates: string[]) =>
  new PlinthError(
    300,
    "PGRST203",
    `Could not choose the best candidate function between: ${candidates.join(", ")}`,
    null,
    "Try renaming the parameters or the function itself in the database so function overloading can be resolved",
  );

export const columnNotFound = (rel: string, col: string) =>
  new PlinthError(400, "PGRST204", `Could not find the '${col}' column of '${rel}' in the schema cache`);

export const tableNotFound = (schema: string, name: string, suggestion?: string) =>
  new PlinthError(
    404,
    "PGRST205",
    `Could not find the table '${schema}.${name}' in the schema cache`,
    null,
    suggestion ? `Perhaps you meant the table '${schema}.${suggestion}'` : null,
  );

/** What PostgreSQL itself would say about a column that does not exist (PostgREST lets it). */
export const undefinedColumn = (table: string, column: string) => new PlinthError(400, "42703", `column ${table}.${column} does not exist`);

export const undefinedType = (name: string) => new PlinthError(400, "42704", `type "${name}" does not exist`);

export const notImplemented = (details: string) => new PlinthError(400, "PGRST127", "Feature not implemented", details);

export const aggregatesNotAllowed = () => new PlinthError(400, "PGRST123", "Use of aggregate functions is not allowed");

/** pg-safeupdate's refusal, which Supabase runs: UPDATE/DELETE need a WHERE clause. */
export const missingWhere = (verb: "UPDATE" | "DELETE") =>
  new PlinthError(
    400,
    "21000",
    `${verb} requires a WHERE clause`,
    null,
    "Add a filter (e.g. ?id=eq.1); to target every row on purpose, use a filter that matches all rows, such as ?id=not.is.null.",
  );

function truncate(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

interface PgErrorLike {
  code?: string;
  message?: string;
  detail?: string;
  hint?: string;
}

// instanceof as well as the name: postgres.js names its errors after the class (`this.constructor.name`),
// which the minified single binary renames, so the name alone fails in dist/plinth; errors made in
// src/db/ (context pool, pool outages) carry the name without being instances.
const isPgError = (e: unknown): e is PgErrorLike & { name: string } =>
  typeof e === "object" &&
  e !== null &&
  (e instanceof postgres.PostgresError || (e as { name?: string }).name === "PostgresError") &&
  typeof (e as PgErrorLike).code === "string";

/**
 * PostgreSQL error → PlinthError, statuses from PostgREST's errors reference. Returns null for
 * errors that are not from the database (the caller rethrows those).
 */
export function fromPostgresError(e: unknown, authenticated: boolean): PlinthError | null {
  if (!isPgError(e)) return null;
  const code = e.code ?? "";
  if (code === "PGRST") return raisedResponse(e.message ?? "", e.detail);
  const status = pgStatus(code, authenticated, e.message ?? "");
  // Everything else passes through as PostgreSQL said it: code, message, DETAIL and HINT (RAISE …
  // USING DETAIL/HINT included); RAISE SQLSTATE 'PTxyz' chose the status (pgStatus).
  const headers: Record<string, string> = status === 401 ? { "www-authenticate": "Bearer" } : {};
  return new PlinthError(status, code, e.message ?? "", e.detail ?? null, e.hint ?? null, headers);
}

const str = (v: unknown): v is string => typeof v === "string";
const optStr = (v: unknown) => v === undefined || v === null || typeof v === "string";
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/**
 * RAISE SQLSTATE 'PGRST' USING MESSAGE = '{"code","message","details"?,"hint"?}',
 * DETAIL = '{"status","status_text"?,"headers"}': the function controls the whole error response,
 * as in PostgREST. JSON that does not fit is PGRST121 (500) saying which part was wrong.
 */
function raisedResponse(message: string, detail: string | undefined): PlinthError {
  const m = parseJson(message);
  if (!isObject(m) || !str(m.code) || !str(m.message) || !optStr(m.details) || !optStr(m.hint)) {
    return raiseParseError(
      `Invalid JSON value for MESSAGE: '${message}'`,
      "MESSAGE must be a JSON object with obligatory keys: 'code', 'message' and optional keys: 'details', 'hint'.",
    );
  }
  const detailHint = "DETAIL must be a JSON object with obligatory keys: 'status', 'headers' and optional key: 'status_text'.";
  if (detail === undefined || detail === null) return raiseParseError("DETAIL is missing in the RAISE statement", detailHint);
  const d = parseJson(detail);
  const validHeaders = isObject(d) && isObject(d.headers) && Object.values(d.headers).every(str);
  if (
    !isObject(d) ||
    typeof d.status !== "number" ||
    !Number.isInteger(d.status) ||
    d.status < 200 ||
    d.status > 599 ||
    !optStr(d.status_text) ||
    !validHeaders
  ) {
    return raiseParseError(`Invalid JSON value for DETAIL: '${detail}'`, detailHint);
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.headers as Record<string, string>)) headers[k.toLowerCase()] = v;
  // status_text is checked but not sent: Bun's server always uses the standard reason phrase.
  return new PlinthError(d.status, m.code, m.message, (m.details as string | null | undefined) ?? null, (m.hint as string | null | undefined) ?? null, headers);
}

const raiseParseError = (details: string, hint: string) =>
  new PlinthError(500, "PGRST121", `Could not parse JSON in the "RAISE SQLSTATE 'PGRST'" error`, details, hint);

function pgStatus(code: string, authenticated: boolean, message: string): number {
  if (code.startsWith("08")) return 503;
  if (code.startsWith("09")) return 500;
  if (code.startsWith("0L") || code.startsWith("0P")) return 403;
  if (code === "23503" || code === "23505") return 409;
  if (code === "25006") return 405;
  if (code === "21000") return /requires a WHERE clause/.test(message) ? 400 : 500;
  if (code.startsWith("25") || code.startsWith("2D") || code.startsWith("38") || code.startsWith("39") || code.startsWith("3B") || code.startsWith("40"))
    return 500;
  if (code.startsWith("28")) return 403;
  if (code === "53400") return 500;
  if (code.startsWith("53")) return 503;
  // 54xxx: the request went past one of PostgreSQL's program limits (54011 a select list over 1,664
  // columns, 54023 too many arguments, 54001 an expression nested too deep). The client's request is
  // what is too big, so 400, not PostgREST's 500 (an attacker's `select=` of 5,000 columns).
  if (code.startsWith("54")) return 400;
  if (code.startsWith("55")) return 500;
  if (code === "57014") return 504; // statement timeout
  if (code === "57P01" || code === "57P02" || code === "57P03") return 503; // shutting down, crashed, starting up
  if (code.startsWith("57") || code.startsWith("58") || code.startsWith("F0") || code.startsWith("HV") || code.startsWith("XX")) return 500;
  if (code === "22023") return message.startsWith("role") && message.endsWith("does not exist") ? 401 : 400;
  if (code === "P0001") return 400;
  if (code.startsWith("P0")) return 500;
  if (code === "42883") return message.startsWith("function xmlagg(") ? 406 : 404;
  if (code === "42P01") return 404;
  if (code === "42P17") return 500;
  if (code === "42501") return authenticated ? 403 : 401;
  if (code.startsWith("PT")) {
    const n = Number(code.slice(2));
    return Number.isInteger(n) && n >= 100 && n <= 599 ? n : 500;
  }
  return 400;
}

/**
 * PostgREST's error wire shape: {code, details, hint, message}. The one renderer for /rest/v1, used
 * by the gateway's refusals and the REST routes alike.
 */
export function renderRestError(e: {
  status: number;
  code: string;
  message: string;
  details?: unknown;
  hint?: string | null;
  headers?: Record<string, string>;
}): Response {
  return new Response(JSON.stringify({ code: e.code, details: e.details ?? null, hint: e.hint ?? null, message: e.message }), {
    status: e.status,
    headers: { "content-type": "application/json; charset=utf-8", ...e.headers },
  });
}
