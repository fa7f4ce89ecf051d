// What every /admin/v1 route shares: who the caller is (an admin session token, resolved in the
// database on every call, or the gateway's principal for keys), the access check, the error guard
// (admin errors carry structured details the app-wide renderer cannot express), and exactly one
// audit record per call, written whatever the outcome once the work is done (after commit: rule 6).
// The one exception is a polled read-only route (pollWindowMs: the console's stats and logs): its
// successful calls are recorded once per identity and window (audit/poll-window.ts).
import { json } from "../errors.ts";
import type { Sql } from "../db/pool.ts";
import { requestContext } from "../lib/request-context.ts";
import type { Logger } from "../log.ts";
import { maskLiterals } from "./audit/mask.ts";
import { PollWindows } from "./audit/poll-window.ts";
import { actorColumns, recordAudit, type AuditOutcome } from "./audit/log.ts";
import { actorOf, authorizeAdmin, authorizeSignedIn, type AdminActor, type Capability } from "./authorize.ts";
import { AdminErrors, renderAdminError } from "./errors.ts";
import { sessionTokenOf } from "./sessions/tokens.ts";

export interface RouteContext {
  body: unknown;
  query: Record<string, string | undefined>;
  params: Record<string, string>;
  request: Request;
}

/** What the audit record will say about a call; handlers fill it in as they learn it. */
export interface AuditNote {
  target: string | null;
  /** Statements run (raw: masked before they are written). */
  statements: string[];
  rowCount: number | null;
  /** Who the record names, when the call itself established it (a sign-in names the admin signed in). */
  actor?: AdminActor;
  /** A security-relevant action (emergency access), and the reason given for it. */
  security?: boolean;
  reason?: string | null;
}

export interface AdminCall extends RouteContext {
  actor: AdminActor;
  audit: AuditNote;
}

/** Resolves an admin session token to the actor behind it (null: no live session). */
export interface SessionResolver {
  resolve(token: string): Promise<AdminActor | null>;
  /** Returns once every node has dropped what a committed change invalidated (sessions/cache.ts). */
  settle?(): Promise<void>;
}

export interface AdminHttpDeps {
  /** The owner connection the audit log is written with. */
  sql: Sql;
  log: Logger;
  /** Admin sessions; without it, admin session tokens are refused (401). */
  sessions?: SessionResolver;
}

export interface AdminRouteSpec {
  /** Audit action name, e.g. "tables.create". */
  action: string;
  /**
   * What the caller needs: a capability; "signed_in" for what every admin identity may do (who am
   * I, sign out, its own sessions); "public" for the sign-in endpoints themselves.
   */
  capability: Capability | "signed_in" | "public";
  /**
   * Read-only telemetry a client polls (stats, logs): successful calls by one identity are recorded
   * once per this many ms, the record counting the calls the previous window folded in. Never for a
   * route that changes anything; refusals and errors are recorded every time.
   */
  pollWindowMs?: number;
}

/** A handler's answer: a Response as-is, anything else as a 200 JSON body. */
export type AdminReply = Response | object;

export const created = (body: unknown): Response => json(body, 201);
export const noContent = (): Response => new Response(null, { status: 204 });

/** Who an admin session token that resolved to nothing is, for the audit record. */
const DEAD_SESSION: AdminActor = { role: "admin", kind: "admin_session", sub: null, capabilities: new Set(), admin: null, tables: new Set() };

