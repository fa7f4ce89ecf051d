// The audit log (plinth.audit_log, migrations 0007 and 0010): one row per admin API call, written
// on the server's connection. Rows are only ever inserted (nothing in Plinth deletes them); the
// table refuses UPDATE, DELETE and TRUNCATE by trigger, and neither the API roles nor the SQL
// console's role (plinth_console) hold any privilege on it.
import type { Sql } from "../../db/pool.ts";

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
}

export async function recordAudit(sql: Sql, e: AuditEntry): Promise<void> {
  await sql`
    insert into plinth.audit_log
      (actor_role, actor_kind, actor_sub, action, target, statement, outcome, status, error_code,
       duration_ms, row_count, request_id, client_ip)
    values
      (${e.actorRole}, ${e.actorKind}, ${e.actorSub}, ${e.action}, ${e.target}, ${e.statement}, ${e.outcome},
       ${e.status}, ${e.errorCode}, ${e.durationMs}, ${e.rowCount}, ${e.requestId}, ${e.clientIp})`;
}

export interface AuditRecord {
  id: number;
  at: string;
  actor: { role: string; kind: string; sub: string | null };
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
}

/** Newest first; `before` is an id from a previous page (keyset pagination). */
export async function listAudit(sql: Sql, opts: { limit: number; before: number | null }): Promise<AuditRecord[]> {
  const rows = await sql<AuditRow[]>`
    select id, at, actor_role, actor_kind, actor_sub, action, target, statement, outcome, status,
           error_code, duration_ms, row_count, request_id, client_ip
    from plinth.audit_log
    where ${opts.before === null ? sql`true` : sql`id < ${opts.before}`}
    order by id desc
    limit ${opts.limit}`;
  return rows.map((r) => ({
    id: Number(r.id),
    at: r.at.toISOString(),
    actor: { role: r.actor_role, kind: r.actor_kind, sub: r.actor_sub },
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
  }));
}
