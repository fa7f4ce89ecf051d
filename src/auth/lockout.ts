// Brute-force protection: failed attempts counted per identifier and per client address, in
// PostgreSQL (plinth.auth_lockouts, migration 0014) so that every node sees the same counts and
// locks. Used by password sign-in (email, phone, username), typed OTP codes, MFA and recovery codes
// on /auth/v1, and by the admin sign-in, which signs in the same users.
//
// Rules and traps:
// - An identifier is counted whether or not an account exists, and a lock answers the same for
//   both (429 user_locked with Retry-After): the answers never tell which identifiers exist. The
//   flows check the lock after the work they always do (finding the user, one password hash), so a
//   locked answer has the same shape and cost for a real and an invented identifier.
// - A lock refuses correct secrets too: otherwise the lock would be an oracle ("locked" for wrong
//   guesses, a session for the right one).
// - Cost on success: one indexed statement (checkGate), which also answers whether the user agent
//   and address were seen before (new_device). Anything more runs only when it has work: clearing a
//   row that holds failures, recording a device not seen before.
// - Locks double (baseLock, 2×, 4× … up to maxLock) with each further lock; a success, an admin,
//   or a sign-in through the account's own mailbox or phone (verify.ts) clears them.
// - Address rows never lock (many users share an address behind a NAT); a burst of failures from
//   one address raises a failure_burst event, once per window.
import type postgres from "postgres";
import { raiseSecurityEvent } from "../admin/security/events.ts";
import type { Config } from "../config/schema.ts";
import type { Sql } from "../db/pool.ts";
import { sha256Hex } from "./crypto.ts";
import type { Lookup, UserRow } from "./users.ts";

type Q = Sql | postgres.TransactionSql;

export interface LockoutSettings {
  enabled: boolean;
  maxAttempts: number;
  windowSeconds: number;
  baseLockSeconds: number;
  maxLockSeconds: number;
  burstThreshold: number;
}

export const lockoutSettings = (config: Config): LockoutSettings => {
  const l = config.auth.lockout;
  return {
    enabled: l.enabled,
    maxAttempts: l.maxAttempts,
    windowSeconds: l.window,
    baseLockSeconds: Math.min(l.baseLock, l.maxLock),
    maxLockSeconds: l.maxLock,
    burstThreshold: l.burstThreshold,
  };
};

export interface LockoutDeps {
  sql: Q;
  lockout: LockoutSettings;
  log?: { warn(msg: string, fields?: object): void };
}

/** The deps of a flow that has a connection, the config and a logger (auth and admin contexts). */
export const lockoutDeps = (sql: Q, config: Config, log?: LockoutDeps["log"]): LockoutDeps => ({ sql, lockout: lockoutSettings(config), log });

/** Users that do not exist are checked under this id, so the statement is the same either way. */
export const NO_USER = "00000000-0000-0000-0000-000000000000";

/**
 * The key of an identifier as typed, for attempts whose identifier does not normalise (it names
 * nobody, but is still counted: a malformed identifier must not be a way around the count).
 */
export const rawKey = (kind: IdentifierKind, value: string): string => lockKey(kind, value.trim().toLowerCase().slice(0, 320));

/** Where an attempt came from. */
export interface AttemptClient {
  ip: string | null;
  userAgent: string | null;
}

export type IdentifierKind = "email" | "phone" | "username" | "user";

/** The key of a normalised identifier ("email:a@example.com"), or of a user's second factors ("user:<id>"). */
export const lockKey = (kind: IdentifierKind, value: string): string => `${kind}:${value}`;

/** The key of a sign-in lookup (already normalised by the caller). */
export function keyOfLookup(lookup: Lookup | null): string | null {
  if (!lookup) return null;
  if ("email" in lookup) return lockKey("email", lookup.email);
  if ("phone" in lookup) return lockKey("phone", lookup.phone);
  if ("username" in lookup) return lockKey("username", lookup.username);
  return lockKey("user", lookup.id);
}

/** Every key a user can be locked under: what a sign-in through its own mailbox or phone clears. */
export function keysOfUser(user: Pick<UserRow, "id" | "email" | "phone" | "username">): string[] {
  const keys = [lockKey("user", user.id)];
  if (user.email) keys.push(lockKey("email", user.email));
  if (user.phone) keys.push(lockKey("phone", user.phone));
  if (user.username) keys.push(lockKey("username", user.username));
  return keys;
}

