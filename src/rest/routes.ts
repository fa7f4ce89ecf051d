// HTTP ↔ REST service, and nothing else: read the request into a RestRequest, then parse → plan
// (parse/request.ts, plan/plan.ts, through the plan cache) → execute (execute.ts, which alone decides
// how it runs), and write the result. Errors are rendered here in PostgREST's shape ({code, message,
// details, hint}).
import { Elysia } from "elysia";
import { isDatabaseUnavailable, type Database, type Principal } from "../db/pool.ts";
import { isPlinthError, type PlinthError } from "../errors.ts";
import { requestContext } from "../lib/request-context.ts";
import { renderRestError } from "./errors.ts";
import type { Logger } from "../log.ts";
import type { LiveSchemaCache } from "../schema-cache/live.ts";
import { executePlan, type ExecuteOptions, type RestResult } from "./execute.ts";
import { PlanCache } from "./plan-cache.ts";
import { openApiDocument } from "./openapi.ts";
import { negotiate } from "./parse/headers.ts";
import { resolveSchema, type RestRequest } from "./parse/request.ts";
import { planRequest, type PlannedRequest } from "./plan/plan.ts";

export interface RestRouteDeps {
  db: Database;
  cache: LiveSchemaCache;
  log: Logger;
  maxRows?: number;
  /** Answer Accept: application/vnd.pgrst.plan+json|text with the EXPLAIN (config rest.planEnabled). */
  planEnabled?: boolean;
  /** Public origin of this server (config publicUrl); storage URLs of file references start with it. */
  publicUrl?: string;
  /** config rest.requestSettings: "always" sets request.method/path/headers on every request. */
  requestSettings?: "auto" | "always";
  /** Plans and statements of the reads seen so far (one per handler when not given). */
  plans?: PlanCache;
  /** Test hook: observe statements. */
  onStatement?: ExecuteOptions["onStatement"];
}

const PREFIX = "/rest/v1";

/** Every request under /rest/v1 (the server dispatches them here directly; see Service.direct). */
export function restHandler(deps: RestRouteDeps): (request: Request) => Promise<Response> {
  const withPlans = { ...deps, plans: deps.plans ?? new PlanCache() };
  return async (request) => {
    try {
      return await serve(withPlans, request);
    } catch (e) {
      return restErrorFor(e, deps.log, request);
    }
  };
}

/** The same handler as Elysia routes, for apps that mount the service on a router. */
export function restRoutes(deps: RestRouteDeps, handle = restHandler(deps)) {
  return new Elysia({ prefix: PREFIX }).get("/", ({ request }) => handle(request)).all("/*", ({ request }) => handle(request), { parse: "none" });
}

async function serve(deps: RestRouteDeps & { plans: PlanCache }, request: Request): Promise<Response> {
  const ctx = requestContext(request);
  const url = ctx?.url ?? new URL(request.url);
  const rest = url.pathname.slice(PREFIX.length).replace(/^\/+/, "");
  const segments = rest === "" ? [] : rest.includes("%") ? rest.split("/").map(safeDecode) : rest.split("/");
  const principal: Principal = ctx?.principal ?? { role: "anon", claims: {} };
  const headers = {
    accept: request.headers.get("accept"),
    prefer: request.headers.get("prefer") ? [request.headers.get("prefer")!] : [],
    range: request.headers.get("range"),
    acceptProfile: request.headers.get("accept-profile"),
    contentProfile: request.headers.get("content-profile"),
    contentType: request.headers.get("content-type"),
  };
  const method = request.method.toUpperCase();
  const cache = deps.cache.current;

  if (segments.length === 0) {
    if (method !== "GET" && method !== "HEAD") return errorResponse(405, "PGRST117", `Unsupported HTTP method: ${method}`);
    const schema = resolveSchema(cache.schemas, "GET", headers);
    negotiate(headers.accept, { root: true });
    const doc = openApiDocument(cache, schema, url);
    return new Response(method === "HEAD" ? null : JSON.stringify(doc), { headers: { "content-type": "application/openapi+json; charset=utf-8" } });
  }
  let target: RestRequest["target"];
  if (segments.length === 1 && segments[0]) target = { kind: "table", name: segments[0] };
  else if (segments.length === 2 && segments[0] === "rpc" && segments[1]) target = { kind: "rpc", name: segments[1] };
  else return errorResponse(404, "PGRST125", "Invalid path specified in request URL");

  const hasBody = method !== "GET" && method !== "HEAD" && method !== "DELETE";
  const body = hasBody ? await request.text() : null;
  const req: RestRequest = { method, target, query: [...url.searchParams], headers, body };
  // The request's origin only matters to expanded file references (a getter: computing it costs).
  const planOpts = { maxRows: deps.maxRows, publicUrl: deps.publicUrl ?? (() => url.origin), planEnabled: deps.planEnabled };
  // parse → plan; a read of a shape planned before skips both and brings its statement bound.
  const planned = deps.plans.plan(cache, req, (r) => planRequest(cache, r, planOpts));
  // execute: how the request runs (context pool, one round trip, transaction) is decided there.
  const info = new LazyRequestInfo(method, url.pathname, request);
  const result = await executePlan(deps.db, principal, info, planned, {
    onStatement: deps.onStatement,
    basePath: PREFIX,
    requestSettings: deps.requestSettings,
    usesRequestInfo: cache.usesRequestInfo,
  });
  return respond(method, headers, planned, result);
}

function respond(method: string, headers: RestRequest["headers"], planned: PlannedRequest, result: RestResult): Response {
  // Tell the client which schema answered when it asked for one (PostgREST's Content-Profile).
  if (headers.acceptProfile || headers.contentProfile) result.headers["content-profile"] = planned.schema;
  return new Response(method === "HEAD" ? null : result.body, { status: result.status, headers: result.headers });
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** request.method/path/headers for SQL; the headers object is only built when a transaction sets it. */
class LazyRequestInfo {
  constructor(
    readonly method: string,
    readonly path: string,
    private readonly request: Request,
  ) {}
  get headers(): Record<string, string> {
    return headerObject(this.request.headers);
  }
}

const SENSITIVE = new Set(["authorization", "apikey", "cookie"]);

/** request.headers as PostgREST exposes them: lower-case names; credentials are left out. */
function headerObject(h: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  h.forEach((v, k) => {
    if (!SENSITIVE.has(k)) out[k] = v;
  });
  return out;
}

function errorResponse(
  status: number,
  code: string,
  message: string,
  details: unknown = null,
  hint: string | null = null,
  headers: Record<string, string> = {},
): Response {
  return renderRestError({ status, code, message, details, hint, headers });
}

function restErrorFor(e: unknown, log: Logger, request: Request): Response {
  if (isPlinthError(e)) {
    const err = e as PlinthError;
    let details: unknown = err.details;
    // PGRST201 lists the candidate relationships as a JSON array, as PostgREST does.
    if (err.code === "PGRST201" && typeof details === "string") {
      try {
        details = JSON.parse(details);
      } catch {
        /* keep text */
      }
    }
    return errorResponse(err.status, err.code, err.message, details, err.hint, err.headers);
  }
  // The database is restarting or unreachable: a state the client may retry, answered at once.
  if (isDatabaseUnavailable(e)) return errorResponse(503, "PGRST000", "Could not connect with the database", null, null, { "retry-after": "1" });
  log.error("rest error", { request_id: requestContext(request)?.id, error: e });
  return errorResponse(500, "PGRST000", "Internal server error");
}
