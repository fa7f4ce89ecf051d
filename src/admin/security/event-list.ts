// GET /admin/v1/security/events and /security/locks as services: filters parsed into a typed query
// (bad input is a validation error before any database work), newest first, keyset-paged by id.
import type { Sql } from "../../db/pool.ts";
import { isUuid } from "../../auth/users.ts";
import { clearLocks, listLocks, lockKey, type LockRow } from "../../auth/lockout.ts";
import { normaliseEmail, normaliseUsername } from "../../auth/input.ts";
import { AdminErrors } from "../errors.ts";
import { securityEventKinds, securitySeverities, type SecurityEventKind, type SecuritySeverity } from "./events.ts";

export interface EventQuery {
  kinds: SecurityEventKind[] | null;
  severities: SecuritySeverity[] | null;
  userId: string | null;
  since: Date | null;
  until: Date | null;
  /** The id of the last event of the previous page. */
  cursor: number | null;
  limit: number;
}

export interface EventRecord {
  id: string;
  at: string;
  kind: string;
  severity: string;
  user_id: string | null;
  address: string | null;
  user_agent: string | null;
  details: Record<string, unknown>;
}

function list<T extends string>(name: string, raw: string | undefined, allowed: readonly T[]): T[] | null {
  if (raw === undefined || raw === "") return null;
  const items = raw.split(",").map((s) => s.trim());
  const bad = items.filter((s) => !(allowed as readonly string[]).includes(s));
  if (bad.length) throw AdminErrors.validation(`Unknown ${name}: ${bad.slice(0, 3).join(", ")} (one of ${allowed.join(", ")})`);
  return items as T[];
}

function time(name: string, raw: string | undefined): Date | null {
  if (raw === undefined || raw === "") return null;
  const d = new Date(raw);
  if (raw.length > 64 || Number.isNaN(d.getTime())) throw AdminErrors.validation(`${name} must be an ISO 8601 time`);
  return d;
}

function positive(name: string, raw: string | undefined, fallback: number | null, max: number): number | null {
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d{1,18}$/.test(raw) || Number(raw) < 1) throw AdminErrors.validation(`${name} must be a positive integer`);
  return Math.min(Number(raw), max);
}

export function parseEventQuery(q: Record<string, string | undefined>): EventQuery {
  const user = q.user ?? q.user_id;
  if (user !== undefined && user !== "" && !isUuid(user)) throw AdminErrors.validation("user must be a user id (a UUID)");
  return {
    kinds: list("kind", q.kind, securityEventKinds),
    severities: q.min_severity
      ? securitySeverities.slice(securitySeverities.indexOf(list("min_severity", q.min_severity, securitySeverities)![0]!))
      : list("severity", q.severity, securitySeverities),
    userId: user || null,
    since: time("since", q.since),
    until: time("until", q.until),
    cursor: positive("cursor", q.cursor, null, Number.MAX_SAFE_INTEGER),
    limit: positive("limit", q.limit, 100, 1000)!,
  };
}

/** A page of events, newest first, and the cursor of the next page (null on the last one). */
export async function listEvents(sql: Sql, q: EventQuery): Promise<{ events: EventRecord[]; next_cursor: string | null }> {
  const rows = await sql<(Omit<EventRecord, "at" | "id"> & { id: string; at: Date })[]>`
    select id, at, kind, severity, user_id, address, user_agent, details
    from plinth.security_events
    where ${q.kinds ? sql`kind = any(${q.kinds}::text[])` : sql`true`}
      and ${q.severities ? sql`severity = any(${q.severities}::text[])` : sql`true`}
      and ${q.userId ? sql`user_id = ${q.userId}::uuid` : sql`true`}
      and ${q.since ? sql`at >= ${q.since}` : sql`true`}
      and ${q.until ? sql`at < ${q.until}` : sql`true`}
      and ${q.cursor !== null ? sql`id < ${q.cursor}` : sql`true`}
    order by id desc
    limit ${q.limit + 1}`;
  const page = rows.slice(0, q.limit).map((r) => ({ ...r, id: String(r.id), at: r.at.toISOString() }));
  return { events: page, next_cursor: rows.length > q.limit ? page[page.length - 1]!.id : null };
}

export async function locksPage(sql: Sql, q: Record<string, string | undefined>): Promise<{ locks: LockRow[] }> {
  const all = q.all === "true" || q.all === "1";
  if (q.all !== undefined && !["true", "false", "1", "0", ""].includes(q.all)) throw AdminErrors.validation("all must be true or false");
  return { locks: await listLocks(sql, { all, limit: positive("limit", q.limit, 500, 5000)! }) };
}

/**
 * The key an admin names: as listed ("email:a@example.com", "address:203.0.113.9"), or a bare
 * email, phone number (+…) or username, normalised as sign-in normalises it.
 */
export function keyOfIdentifier(raw: string): string {
  const text = raw.trim();
  if (text === "" || text.length > 400) throw AdminErrors.validation("identifier must be a lock's identifier, e.g. email:alice@example.com");
  const m = /^(email|phone|username|user|address):(.+)$/.exec(text);
  if (m) {
    const [, kind, value] = m;
    if (kind === "email")
      return lockKey(
        "email",
        safe(() => normaliseEmail(value!), value!.toLowerCase()),
      );
    if (kind === "username")
      return lockKey(
        "username",
        safe(() => normaliseUsername(value!), value!.toLowerCase()),
      );
    return `${kind}:${value}`;
  }
  if (text.includes("@"))
    return lockKey(
      "email",
      safe(() => normaliseEmail(text), text.toLowerCase()),
    );
  if (text.startsWith("+")) return lockKey("phone", text.replace(/[^\d]/g, ""));
  return lockKey(
    "username",
    safe(() => normaliseUsername(text), text.toLowerCase()),
  );
}

const safe = (fn: () => string, fallback: string): string => {
  try {
    return fn();
  } catch {
    return fallback;
  }
};

/** Clears one lock (its failures and doubling too); 404 when there is none. */
export async function clearLock(sql: Sql, identifier: string): Promise<string> {
  const key = keyOfIdentifier(identifier);
  if ((await clearLocks(sql, [key])) === 0) throw AdminErrors.notFound("Lock");
  return key;
}
