// Security events (plinth.security_events, migration 0013): what an operator should know about,
// raised by the feature that sees it (auth for lockouts and token reuse, the admin plane for level
// changes and emergency access, keys, table security, audit verification). Raising one never fails
// the request that raised it: the caller's work is done, and a lost event is logged instead.
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

export interface SecurityEvent {
  kind: SecurityEventKind;
  severity: SecuritySeverity;
  userId?: string | null;
  address?: string | null;
  userAgent?: string | null;
  /** Never secrets: identifiers, counts, names of what changed. */
  details?: Record<string, unknown>;
}

/** Stores the event; returns its id, or null when it could not be stored (logged, never thrown). */
export async function raiseSecurityEvent(sql: Sql, event: SecurityEvent, log?: { warn(msg: string, fields?: object): void }): Promise<number | null> {
  try {
    const [row] = await sql<{ id: string }[]>`
      insert into plinth.security_events (kind, severity, user_id, address, user_agent, details)
      values (${event.kind}, ${event.severity}, ${event.userId ?? null}, ${event.address ?? null},
              ${event.userAgent ?? null}, ${sql.json((event.details ?? {}) as postgres.JSONValue)})
      returning id`;
    return Number(row?.id);
  } catch (err) {
    log?.warn("security event not stored", { kind: event.kind, error: (err as Error).message });
    return null;
  }
}
