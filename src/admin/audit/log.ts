// The audit log (plinth.audit_log, migrations 0007, 0010 and 0012): one row per admin API call and
// per CLI action, written on the server's connection. Each names who acted: the key's role and
// kind, and beyond it the admin account (id, email, level at the time) and its session, or the OS
// user who ran a CLI command; security-relevant actions (emergency access) are flagged and carry
// the reason given. Rows are only ever inserted (nothing in Plinth deletes them); the table refuses
// UPDATE, DELETE and TRUNCATE by trigger, and neither the API roles nor the SQL console's role
// (plinth_console) hold any privilege on it. Since migration 0015 every row is also a link of a hash
// chain (chain.ts, verify.ts), and the only delete is archiving past audit.retentionDays
// (retention.ts). Beyond the admin plane, the auth API's flows (src/auth/audit.ts), migrations and
// key or security-setting changes (recordSecurityChange) write here too.
import type postgres from "postgres";
import type { Sql } from "../../db/pool.ts";
import type { AdminActor } from "../authorize.ts";
import { whereOf, type AuditFilter } from "./query.ts";

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
  /** Structured facts about the action (never secrets): e.g. the old and new level of a change. */
  details?: Record<string, unknown> | null;
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
       admin_id, admin_email, admin_level, session_id, os_user, security, reason, details)
    values
      (${e.actorRole}, ${e.actorKind}, ${e.actorSub}, ${e.action}, ${e.target}, ${e.statement}, ${e.outcome},
       ${e.status}, ${e.errorCode}, ${e.durationMs}, ${e.rowCount}, ${e.requestId}, ${e.clientIp},
       ${e.adminId ?? null}, ${e.adminEmail ?? null}, ${e.adminLevel ?? null}, ${e.sessionId ?? null},
       ${e.osUser ?? null}, ${e.security ?? false}, ${e.reason ?? null},
       ${e.details ? sql.json(e.details as postgres.JSONValue) : null})`;
}

/**
 * For features that change keys or security settings outside an admin API call of their own (or
 * that want the change itself on record beside the call): one audit row, flagged security-relevant,
 * naming who did it and what changed. `action` is e.g. "keys.rotate", "security.table_settings",
 * "security.lockout_cleared"; `details` names what changed (never a secret or key material).
 */
export async function recordSecurityChange(
  sql: Sql,
  change: {
    actor: AdminActor;
    action: string;
    target: string | null;
    outcome?: AuditOutcome;
    details?: Record<string, unknown>;
    clientIp?: string | null;
    requestId?: string | null;
    reason?: string | null;
  },
): Promise<void> {
  await recordAudit(sql, {
    ...actorColumns(change.actor),
    action: change.action,
    target: change.target,
    statement: null,
    outcome: change.outcome ?? "ok",
    status: change.outcome && change.outcome !== "ok" ? 1 : 0,
    errorCode: null,
    durationMs: 0,
    rowCount: null,
    requestId: change.requestId ?? null,
    clientIp: change.clientIp ?? null,
    security: true,
    reason: change.reason ?? null,
    details: change.details ?? null,
  });
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
  details: Record<string, unknown> | null;
  /** The row's place in the hash chain, the previous row's hash and its own (migration 0015). */
  seq: number;
  prev_hash: string;
  hash: string;
}

export interface AuditRow {
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
  details: Record<string, unknown> | null;
  seq: string;
  prev_hash: string;
  hash: string;
}

export const AUDIT_COLUMNS = `id, at, actor_role, actor_kind, actor_sub, action, target, statement, outcome, status,
  error_code, duration_ms, row_count, request_id, client_ip, admin_id, admin_email, admin_level, session_id, os_user,
  security, reason, details, seq, prev_hash, hash`;

/**
 * Newest first; `before` is an id from a previous page (keyset pagination). `adminId` limits the
 * page to the entries that admin account caused (a moderator's own view).
 */
export async function listAudit(sql: Sql, opts: { limit: number; before: number | null; adminId?: string; filter?: AuditFilter }): Promise<AuditRecord[]> {
  const filter = { ...opts.filter, ...(opts.adminId !== undefined ? { adminId: opts.adminId } : {}) };
  const rows = await sql<AuditRow[]>`
    select ${sql.unsafe(AUDIT_COLUMNS) /* a static column list */}
    from plinth.audit_log
    where ${opts.before === null ? sql`true` : sql`id < ${opts.before}`}
      and ${whereOf(sql, filter)}
    order by id desc
    limit ${opts.limit}`;
  return rows.map(auditRecordOf);
}

export function auditRecordOf(r: AuditRow): AuditRecord {
  return {
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
    details: r.details,
    seq: Number(r.seq),
    prev_hash: r.prev_hash,
    hash: r.hash,
  };
}
