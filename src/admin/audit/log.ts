// The audit log (plinth.audit_log, migrations 0007, 0010 and 0012): one row per admin API call and
// per CLI action, written on the server's connection. Each names who acted: the key's role and
// kind, and beyond it the admin account (id, email, level at the time) and its session, or the OS
// user who ran a CLI command; security-relevant actions (emergency access) are flagged and carry
// the reason given. Rows are only ever inserted (nothing in Plinth deletes them); the table refuses
// UPDATE, DELETE and TRUNCATE by trigger, and neither the API roles nor the SQL console's role
// (plinth_console) hold any privilege on it.
import type { Sql } from "../../db/pool.ts";
import type { AdminActor } from "../authorize.ts";

export type AuditOutcome = "ok" | "error" | "denied" | "refused";

export interface AuditEntry {
  actorRole: string;
  actorKind: string;
  actorSub: string | null;
  action: string;
  target: string | null;
  /** Already masked (see mask.ts): never raw statement text. */
  statement: string | null;
  outcome: AuditOutcome;
  status: number;
  errorCode: string | null;
  durationMs: number;
  rowCount: number | null;
  requestId: string | null;
  clientIp: string | null;
  /** The admin account behind the call (see actorColumns). */
  adminId?: string | null;
  adminEmail?: string | null;
  adminLevel?: string | null;
  sessionId?: string | null;
  osUser?: string | null;
  /** A security-relevant action (emergency access), and the reason given for it. */
  security?: boolean;
  reason?: string | null;
}

/** The "who" columns of an actor: its key's role and kind, and the account, session or OS user behind it. */
export function actorColumns(
  actor: AdminActor,
): Pick<AuditEntry, "actorRole" | "actorKind" | "actorSub" | "adminId" | "adminEmail" | "adminLevel" | "sessionId" | "osUser"> {
  return {
    actorRole: actor.role,
    actorKind: actor.kind,
    actorSub: actor.sub,
    adminId: actor.admin?.id ?? null,
    adminEmail: actor.admin?.email ?? null,
    adminLevel: actor.admin?.level ?? (actor.emergency || actor.kind === "cli" ? "system_admin" : null),
    sessionId: actor.admin?.sessionId ?? actor.emergency?.sessionId ?? null,
    osUser: actor.osUser ?? null,
  };
}

export async function recordAudit(sql: Sql, e: AuditEntry): Promise<void> {
  await sql`
    insert into plinth.audit_log
      (actor_role, actor_kind, actor_sub, action, target, statement, outcome, status, error_code,
       duration_ms, row_count, request_id, client_ip,
       admin_id, admin_email, admin_level, session_id, os_user, security, reason)
    values
      (${e.actorRole}, ${e.actorKind}, ${e.actorSub}, ${e.action}, ${e.target}, ${e.statement}, ${e.outcome},
       ${e.status}, ${e.errorCode}, ${e.durationMs}, ${e.rowCount}, ${e.requestId}, ${e.clientIp},
       ${e.adminId ?? null}, ${e.adminEmail ?? null}, ${e.adminLevel ?? null}, ${e.sessionId ?? null},
       ${e.osUser ?? null}, ${e.security ?? false}, ${e.reason ?? null})`;
}

export interface AuditRecord {
  id: number;
  at: string;
  actor: {
    role: string;
    kind: string;
    sub: string | null;
    admin: { id: string; email: string | null; level: string | null } | null;
    level: string | null;
    session_id: string | null;
    os_user: string | null;
  };
  action: string;
  target: string | null;
  statement: string | null;
  outcome: AuditOutcome;
  status: number;
  error_code: string | null;
  duration_ms: number;
  row_count: number | null;
  request_id: string | null;
  client_ip: string | null;
  security: boolean;
  reason: string | null;
}

interface AuditRow {
  id: string;
  at: Date;
  actor_role: string;
  actor_kind: string;
  actor_sub: string | null;
  action: string;
  target: string | null;
  statement: string | null;
  outcome: AuditOutcome;
  status: number;
  error_code: string | null;
  duration_ms: number;
  row_count: string | null;
  request_id: string | null;
  client_ip: string | null;
  admin_id: string | null;
  admin_email: string | null;
  admin_level: string | null;
  session_id: string | null;
  os_user: string | null;
  security: boolean;
  reason: string | null;
}

/**
 * Newest first; `before` is an id from a previous page (keyset pagination). `adminId` limits the
 * page to the entries that admin account caused (a moderator's own view).
 */
export async function listAudit(sql: Sql, opts: { limit: number; before: number | null; adminId?: string }): Promise<AuditRecord[]> {
  const rows = await sql<AuditRow[]>`
    select id, at, actor_role, actor_kind, actor_sub, action, target, statement, outcome, status,
           error_code, duration_ms, row_count, request_id, client_ip,
           admin_id, admin_email, admin_level, session_id, os_user, security, reason
    from plinth.audit_log
    where ${opts.before === null ? sql`true` : sql`id < ${opts.before}`}
      and ${opts.adminId === undefined ? sql`true` : sql`admin_id = ${opts.adminId}`}
    order by id desc
    limit ${opts.limit}`;
  return rows.map((r) => ({
    id: Number(r.id),
    at: r.at.toISOString(),
    actor: {
      role: r.actor_role,
      kind: r.actor_kind,
      sub: r.actor_sub,
      admin: r.admin_id ? { id: r.admin_id, email: r.admin_email, level: r.admin_level } : null,
      level: r.admin_level,
      session_id: r.session_id,
      os_user: r.os_user,
    },
    action: r.action,
    target: r.target,
    statement: r.statement,
    outcome: r.outcome,
    status: r.status,
    error_code: r.error_code,
    duration_ms: r.duration_ms,
    row_count: r.row_count === null ? null : Number(r.row_count),
    request_id: r.request_id,
    client_ip: r.client_ip,
    security: r.security,
    reason: r.reason,
  }));
}