export function adminRoute(deps: AdminHttpDeps, spec: AdminRouteSpec, fn: (call: AdminCall) => Promise<AdminReply>) {
  const polls = spec.pollWindowMs ? new PollWindows(spec.pollWindowMs) : null;
  return async (c: RouteContext): Promise<Response> => {
    const started = performance.now();
    const ctx = requestContext(c.request);
    let actor = actorOf(ctx?.principal ?? null);
    // Elysia leaves params (and query) undefined on routes that have none.
    const params = c.params ?? {};
    const query = c.query ?? {};
    const audit: AuditNote = { target: defaultTarget(params, ctx?.url.pathname ?? new URL(c.request.url).pathname), statements: [], rowCount: null };
    let res: Response;
    let errorCode: string | null = null;
    try {
      // The gateway let an admin session token through without a principal; it is resolved here
      // (sessions/cache.ts: this node's cache, kept exact by LISTEN/NOTIFY, else the database).
      const token = sessionTokenOf(c.request);
      if (token) {
        actor = (await deps.sessions?.resolve(token)) ?? DEAD_SESSION;
        if (actor === DEAD_SESSION && spec.capability !== "public") throw AdminErrors.sessionInvalid();
      }
      if (spec.capability === "signed_in") authorizeSignedIn(actor);
      else if (spec.capability !== "public") authorizeAdmin(actor, spec.capability);
      const reply = await fn({ body: c.body, query, params, request: c.request, actor, audit });
      res = reply instanceof Response ? reply : json(reply);
      // A write may have ended sessions or changed levels: answer only once every node knows.
      if (c.request.method !== "GET" && res.status < 400) await deps.sessions?.settle?.();
    } catch (err) {
      const rendered = renderAdminError(err);
      if (!rendered) {
        deps.log.error("admin route error", { request_id: ctx?.id, action: spec.action, error: err });
        res = json({ code: "internal_error", message: "Internal server error" }, 500);
        errorCode = "internal_error";
      } else {
        res = rendered;
        errorCode = (err as { code?: string }).code ?? null;
      }
    }
    let details: Record<string, unknown> | null = null;
    if (polls && c.request.method === "GET" && res.status < 400) {
      const decision = polls.note(pollIdentity(audit.actor ?? actor, ctx?.ip ?? null));
      if (!decision.record) return res;
      details = { poll_window_s: polls.windowMs / 1000, folded_calls: decision.foldedBefore };
    }
    try {
      const masked = audit.statements.length ? await maskLiterals(audit.statements.join(";\n")) : null;
      await recordAudit(deps.sql, {
        ...actorColumns(audit.actor ?? actor),
        action: spec.action,
        target: audit.target,
        statement: masked,
        outcome: outcomeOf(res.status, errorCode),
        status: res.status,
        errorCode,
        durationMs: Math.round((performance.now() - started) * 1000) / 1000,
        rowCount: audit.rowCount,
        requestId: ctx?.id ?? null,
        clientIp: ctx?.ip ?? null,
        security: audit.security ?? false,
        reason: audit.reason ?? null,
        details,
      });
    } catch (err) {
      // The call itself is done (and possibly committed); a failing audit write must be loud.
      deps.log.error("audit: could not record admin call", { request_id: ctx?.id, action: spec.action, error: err });
    }
    return res;
  };
}

/** Whose polling a window counts: the admin or emergency session; a key by its kind, subject and address. */
function pollIdentity(actor: AdminActor, ip: string | null): string {
  const session = actor.admin?.sessionId ?? actor.emergency?.sessionId;
  return session ? `session:${session}` : `${actor.kind}:${actor.role}:${actor.sub ?? ""}:${ip ?? ""}`;
}

function outcomeOf(status: number, code: string | null): AuditOutcome {
  if (status < 400) return "ok";
  // Before the 403 rule: a statement the console never runs is refused, not a caller denied.
  if (code === "dangerous_statement" || code === "statement_not_allowed") return "refused";
  if (status === 401 || status === 403) return "denied";
  // Sign-in failures are denials (so failed logins can be counted by outcome).
  // A locked identifier (src/auth/lockout.ts) is a refused sign-in too.
  if (
    code === "invalid_credentials" ||
    code === "mfa_verification_failed" ||
    code === "invalid_challenge" ||
    code === "invalid_emergency_code" ||
    code === "user_locked"
  )
    return "denied";
  return "error";
}

function defaultTarget(params: Record<string, string>, pathname: string): string | null {
  const parts = [params.schema, params.table ?? params.name, params.policy].filter((p): p is string => !!p);
  if (parts.length) return parts.join(".");
  // /admin/v1/users/<id>/… → "user:<id>" (and admin:, session:), as the handlers name it: so a call
  // refused before its handler ran still says whom it was about.
  if (params.id) {
    const segs = pathname.split("/");
    const at = segs.indexOf(encodeURIComponent(params.id));
    const kind = at > 0 ? segs[at - 1]!.replace(/s$/, "") : "id";
    return `${kind}:${params.id}`;
  }
  return null;
}
