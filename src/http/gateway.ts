// The gateway in front of every service: request id, CORS, body size limit, rate limits, API key →
// Principal, one JSON log line and metrics per request. It is a plain fetch function wrapped around
// the Elysia app, so the hot path is a handful of map lookups (a signature is checked only for a token
// the node has not seen since its keys last changed: src/http/principal.ts).
import type { Server } from "bun";
import type { Config } from "../config/schema.ts";
import type { Principal } from "../db/pool.ts";
import type { Logger } from "../log.ts";
import { bindRequestContext, type Area, type RequestContext } from "../lib/request-context.ts";
import { areaOf, keyRequired } from "./areas.ts";
import type { Renderers, WireError } from "./renderers.ts";
import type { Metrics } from "./metrics.ts";
import { bearerToken, keyFailureCode, keyFailureMessage, legacyCredentials, resolvePrincipal, type Credentials, type PrincipalResult } from "./principal.ts";
import { scopeDenial } from "../lib/scopes.ts";
import { TokenBuckets } from "../lib/token-buckets.ts";

export type { RequestContext } from "../lib/request-context.ts";

/** A server the gateway can ask for the client address (and hand on, for websocket upgrades). */
export type ServerLike = Pick<Server<unknown>, "requestIP"> & Partial<Server<unknown>>;

export interface GatewayDeps {
  config: Config;
  jwtSecret: string;
  /** The node's keys (src/keys/ring.ts, injected by app.ts); without them, the legacy HS256 secret alone. */
  credentials?: Credentials;
  log: Logger;
  metrics: Metrics;
  /** Each API's error renderer: the gateway's refusals look like the API's own errors. */
  renderers: Renderers;
  /** Where an admitted request goes (dispatch to the services); `server` as Bun.serve gave it. */
  handle: (req: Request, server?: ServerLike | null) => Response | Promise<Response>;
  /**
   * Admission a feature decides (injected by app.ts: http/ imports no feature). `opaqueBearer`: a
   * bearer token that is not a JWT but the area's own opaque token (an admin session token), which
   * the area's handlers resolve themselves: the request passes with principal null. `keyOptional`:
   * a path of a key-requiring area that is open without a key (the admin sign-in endpoints).
   */
  admission?: {
    opaqueBearer(area: Area, token: string): boolean;
    keyOptional(area: Area, path: string): boolean;
  };
}