/** What the one statement before a decision found. */
export interface Gate {
  /** Seconds until the identifier's lock ends; 0 when it is not locked. */
  retryAfter: number;
  /** Whether the identifier has a row (failures, or past locks whose doubling a success resets). */
  counted: boolean;
  /** Whether the user agent and address were seen before for the user (null: not asked). */
  device: { userAgent: boolean; address: boolean; any: boolean } | null;
}

const OPEN: Gate = { retryAfter: 0, counted: false, device: null };

/** Inet-looking text only: the address is stored and compared as given by the gateway. */
const addressOf = (ip: string | null): string | null => (ip && ip.length <= 64 && /^[0-9a-fA-F:.]+$/.test(ip) ? ip : null);

/**
 * The lock on `key` and, when `device` is given, whether its user agent and address are known:
 * one statement, primary-key lookups only. No statement at all when there is nothing to ask.
 */
export async function checkGate(deps: LockoutDeps, key: string | null, device?: { userId: string; client: AttemptClient }): Promise<Gate> {
  const k = deps.lockout.enabled ? key : null;
  if (k === null && !device) return OPEN;
  const ua = device ? sha256Hex(device.client.userAgent ?? "") : null;
  const addr = device ? addressOf(device.client.ip) : null;
  const [row] = await deps.sql<{ retry_after: number; counted: boolean; ua_seen: boolean; addr_seen: boolean; any_seen: boolean }[]>`
    select case when l.locked_until > now() then ceil(extract(epoch from (l.locked_until - now())))::int else 0 end as retry_after,
           l.key is not null as counted,
           exists (select 1 from plinth.auth_known_devices d where d.user_id = ${device?.userId ?? null}::uuid and d.kind = 'user_agent' and d.digest = ${ua}) as ua_seen,
           exists (select 1 from plinth.auth_known_devices d where d.user_id = ${device?.userId ?? null}::uuid and d.kind = 'address' and d.digest = ${addr}) as addr_seen,
           exists (select 1 from plinth.auth_known_devices d where d.user_id = ${device?.userId ?? null}::uuid) as any_seen
    from (select 1) as one left join plinth.auth_lockouts l on l.key = ${k}`;
  return {
    retryAfter: Math.max(0, row?.retry_after ?? 0),
    counted: !!row?.counted,
    device: device ? { userAgent: !!row?.ua_seen, address: addr === null || !!row?.addr_seen, any: !!row?.any_seen } : null,
  };
}

/** Failures recorded: whether this one took a lock (and for how long). */
export interface Recorded {
  lockedFor: number;
  failures: number;
}

/**
 * Counts one failed attempt against `key` (an identifier, may be null when the attempt named none,
 * e.g. a link token) and against the client's address; raises `lockout` when this failure took a
 * lock and `failure_burst` when the address crossed the burst threshold. Never throws: a failed
 * attempt is answered as such even if it could not be counted (logged).
 */
export async function recordFailure(
  deps: LockoutDeps,
  key: string | null,
  client: AttemptClient,
  context: { userId?: string | null; flow: string },
): Promise<Recorded> {
  if (!deps.lockout.enabled) return { lockedFor: 0, failures: 0 };
  const address = addressOf(client.ip);
  if (key === null && address === null) return { lockedFor: 0, failures: 0 };
  const s = deps.lockout;
  try {
    const [r] = await deps.sql<
      { failures: number | null; locked_for: number | null; newly_locked: boolean; locks: number | null; address_failures: number | null; burst: boolean }[]
    >`
      select r.failures, ceil(extract(epoch from (r.locked_until - now())))::int as locked_for, r.newly_locked, r.locks, r.address_failures, r.burst
      from plinth.lockout_record(${key}, ${address}, ${s.maxAttempts}, ${s.windowSeconds}, ${s.baseLockSeconds}, ${s.maxLockSeconds}, ${s.burstThreshold}) r`;
    if (r?.newly_locked) {
      await raiseSecurityEvent(
        deps.sql,
        {
          kind: "lockout",
          severity: "medium",
          userId: context.userId ?? null,
          address,
          userAgent: client.userAgent,
          details: { identifier: key, flow: context.flow, lock_seconds: r.locked_for, lock_number: r.locks, max_attempts: s.maxAttempts },
        },
        deps.log,
      );
    }
    if (r?.burst) {
      await raiseSecurityEvent(
        deps.sql,
        {
          kind: "failure_burst",
          severity: "high",
          address,
          userAgent: client.userAgent,
          details: { failures: r.address_failures, window_seconds: s.windowSeconds, last_identifier: key, flow: context.flow },
        },
        deps.log,
      );
    }
    return { lockedFor: r?.newly_locked ? (r.locked_for ?? 0) : 0, failures: r?.failures ?? 0 };
  } catch (err) {
    deps.log?.warn("lockout: failure not counted", { flow: context.flow, error: (err as Error).message });
    return { lockedFor: 0, failures: 0 };
  }
}

