// Errors of the admin API (/admin/v1): PlinthError with a stable code, plus structured `details`
// (an array of dependents, of dangerous statements, a syntax error's position), which the app-wide
// renderer cannot express. One renderer puts them on the wire as {code, message, details?}.
import postgres from "postgres";
import { PlinthError, isPlinthError, json } from "../errors.ts";

export class AdminError extends PlinthError {
  constructor(
    status: number,
    code: string,
    message: string,
    /** Structured details, sent as-is (JSON). */
    readonly data?: unknown,
  ) {
    super(status, code, message);
    this.name = "AdminError";
  }
}

export const AdminErrors = {
  unauthorized: () => new AdminError(401, "unauthorized", "The admin API needs an admin session (POST /admin/v1/auth/login) or the service_role key"),
  forbidden: () => new AdminError(403, "forbidden", "This caller may not do this on the admin API"),
  tableNotAssigned: () => new AdminError(403, "table_not_assigned", "This table is not assigned to you"),
  validation: (message: string, issues?: unknown) => new AdminError(400, "validation_failed", message, issues),
  notFound: (what: string) => new AdminError(404, "not_found", `${what} not found`),
  conflict: (code: string, message: string, details?: unknown) => new AdminError(409, code, message, details),

  // Sign-in and sessions.
  /** The same answer for an unknown account, a wrong password and an account that is no admin. */
  invalidCredentials: () => new AdminError(400, "invalid_credentials", "Invalid login credentials"),
  sessionInvalid: () => new AdminError(401, "admin_session_invalid", "This admin session has ended or is not valid: sign in again"),
  /** details: the enrolment token the right password earned (POST /admin/v1/auth/mfa/enroll). */
  mfaEnrollmentRequired: (details?: { enrollment_token: string; expires_at: string }) =>
    new AdminError(
      403,
      "mfa_enrollment_required",
      "Admins must have a verified TOTP factor to sign in here: enrol one with details.enrollment_token " +
        "(POST /admin/v1/auth/mfa/enroll, then /admin/v1/auth/mfa/enroll/verify; the console does it), or as the " +
        "same user through /auth/v1 (POST /auth/v1/factors, then its challenge and verify), then sign in again",
      details,
    ),
  invalidChallenge: () => new AdminError(400, "invalid_challenge", "The sign-in challenge is unknown, used or expired: sign in again"),
  mfaVerificationFailed: () => new AdminError(400, "mfa_verification_failed", "Invalid TOTP or recovery code"),
  invalidEmergencyCode: () => new AdminError(400, "invalid_emergency_code", "The emergency-access code is unknown, used or expired"),
  rateLimited: (retryAfter: number) =>
    new PlinthError(429, "over_request_rate_limit", "Too many sign-in attempts from this address, retry later", null, null, {
      "retry-after": String(retryAfter),
    }),
  /** Too many failed attempts for this identifier (src/auth/lockout.ts), whether or not the account exists. */
  userLocked: (retryAfter: number) =>
    new PlinthError(429, "user_locked", "Too many failed attempts: sign-in is locked for a while, retry later", null, null, {
      "retry-after": String(Math.max(1, retryAfter)),
    }),

  // The rules of admin levels.
  ownLevel: () => new AdminError(403, "own_level", "Nobody changes their own admin level"),
  aboveOwnLevel: () => new AdminError(403, "level_above_own", "Nobody raises anyone above their own level"),
  systemAdminOnly: () => new AdminError(403, "system_admin_only", "Only a system_admin creates, promotes or demotes a system_admin"),
  lastSystemAdmin: () => new AdminError(409, "last_system_admin", "The last system_admin cannot be demoted or removed"),
  userNotFound: () => new AdminError(404, "user_not_found", "No user with this email, username or id"),
  notAnAdmin: () => new AdminError(404, "admin_not_found", "This user is not an admin"),
  adminExists: () => new AdminError(409, "admin_exists", "This user is already an admin: change it with PATCH /admin/v1/admins/{id}"),
};

/** The wire body of an admin error. Internal errors never get here: they are logged and become 500. */
export function renderAdminError(err: unknown): Response | null {
  if (err instanceof AdminError) {
    return json({ code: err.code, message: err.message, ...(err.data !== undefined ? { details: err.data } : {}) }, err.status, err.headers);
  }
  if (isPlinthError(err)) {
    return json({ code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) }, err.status, err.headers);
  }
  const pg = postgresErrorOf(err);
  if (pg) return renderAdminError(fromPostgres(pg));
  return null;
}

/** The fields of a PostgreSQL error as postgres.js exposes them. */
export interface PostgresErrorFields {
  code: string;
  message: string;
  detail?: string;
  hint?: string;
  position?: string | number;
  where?: string;
}

export function postgresErrorOf(err: unknown): PostgresErrorFields | null {
  if (!err || typeof err !== "object") return null;
  const e = err as Record<string, unknown>;
  // instanceof as well as the name: the minified binary renames the class postgres.js names its errors
  // after; errors made in src/db/ carry the name without being instances.
  if (!(err instanceof postgres.PostgresError || e.name === "PostgresError") || typeof e.code !== "string" || !/^[0-9A-Z]{5}$/.test(e.code)) return null;
  return e as unknown as PostgresErrorFields;
}

/**
 * A PostgreSQL error raised by an admin operation: 400 with PostgreSQL's own SQLSTATE as the code
 * (the admin is the database's owner; its messages are for them). Connection and server failures
 * (class 08, 53, 57P, 58, XX) are not the caller's fault and stay 500s.
 */
export function fromPostgres(pg: PostgresErrorFields, extra: Record<string, unknown> = {}): AdminError {
  const serverSide = /^(08|53|58|XX|57P)/.test(pg.code);
  const details: Record<string, unknown> = { ...extra };
  if (pg.detail) details.detail = pg.detail;
  if (pg.hint) details.hint = pg.hint;
  if (pg.position !== undefined && pg.position !== "") details.position = Number(pg.position);
  return new AdminError(serverSide ? 503 : 400, pg.code, pg.message, Object.keys(details).length ? details : undefined);
}
