// Security events (plinth.security_events, migration 0013): what an operator should know about,
// raised by the feature that sees it (auth for lockouts and token reuse, the admin plane for level
// changes and emergency access, keys, table security, audit verification). Raising one never fails
// the request that raised it: the caller's work is done, and a lost event is logged instead.
//
// Alerts: the same statement that stores the event queues one outbox row per alert target whose
// minimum severity it reaches (plinth.security_alert_targets, synced from the config by the admin
// service: alerts.ts). One statement, so an event is never stored without its alerts or the other
// way round, and an alert raised just before a crash is still in the outbox after it.
import type postgres from "postgres";
import type { Sql } from "../../db/pool.ts";

export type SecuritySeverity = "low" | "medium" | "high" | "critical";

export const securitySeverities: readonly SecuritySeverity[] = ["low", "medium", "high", "critical"];

export type SecurityEventKind =
  | "lockout"
  | "failure_burst"
  | "refresh_token_reuse"
  | "new_device"
  | "mfa_disabled"
  | "recovery_code_used"
  | "admin_level_changed"
  | "emergency_access"
  | "key_created"
  | "key_revoked"
  | "policy_changed"
  | "audit_chain_broken";

export const securityEventKinds: readonly SecurityEventKind[] = [
  "lockout",
  "failure_burst",
  "refresh_token_reuse",
  "new_device",
  "mfa_disabled",
  "recovery_code_used",
  "admin_level_changed",
  "emergency_access",
  "key_created",
  "key_revoked",
  "policy_changed",
  "audit_chain_broken",
];

export interface SecurityEvent {
  kind: SecurityEventKind;
  severity: SecuritySeverity;
  userId?: string | null;
  address?: string | null;
  userAgent?: string | null;
  /** Never secrets: identifiers, counts, names of what changed. */
  details?: Record<string, unknown>;
}

/** Stores the event (and queues its alerts); returns its id, or null when it could not be stored (logged, never thrown). */
export async function raiseSecurityEvent(
  sql: Sql | postgres.TransactionSql,
  event: SecurityEvent,
  log?: { warn(msg: string, fields?: object): void },
): Promise<number | null> {
  try {
    // The delivery id is made here, once, so every retry of a delivery carries the same one.
    const [row] = await sql<{ id: string }[]>`
      with e as (
        insert into plinth.security_events (kind, severity, user_id, address, user_agent, details)
        values (${event.kind}, ${event.severity}, ${event.userId ?? null}, ${event.address ?? null},
                ${event.userAgent?.slice(0, 512) ?? null}, ${sql.json((event.details ?? {}) as postgres.JSONValue)})
        returning id, severity),
      o as (
        insert into plinth.security_alert_outbox (event_id, target, delivery_id)
        select e.id, t.target, 'msg_' || replace(gen_random_uuid()::text, '-', '')
        from e join plinth.security_alert_targets t
          on array_position(array['low', 'medium', 'high', 'critical'], e.severity)
             >= array_position(array['low', 'medium', 'high', 'critical'], t.min_severity)
        returning id)
      select e.id, (select count(*) from o) as alerts from e`;
    return Number(row?.id);
  } catch (err) {
    log?.warn("security event not stored", { kind: event.kind, error: (err as Error).message });
    return null;
  }
}