/** Clears the failures and locks of `keys` (a success, a sign-in through the account's mailbox, an admin). */
export async function clearLocks(q: Q, keys: readonly string[]): Promise<number> {
  if (keys.length === 0) return 0;
  const rows = await q`delete from plinth.auth_lockouts where key = any(${keys as string[]}::text[]) returning key`;
  return rows.length;
}

/**
 * After a successful sign-in: forgets the identifier's failures and past locks (only when it had
 * a row: the gate said so, no statement otherwise), and records a user agent or address not seen before, raising
 * new_device when the user had signed in from somewhere else before (a first sign-in is no news).
 */
export async function afterSuccess(deps: LockoutDeps, key: string | null, gate: Gate, userId: string, client: AttemptClient): Promise<void> {
  try {
    if (key !== null && gate.counted) await clearLocks(deps.sql, [key]);
    if (!gate.device || (gate.device.userAgent && gate.device.address)) return;
    const address = addressOf(client.ip);
    const kinds: string[] = [];
    const digests: string[] = [];
    if (!gate.device.userAgent) {
      kinds.push("user_agent");
      digests.push(sha256Hex(client.userAgent ?? ""));
    }
    if (!gate.device.address && address) {
      kinds.push("address");
      digests.push(address);
    }
    await deps.sql`
      insert into plinth.auth_known_devices (user_id, kind, digest)
      select ${userId}, k, d from unnest(${kinds}::text[], ${digests}::text[]) as t(k, d)
      on conflict do nothing`;
    if (gate.device.any) {
      await raiseSecurityEvent(
        deps.sql,
        {
          kind: "new_device",
          severity: "low",
          userId,
          address,
          userAgent: client.userAgent,
          details: { new_user_agent: !gate.device.userAgent, new_address: !gate.device.address },
        },
        deps.log,
      );
    }
  } catch (err) {
    // The sign-in itself succeeded; bookkeeping must not undo it.
    deps.log?.warn("lockout: after-success bookkeeping failed", { error: (err as Error).message });
  }
}

// The admin view: locks and counts, newest first.
export interface LockRow {
  identifier: string;
  kind: "identifier" | "address";
  failures: number;
  locked: boolean;
  locked_until: string | null;
  locks: number;
  last_failure_at: string;
  last_address: string | null;
}

export async function listLocks(sql: Sql, opts: { all: boolean; limit: number }): Promise<LockRow[]> {
  const rows = await sql<
    { key: string; failures: number; locked_until: Date | null; locked: boolean; locks: number; last_failure_at: Date; last_address: string | null }[]
  >`
    select key, failures, locked_until, coalesce(locked_until > now(), false) as locked, locks, last_failure_at, last_address
    from plinth.auth_lockouts
    where ${opts.all ? sql`true` : sql`locked_until > now()`}
    order by last_failure_at desc, key
    limit ${opts.limit}`;
  return rows.map((r) => ({
    identifier: r.key,
    kind: r.key.startsWith("address:") ? "address" : "identifier",
    failures: r.failures,
    locked: r.locked,
    locked_until: r.locked && r.locked_until ? r.locked_until.toISOString() : null,
    locks: r.locks,
    last_failure_at: r.last_failure_at.toISOString(),
    last_address: r.last_address,
  }));
}

/** Drops rows with nothing left to say: unlocked and quiet for a day (their doubling resets). */
export async function sweepLocks(sql: Sql): Promise<void> {
  await sql`delete from plinth.auth_lockouts where (locked_until is null or locked_until < now()) and last_failure_at < now() - interval '1 day'`;
}