export interface Gateway {
  fetch(req: Request, server?: ServerLike | null): Promise<Response>;
  readonly inFlight: number;
  /** Stops the bucket sweeper. */
  close(): void;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function createGateway(deps: GatewayDeps): Gateway {
  const { config, jwtSecret, log, metrics } = deps;
  const ipBuckets = new TokenBuckets(config.rateLimit.perIp);
  const userBuckets = new TokenBuckets(config.rateLimit.perUser);
  const sweeper = setInterval(() => {
    ipBuckets.sweep();
    userBuckets.sweep();
  }, 30_000);
  sweeper.unref?.();
  const cors = corsHeaders(config);
  const creds = deps.credentials ?? legacyCredentials(jwtSecret);
  const defaultSchema = config.rest.schemas[0] ?? "public";
  let inFlight = 0;

  function clientIp(req: Request, server?: ServerLike | null): string {
    if (config.trustProxy) {
      const xff = req.headers.get("x-forwarded-for");
      if (xff) return xff.split(",")[0]!.trim();
    }
    return server?.requestIP(req)?.address ?? "unknown";
  }

  /** Everything that may refuse the request before it reaches a service (a Promise only when a signature must be checked). */
  function admit(req: Request, url: URL, ctx: RequestContext): WireError | null | Promise<WireError | null> {
    const length = Number(req.headers.get("content-length") ?? 0);
    // Storage streams uploads with its own per-bucket limits; everything else is small JSON.
    if (ctx.area !== "storage" && length > config.http.bodyLimit) {
      return { status: 413, code: "payload_too_large", message: `Request body exceeds ${config.http.bodyLimit} bytes` };
    }
    // /health is the load balancer's probe: limiting it would let one noisy client (or a shared
    // NAT address) make a healthy node look dead, so it neither waits for nor draws from a bucket.
    if (config.rateLimit.enabled && !(ctx.area === "system" && url.pathname === "/health")) {
      const wait = ipBuckets.take(ctx.ip);
      if (wait > 0) return tooMany(wait);
    }
    if (ctx.area === "system") return url.pathname === "/metrics" ? admitMetrics(req, url) : null;
    // Only the admin area has opaque tokens: other areas' requests do not parse the bearer twice.
    if (deps.admission && ctx.area === "admin") {
      const bearer = bearerToken(req.headers.get("authorization"));
      if (bearer && deps.admission.opaqueBearer(ctx.area, bearer)) return null;
    }
    const resolved = resolvePrincipal(req, url, creds);
    return resolved instanceof Promise ? resolved.then((r) => admitPrincipal(req, url, ctx, r)) : admitPrincipal(req, url, ctx, resolved);
  }

  function admitPrincipal(req: Request, url: URL, ctx: RequestContext, resolved: PrincipalResult): WireError | null {
    if (!resolved.ok) return { status: 401, code: keyFailureCode[resolved.reason], message: keyFailureMessage[resolved.reason] };
    const grant = resolved.grant;
    if (grant) {
      // Supabase refuses a secret key from a browser; so does Plinth, and a scoped key acting as service_role too.
      if (grant.principal.role === "service_role" && grant.kind !== "publishable" && req.headers.has("origin")) {
        return { status: 401, code: "secret_key_in_browser", message: "Secret API keys cannot be used from a browser (the request has an Origin header)" };
      }
      if (grant.scopes) {
        const denied = scopeDenial(grant.scopes, { area: ctx.area, method: req.method, url, headers: req.headers, defaultSchema });
        if (denied) return { status: 403, code: denied.code, message: denied.message };
      }
    }
    if (!resolved.principal && keyRequired(ctx.area, url.pathname) && !deps.admission?.keyOptional(ctx.area, url.pathname)) {
      return { status: 401, code: "no_api_key", message: keyFailureMessage.missing };
    }
    ctx.principal = resolved.principal;
    const sub = resolved.principal?.claims.sub;
    if (config.rateLimit.enabled && typeof sub === "string") {
      const wait = userBuckets.take(sub);
      if (wait > 0) return tooMany(wait);
    }
    return null;
  }

  /**
   * /metrics names routes, traffic and pool sizes: in production only the service_role key may read
   * it (Prometheus sends it as a bearer token); in development it is open for local scraping.
   */
  function admitMetrics(req: Request, url: URL): WireError | null | Promise<WireError | null> {
    if (config.env !== "production") return null;
    const judge = (resolved: PrincipalResult): WireError | null => {
      if (resolved.ok && resolved.principal?.role === "service_role" && (!resolved.grant?.scopes || resolved.grant.scopes.has("admin:read"))) return null;
      return { status: 401, code: "no_api_key", message: "The service_role key is required for /metrics" };
    };
    const resolved = resolvePrincipal(req, url, creds);
    return resolved instanceof Promise ? resolved.then(judge) : judge(resolved);
  }

  async function fetch(req: Request, server?: ServerLike | null): Promise<Response> {
    const started = performance.now();
    inFlight++;
    const url = new URL(req.url);
    const given = req.headers.get("x-request-id");
    const { area, prefix } = areaOf(url.pathname);
    const ctx: RequestContext = {
      id: given && REQUEST_ID.test(given) ? given : crypto.randomUUID(),
      ip: clientIp(req, server),
      area,
      url,
      principal: null,
    };
    let res: Response;
    try {
      if (req.method === "OPTIONS" && req.headers.has("access-control-request-method")) {
        res = new Response(null, { status: 204, headers: cors.preflight(req) });
      } else {
        const admitted = admit(req, url, ctx);
        // Awaited only when a signature had to be checked: a cached key costs no microtask hop.
        const refused = admitted instanceof Promise ? await admitted : admitted;
        if (refused) {
          res = deps.renderers[area](refused, req);
        } else {
          // Only a body of undeclared length (chunked) is read here; every other request goes on
          // without an await (a microtask hop per request on the hot path).
          const bounded = area !== "storage" && req.body !== null && !req.headers.has("content-length") ? await boundBody(req, config.http.bodyLimit) : req;
          if (bounded instanceof Request) {
            bindRequestContext(bounded, ctx);
            res = await deps.handle(bounded, server);
          } else {
            res = deps.renderers[area](bounded, req);
          }
        }
      }
    } catch (err) {
      log.error("unhandled error", { request_id: ctx.id, path: url.pathname, error: err });
      res = deps.renderers[area]({ status: 500, code: "internal_error", message: "Internal server error" }, req);
    } finally {
      inFlight--;
    }
    res = withHeaders(res, ctx.id, cors.simple(req));
    const ms = performance.now() - started;
    metrics.observe(routeLabel(prefix, url.pathname, res.status), res.status, ms, started + ms);
    log.info("request", {
      request_id: ctx.id,
      method: req.method,
      path: url.pathname, // never the query string: it may carry apikey or token parameters
      status: res.status,
      duration_ms: Math.round(ms * 1000) / 1000,
      role: ctx.principal?.role ?? null,
      ip: ctx.ip,
    });
    return res;
  }

  return {
    fetch,
    get inFlight() {
      return inFlight;
    },
    close: () => clearInterval(sweeper),
  };
}

/**
 * A body without Content-Length (chunked) passes the declared-size check in admit(), and Bun accepts
 * bodies up to maxRequestBodySize (GiBs, for storage): read it here, counting, and refuse with 413 as
 * soon as it passes the limit, so a client cannot make the server hold more than `limit` bytes.
 * Storage streams uploads through its own per-bucket limits and is left alone. Declared lengths
 * were checked in admit() and Bun enforces them, so those bodies pass through untouched (no copy).
 */
async function boundBody(req: Request, limit: number): Promise<Request | WireError> {
  if (!req.body) return req;
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        void reader.cancel().catch(() => {});
        return { status: 413, code: "payload_too_large", message: `Request body exceeds ${limit} bytes` };
      }
      chunks.push(value);
    }
  } catch {
    return { status: 400, code: "bad_request", message: "The request body could not be read" };
  }
  // The signal carries over: a handler learns when the client drops the request (admin SQL cancels its statement).
  return new Request(req.url, { method: req.method, headers: req.headers, body: Buffer.concat(chunks), signal: req.signal });
}

