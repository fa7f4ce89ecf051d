// Admin sessions (plinth.admin_sessions): separate from end users' GoTrue sessions, opaque tokens
// stored as digests (tokens.ts), so that a logout, a revocation, a removed account or a changed
// level applies on the next request on every node.
//
// The check is ONE statement on the token digest's unique index: it refuses an expired (absolute
// lifetime) or idle session, records last_seen_at (when it is more than a few seconds old: see
// touchSeconds), and returns the account's current level, tables and email. Each node keeps what it
// resolved in cache.ts, which LISTEN/NOTIFY keeps exact (a logout or a level change empties every
// node's cache before the call that made it answers).
//
// Traps:
// - The idle timeout is read from the config at each check (a shorter timeout applies to existing
//   sessions at once); the absolute end is fixed at sign-in (expires_at).
// - The limit of concurrent sessions is kept at sign-in, under the account's row lock, so two
//   sign-ins at once cannot both stay under it; the oldest sessions end first.
// - A banned or deleted user's sessions are refused (an admin is still an auth.users user).
import type postgres from "postgres";
import type { Config } from "../../config/schema.ts";
import type { Sql } from "../../db/pool.ts";
import { isUuid } from "../../auth/users.ts";
import { adminActor, emergencyActor, type AdminActor, type AdminLevel } from "../authorize.ts";
import type { ResolvedSession } from "./cache.ts";
import { newSecret, secretDigest, SESSION_TOKEN_PREFIX } from "./tokens.ts";

type Q = Sql | postgres.TransactionSql;

export interface SessionSettings {
  idleSeconds: number;
  lifetimeSeconds: number;
  maxSessions: number;
}

/** An emergency session is for repairs: it never lives longer than this, whatever the config says. */
export const EMERGENCY_SESSION_SECONDS = 3600;

export const sessionSettings = (config: Config): SessionSettings => ({
  idleSeconds: config.admin.sessionIdleTimeout,
  lifetimeSeconds: config.admin.sessionLifetime,
  maxSessions: config.admin.maxSessions,
});

export interface ClientInfo {
  ip: string | null;
  userAgent: string | null;
}

export interface StartedSession {
  id: string;
  token: string;
  expires_at: string;
}

export type SessionOwner = { adminId: string } | { emergencyCodeId: string };

/** Opens a session for an admin (or an emergency code). Run inside the sign-in's transaction. */
export async function openSession(
  tx: postgres.TransactionSql,
  settings: SessionSettings,
  owner: SessionOwner,
  method: "password" | "mfa" | "emergency",
  client: ClientInfo,
): Promise<StartedSession> {
  const token = newSecret(SESSION_TOKEN_PREFIX);
  const adminId = "adminId" in owner ? owner.adminId : null;
  const lifetime = adminId ? settings.lifetimeSeconds : Math.min(settings.lifetimeSeconds, EMERGENCY_SESSION_SECONDS);
  if (adminId) {
    // Serialises this account's sign-ins (the limit below), and sweeps its ended sessions.
    await tx`select 1 from plinth.admins where user_id = ${adminId} for no key update`;
    await tx`delete from plinth.admin_sessions where admin_id = ${adminId}
             and (expires_at <= now() or last_seen_at <= now() - make_interval(secs => ${settings.idleSeconds}))`;
  }
  const [row] = await tx<{ id: string; expires_at: Date }[]>`
    insert into plinth.admin_sessions (admin_id, emergency_code_id, token_hash, method, created_at, last_seen_at, expires_at, ip, user_agent)
    values (${adminId}, ${"emergencyCodeId" in owner ? owner.emergencyCodeId : null}, ${secretDigest(token)}, ${method},
            clock_timestamp(), clock_timestamp(), clock_timestamp() + make_interval(secs => ${lifetime}),
            ${client.ip}, ${client.userAgent?.slice(0, 512) ?? null})
    returning id, expires_at`;
  if (adminId) {
    await tx`delete from plinth.admin_sessions where admin_id = ${adminId} and id not in (
               select id from plinth.admin_sessions where admin_id = ${adminId}
               order by created_at desc, id desc limit ${settings.maxSessions})`;
  }
  return { id: row!.id, token, expires_at: row!.expires_at.toISOString() };
}

interface ResolvedRow {
  id: string;
  expires_at: Date;
  last_seen_at: Date;
  admin_id: string | null;
  emergency_code_id: string | null;
  level: AdminLevel | null;
  tables: string[] | null;
  email: string | null;
  usable: boolean;
}

/**
 * The actor behind an admin session token, or null when the session is unknown, ended (logout,
 * revocation, removal), idle for too long or past its lifetime, or its user is banned or deleted.
 */
export async function resolveSession(sql: Sql, settings: SessionSettings, token: string): Promise<AdminActor | null> {
  return (await lookupSession(sql, settings, token))?.actor ?? null;
}

