// The auth API's entries in the audit log (plinth.audit_log): sign-ups, sign-ins and their
// failures, password changes and resets, MFA enrolment and removal, sign-outs, and every call of
// the /auth/v1/admin endpoints. Routes wrap the flow call in `audited(…)`, one line per flow, so the
// flows themselves stay as they are.
//
// Cost on the hot path: one INSERT (autocommit) after the flow, nothing before it. The chain
// trigger serialises audit inserts on the chain head's row lock for the length of that insert's
// commit — measured in bench/audit.ts.
//
// Never a secret: the entry holds the action, the account (id) or the identifier typed (email,
// phone or username — what a failed sign-in is about), the outcome and the error *code*; never a
// password, token, code, OTP or error message.
import { recordAudit, type AuditOutcome } from "../admin/audit/log.ts";
import { isPlinthError } from "../errors.ts";
import { requestContext } from "../lib/request-context.ts";
import type { AuthContext } from "./context.ts";

export interface AuditSubject {
  /** What the action is about when it is not the account that results (e.g. "email:a@b.c"). */
  target?: string | null;
  /** Whether the entry is security-relevant (admin endpoints, MFA removal). */
  security?: boolean;
}

/** "email:…", "phone:…" or "username:…" for the identifier given (trimmed, lowercased; clipped). */
export function identifierTarget(input: { email?: string; phone?: string; username?: string }): string | null {
  const [kind, value] = input.email
    ? ["email", input.email]
    : input.phone
      ? ["phone", input.phone]
      : input.username
        ? ["username", input.username]
        : [null, null];
  if (!kind || !value) return null;
  return `${kind}:${value.trim().toLowerCase().slice(0, 320)}`;
}

/**
 * Runs `work` and records one audit entry for it — outcome, status and error code on failure (then
 * rethrows), the account it produced or acted on on success. A failed audit write is logged and
 * never fails the request.
 */
export async function audited<T>(ctx: AuthContext, request: Request, action: string, subject: AuditSubject, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  let result: T;
  try {
    result = await work();
  } catch (err) {
    const status = isPlinthError(err) ? err.status : 500;
    const code = isPlinthError(err) ? err.code : "internal_error";
    await write(ctx, request, action, subject, null, outcomeOf(status, code), status, code, started);
    throw err;
  }
  await write(ctx, request, action, subject, userIdOf(result), "ok", 200, null, started);
  return result;
}

async function write(
  ctx: AuthContext,
  request: Request,
  action: string,
  subject: AuditSubject,
  resultUser: string | null,
  outcome: AuditOutcome,
  status: number,
  errorCode: string | null,
  started: number,
): Promise<void> {
  const rc = requestContext(request);
  const principal = rc?.principal ?? null;
  const sub = typeof principal?.claims.sub === "string" ? principal.claims.sub : null;
  const role = principal?.role ?? "anon";
  const userId = resultUser ?? sub;
  try {
    await recordAudit(ctx.db.sql, {
      actorRole: role,
      actorKind: role === "service_role" ? "service_key" : sub ? "user_token" : resultUser ? "user" : "anon_key",
      actorSub: userId,
      action,
      target: subject.target ?? (userId ? `user:${userId}` : null),
      statement: null,
      outcome,
      status,
      errorCode,
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      rowCount: null,
      requestId: rc?.id ?? null,
      clientIp: rc?.ip ?? null,
      security: subject.security ?? false,
    });
  } catch (err) {
    ctx.log.error("audit: could not record auth action", { request_id: rc?.id, action, error: err });
  }
}

/** Denials are what a compliance report counts as failed sign-ins; bad input and faults are errors. */
const DENIED_CODES = new Set([
  "invalid_credentials",
  "user_banned",
  "user_locked",
  "otp_expired",
  "mfa_verification_failed",
  "mfa_challenge_expired",
  "email_not_confirmed",
  "phone_not_confirmed",
  "refresh_token_not_found",
  "refresh_token_already_used",
  "bad_jwt",
  "not_admin",
  "reauthentication_needed",
  "reauthentication_not_valid",
  "over_request_rate_limit",
  "insufficient_aal",
]);

function outcomeOf(status: number, code: string): AuditOutcome {
  if (status === 401 || status === 403 || status === 429 || DENIED_CODES.has(code)) return "denied";
  return "error";
}

/** The account a flow's answer is about: a session's user, a user, or a verify result's session. */
function userIdOf(result: unknown): string | null {
  if (!result || typeof result !== "object") return null;
  const r = result as { user?: { id?: unknown }; session?: { user?: { id?: unknown } }; id?: unknown; aud?: unknown };
  const id = r.user?.id ?? r.session?.user?.id ?? (r.aud !== undefined ? r.id : undefined);
  return typeof id === "string" ? id : null;
}

/** The audit action of an /auth/v1/admin call (or /invite), from its method and path. */
export function adminActionOf(method: string, pathname: string): { action: string; userId: string | null } {
  const path = pathname.replace(/^.*?\/auth\/v1/, "").replace(/\/+$/, "");
  const m = /^\/admin\/users(?:\/([^/]+)(?:\/factors(?:\/([^/]+))?)?)?$/.exec(path);
  if (m) {
    const userId = m[1] ? decodeURIComponent(m[1]) : null;
    if (path.includes("/factors")) return { action: m[2] ? "auth_admin.factors.delete" : "auth_admin.factors.list", userId };
    const verb = !userId
      ? method === "POST"
        ? "create"
        : "list"
      : (({ GET: "get", PUT: "update", DELETE: "delete" } as Record<string, string>)[method] ?? method.toLowerCase());
    return { action: `auth_admin.users.${verb}`, userId };
  }
  if (path === "/admin/generate_link") return { action: "auth_admin.generate_link", userId: null };
  if (path === "/invite") return { action: "auth_admin.invite", userId: null };
  return { action: `auth_admin.${method.toLowerCase()}`, userId: null };
}