function tooMany(wait: number): WireError {
  return {
    status: 429,
    code: "over_request_rate_limit",
    message: "Too many requests, retry later",
    headers: { "retry-after": String(wait) },
  };
}

/** Bounded label set: the prefix plus one fixed-vocabulary segment, and never an unmatched path. */
function routeLabel(prefix: string, path: string, status: number): string {
  if (!prefix) return status === 404 ? "unmatched" : path;
  if (status === 404) return `${prefix}/unmatched`;
  if (prefix === "/rest/v1") return prefix; // table names are user data
  const seg = path.slice(prefix.length + 1).split("/")[0] ?? "";
  return /^[a-z_]{1,32}$/.test(seg) ? `${prefix}/${seg}` : prefix;
}

function withHeaders(res: Response, requestId: string, extra: Record<string, string>): Response {
  try {
    res.headers.set("x-request-id", requestId);
    for (const [k, v] of Object.entries(extra)) res.headers.set(k, v);
    return res;
  } catch {
    // Some responses (e.g. a fetch() passthrough) have immutable headers: copy once.
    const copy = new Response(res.body, res);
    copy.headers.set("x-request-id", requestId);
    for (const [k, v] of Object.entries(extra)) copy.headers.set(k, v);
    return copy;
  }
}

const ALLOWED_HEADERS =
  "authorization, apikey, content-type, x-client-info, x-supabase-api-version, accept-profile, content-profile, prefer, range, x-upsert, x-request-id, cache-control, x-metadata, if-none-match, tus-resumable, upload-length, upload-offset, upload-metadata";
const EXPOSED_HEADERS =
  "content-range, x-total-count, link, x-request-id, x-sb-error-code, location, etag, retry-after, content-disposition, content-length, accept-ranges, upload-offset, upload-length, upload-expires, tus-resumable, tus-version, tus-extension, tus-max-size";

function corsHeaders(config: Config) {
  const origins = config.cors.origins;
  const any = origins.includes("*");
  const allowOrigin = (req: Request): string | null => {
    const origin = req.headers.get("origin");
    if (any) return config.cors.credentials && origin ? origin : "*";
    return origin && origins.includes(origin) ? origin : null;
  };
  const base = (req: Request): Record<string, string> => {
    const origin = allowOrigin(req);
    if (!origin) return {};
    const h: Record<string, string> = { "access-control-allow-origin": origin, "access-control-expose-headers": EXPOSED_HEADERS };
    if (origin !== "*") h.vary = "Origin";
    if (config.cors.credentials) h["access-control-allow-credentials"] = "true";
    return h;
  };
  return {
    simple: (req: Request) => (req.headers.has("origin") ? base(req) : {}),
    preflight: (req: Request): Record<string, string> => ({
      ...base(req),
      "access-control-allow-methods": "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
      "access-control-allow-headers": req.headers.get("access-control-request-headers") ?? ALLOWED_HEADERS,
      "access-control-max-age": "86400",
    }),
  };
}