/** resolveSession with the session's absolute end and last-seen time (what cache.ts keeps). */
export async function lookupSession(sql: Sql, settings: SessionSettings, token: string): Promise<ResolvedSession | null> {
  // Read-mostly: last_seen_at is bumped only when it is older than the touch interval, so most
  // checks write nothing (no transaction id, no WAL flush to wait for at commit: a write per request
  // cost more than a millisecond of wall time, measured by bench/admin.ts).
  const [row] = await sql<ResolvedRow[]>`
    with s as (
      select id, admin_id, emergency_code_id, last_seen_at, expires_at from plinth.admin_sessions
      where token_hash = ${secretDigest(token)} and expires_at > now()
        and last_seen_at > now() - make_interval(secs => ${settings.idleSeconds})),
    touched as (
      update plinth.admin_sessions t set last_seen_at = now() from s
      where t.id = s.id and s.last_seen_at < now() - make_interval(secs => ${touchSeconds(settings)})
      returning t.id)
    select s.id, s.admin_id, s.emergency_code_id, s.expires_at, s.last_seen_at, a.level, a.tables, u.email,
           (s.admin_id is null or (u.deleted_at is null and (u.banned_until is null or u.banned_until <= now()))) as usable
    from s left join plinth.admins a on a.user_id = s.admin_id left join auth.users u on u.id = s.admin_id`;
  if (!row || !row.usable) return null;
  const times = { expiresAt: row.expires_at.getTime(), lastSeenAt: row.last_seen_at.getTime() };
  if (row.emergency_code_id) return { actor: emergencyActor(row.id, row.emergency_code_id), ...times };
  if (!row.admin_id || !row.level) return null;
  return { actor: adminActor({ id: row.admin_id, email: row.email, level: row.level, tables: row.tables ?? [] }, "admin_session", row.id), ...times };
}

/** Records that a session was used (cache.ts calls it at most every touchSeconds per session). */
export async function touchSession(sql: Sql, settings: SessionSettings, token: string): Promise<void> {
  await sql`update plinth.admin_sessions set last_seen_at = now()
            where token_hash = ${secretDigest(token)} and last_seen_at < now() - make_interval(secs => ${touchSeconds(settings)})`;
}

/**
 * How stale last_seen_at may get before a request records it again: a twentieth of the idle timeout,
 * at most 15 s. A session can therefore end up to that much before a full idle timeout has passed
 * since its very last request, never after.
 */
export const touchSeconds = (settings: SessionSettings): number => Math.min(15, settings.idleSeconds / 20);

/** The session an actor signed in with, if any. */
export const sessionIdOf = (actor: AdminActor): string | null => actor.admin?.sessionId ?? actor.emergency?.sessionId ?? null;

export interface SessionInfo {
  id: string;
  admin_id: string | null;
  email: string | null;
  level: AdminLevel | null;
  method: string;
  emergency: boolean;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  ip: string | null;
  user_agent: string | null;
  /** The session the request itself came with. */
  current: boolean;
}

interface SessionRow {
  id: string;
  admin_id: string | null;
  email: string | null;
  level: AdminLevel | null;
  method: string;
  created_at: Date;
  last_seen_at: Date;
  expires_at: Date;
  ip: string | null;
  user_agent: string | null;
}

/** Live sessions: every admin's when `all`, else those of account `adminId` (or only `sessionId`). */
export async function listSessions(
  sql: Sql,
  settings: SessionSettings,
  scope: { all: true } | { adminId: string } | { sessionId: string },
  currentId: string | null,
): Promise<SessionInfo[]> {
  const which = "all" in scope ? sql`true` : "adminId" in scope ? sql`s.admin_id = ${scope.adminId}` : sql`s.id = ${scope.sessionId}`;
  const rows = await sql<SessionRow[]>`
    select s.id, s.admin_id, u.email, a.level, s.method, s.created_at, s.last_seen_at, s.expires_at, s.ip, s.user_agent
    from plinth.admin_sessions s
      left join plinth.admins a on a.user_id = s.admin_id
      left join auth.users u on u.id = s.admin_id
    where ${which} and s.expires_at > now() and s.last_seen_at > now() - make_interval(secs => ${settings.idleSeconds})
    order by s.created_at desc, s.id`;
  return rows.map((r) => ({
    id: r.id,
    admin_id: r.admin_id,
    email: r.email,
    level: r.admin_id ? r.level : "system_admin",
    method: r.method,
    emergency: r.admin_id === null,
    created_at: r.created_at.toISOString(),
    last_seen_at: r.last_seen_at.toISOString(),
    expires_at: r.expires_at.toISOString(),
    ip: r.ip,
    user_agent: r.user_agent,
    current: r.id === currentId,
  }));
}

/** Ends session `id` when it is in the caller's scope; false when there is no such session there. */
export async function endSession(sql: Sql, id: string, scope: { all: true } | { adminId: string } | { sessionId: string }): Promise<boolean> {
  if (!isUuid(id)) return false;
  const which = "all" in scope ? sql`true` : "adminId" in scope ? sql`admin_id = ${scope.adminId}` : sql`id = ${scope.sessionId}`;
  const rows = await sql`delete from plinth.admin_sessions where id = ${id} and ${which} returning id`;
  return rows.length > 0;
}
