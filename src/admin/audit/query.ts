// Filters over the audit log, shared by the listing (GET /admin/v1/audit), the export (API and
// CLI) and the compliance report: parsed from query parameters once (pure; a bad value is a 400
// with code invalid_audit_filter naming the parameter), turned into one SQL condition of bind
// parameters, never text pasted into SQL.
import type postgres from "postgres";
import type { Sql } from "../../db/pool.ts";
import { AdminError } from "../errors.ts";

export const OUTCOMES = ["ok", "error", "denied", "refused"] as const;

export interface AuditFilter {
  /** Matches the actor's subject (user id), admin account id or email, or CLI OS user, exactly. */
  actor?: string;
  /** Action prefix, e.g. "end_user.signin" or "admins." */
  action?: string;
  target?: string;
  outcome?: (typeof OUTCOMES)[number];
  since?: Date;
  until?: Date;
  /** Only entries an admin account caused (a moderator's own view). */
  adminId?: string;
}

export const filterError = (param: string, message: string) => new AdminError(400, "invalid_audit_filter", message, { param });

const MAX_TEXT = 512;

function text(q: Record<string, string | undefined>, name: string): string | undefined {
  const v = q[name];
  if (v === undefined || v === "") return undefined;
  if (v.length > MAX_TEXT) throw filterError(name, `${name} is longer than ${MAX_TEXT} characters`);
  if (v.includes("\0")) throw filterError(name, `${name} contains a NUL character`);
  return v;
}

/** An ISO 8601 date or date-time (a bare date is midnight UTC). */
export function parseTime(value: string, name: string): Date {
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)) {
    throw filterError(name, `${name} must be an ISO 8601 date or date-time, e.g. 2026-12-01 or 2026-12-01T00:00:00Z`);
  }
  const d = new Date(/T|\s/.test(value) || value.length > 10 ? value.replace(" ", "T") : `${value}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) throw filterError(name, `${name} is not a valid date`);
  return d;
}

export function parseFilter(q: Record<string, string | undefined>): AuditFilter {
  const f: AuditFilter = {};
  const actor = text(q, "actor");
  if (actor) f.actor = actor;
  const action = text(q, "action");
  if (action) f.action = action;
  const target = text(q, "target");
  if (target) f.target = target;
  const outcome = text(q, "outcome");
  if (outcome) {
    if (!(OUTCOMES as readonly string[]).includes(outcome)) throw filterError("outcome", `outcome must be one of ${OUTCOMES.join(", ")}`);
    f.outcome = outcome as AuditFilter["outcome"];
  }
  const since = text(q, "since");
  if (since) f.since = parseTime(since, "since");
  const until = text(q, "until");
  if (until) f.until = parseTime(until, "until");
  if (f.since && f.until && f.since > f.until) throw filterError("until", "until is before since");
  return f;
}

/** A positive integer query parameter, or the fallback. */
export function positiveInt(q: Record<string, string | undefined>, name: string, fallback: number | null): number | null {
  const v = q[name];
  if (v === undefined || v === "") return fallback;
  if (!/^[1-9]\d{0,17}$/.test(v) || !Number.isSafeInteger(Number(v))) throw filterError(name, `${name} must be a positive integer`);
  return Number(v);
}

const likePrefix = (s: string) => `${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** The filter as one SQL condition (every value a bind parameter). */
export function whereOf(sql: Sql, f: AuditFilter): postgres.PendingQuery<postgres.Row[]> {
  const parts = [
    f.actor !== undefined ? sql`(actor_sub = ${f.actor} or admin_id = ${f.actor} or admin_email = ${f.actor} or os_user = ${f.actor})` : null,
    f.action !== undefined ? sql`action like ${likePrefix(f.action)}` : null,
    f.target !== undefined ? sql`target = ${f.target}` : null,
    f.outcome !== undefined ? sql`outcome = ${f.outcome}` : null,
    f.since !== undefined ? sql`at >= ${f.since}` : null,
    f.until !== undefined ? sql`at < ${f.until}` : null,
    f.adminId !== undefined ? sql`admin_id = ${f.adminId}` : null,
  ].filter((p): p is NonNullable<typeof p> => p !== null);
  if (!parts.length) return sql`true`;
  return parts.slice(1).reduce((acc, p) => sql`${acc} and ${p}`, parts[0]!);
}
