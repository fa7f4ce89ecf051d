// The parse step of REST's parse → plan → execute: the request as routes.ts read it off the wire
// (RestRequest: method, target, query pairs, header text, body text) → an ApiRequest, everything it
// says in typed form. Pure and schema-free: besides the request it needs only the names of the
// exposed schemas (as PostgREST's ApiRequest reads db-schemas) and whether EXPLAIN answers are on.
//
// Errors come in the order clients have always seen them: method, schema, Prefer (strict), query
// string, Accept, Range, method on RPC. The body is the exception, and the trap: an unreadable body
// is not thrown here but carried in `body` and thrown by the planner where it reads the body — after
// the target's lookup, so `POST /nope` with broken JSON still answers that /nope does not exist.
//
// The plan cache (plan-cache.ts) reads RestRequest, not ApiRequest: a read of a shape planned before
// is answered without this full parse, from the first-level split of its parameters (paramKind,
// splitOperator) alone.
import { invalidBody, invalidPreferences, invalidRpcMethod, mediaTypeError, unacceptableSchema, unsupportedMethod } from "../errors.ts";
import type { Body, Preferences, QueryAst } from "./ast.ts";
import { parseCsv } from "./csv.ts";
import { negotiate, parsePrefer, parseRangeHeader, type MediaType } from "./headers.ts";
import { parseQuery } from "./query.ts";

export type Method = "GET" | "HEAD" | "POST" | "PATCH" | "PUT" | "DELETE";
const METHODS = new Set<string>(["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"]);

/** A request under /rest/v1 as read off the wire, nothing interpreted yet. */
export interface RestRequest {
  method: string;
  target: { kind: "table"; name: string } | { kind: "rpc"; name: string };
  query: Array<[string, string]>;
  headers: {
    accept: string | null;
    prefer: string[];
    range: string | null;
    acceptProfile: string | null;
    contentProfile: string | null;
    contentType: string | null;
  };
  /** Raw body text (null when none was sent). */
  body: string | null;
}

/** What a request says, parsed: the only input of the planner (plan/plan.ts). */
export interface ApiRequest {
  method: Method;
  /** GET or HEAD. */
  read: boolean;
  target: RestRequest["target"];
  /** The schema asked for (Accept-Profile, Content-Profile for writes), else the first exposed one. */
  schema: string;
  prefs: Preferences;
  query: QueryAst;
  /** The response's media type, negotiated from Accept. */
  media: MediaType;
  stripNulls: boolean;
  /** The Range header of a read; null when absent or unreadable (PostgREST ignores those), and for writes. */
  range: { offset: number; limit?: number } | null;
  /** The body the method takes; `invalid` holds the error the planner throws when it reads it. */
  body: Body | { kind: "invalid"; error: unknown };
}

export interface ParseOptions {
  /** The exposed schemas, in configured order. */
  schemas: string[];
  /** Accept: application/vnd.pgrst.plan answers the query's EXPLAIN (config rest.planEnabled). */
  planEnabled?: boolean;
}

export function parseRequest(req: RestRequest, opts: ParseOptions): ApiRequest {
  const method = req.method.toUpperCase();
  if (!METHODS.has(method)) throw unsupportedMethod(method);
  const schema = resolveSchema(opts.schemas, method, req.headers);
  const prefs = parsePrefer(req.headers.prefer);
  if (prefs.handling === "strict" && prefs.invalid.length) throw invalidPreferences(prefs.invalid);
  const read = method === "GET" || method === "HEAD";
  const rpc = req.target.kind === "rpc";
  const query = parseQuery(req.query, { rpcRead: rpc && read });
  const { media, stripNulls } = negotiate(req.headers.accept);
  // EXPLAIN output is off unless configured (PostgREST's db-plan-enabled): plans reveal the schema.
  if (media.kind === "plan" && !opts.planEnabled) throw mediaTypeError([`application/vnd.pgrst.plan+${media.format}`]);
  const range = read ? parseRangeHeader(req.headers.range) : null;
  if (rpc && !read && method !== "POST") throw invalidRpcMethod(method);
  const takesBody = rpc ? !read : method === "POST" || method === "PUT" || method === "PATCH";
  return {
    method: method as Method,
    read,
    target: req.target,
    schema,
    prefs,
    query,
    media,
    stripNulls,
    range,
    body: takesBody ? readBody(req, rpc) : { kind: "none" },
  };
}

/** The schema a request is about: Accept-Profile for reads, Content-Profile (else Accept-Profile) for writes. */
export function resolveSchema(schemas: string[], method: string, headers: Pick<RestRequest["headers"], "acceptProfile" | "contentProfile">): string {
  const read = method === "GET" || method === "HEAD";
  const asked = read ? headers.acceptProfile : (headers.contentProfile ?? headers.acceptProfile);
  if (!asked) return schemas[0]!;
  if (!schemas.includes(asked)) throw unacceptableSchema(asked, schemas);
  return asked;
}

function readBody(req: RestRequest, rpc: boolean): ApiRequest["body"] {
  try {
    return parseBody(req, rpc);
  } catch (error) {
    return { kind: "invalid", error };
  }
}

/** The body by its Content-Type (JSON when none is given); an empty one is `{}`, or no body for RPC. */
function parseBody(req: RestRequest, rpc: boolean): Body {
  const text = req.body;
  if (text === null || text.trim() === "") {
    if (rpc) return { kind: "none" };
    return { kind: "json", value: {} };
  }
  const ct = (req.headers.contentType ?? "application/json").split(";")[0]!.trim().toLowerCase();
  if (ct === "text/csv") return { kind: "json", value: parseCsv(text) };
  if (ct === "application/x-www-form-urlencoded") {
    return { kind: "json", value: Object.fromEntries(new URLSearchParams(text)) };
  }
  try {
    return { kind: "json", value: JSON.parse(text) };
  } catch {
    throw invalidBody("Empty or invalid json");
  }
}
