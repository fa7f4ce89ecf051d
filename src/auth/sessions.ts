// Sessions and refresh-token families. A session row is a sign-in; its refresh tokens form a chain
// (each the child of the one it replaced). Rotation is one SQL statement, so the hot path is one
// round trip, and two concurrent exchanges of the same token serialise on its row lock: exactly one
// rotates, the other finds it revoked and, inside the reuse interval, gets the same successor.
// Reuse after the interval is treated as theft: the whole session (family) is deleted.
import type postgres from "postgres";
import type { Config } from "../config/schema.ts";
import type { Sql } from "../db/pool.ts";
import { raiseSecurityEvent } from "../admin/security/events.ts";
import { signJwt } from "../lib/jwt.ts";
import { childRefreshToken, randomToken, sha256Hex, type AuthKeys } from "./crypto.ts";
import { AuthErrors } from "./errors.ts";
import { USER_COLUMNS, findUser, isBanned, userJson, type UserRow } from "./users.ts";

type Q = Sql | postgres.TransactionSql;

/** GoTrue's authentication method names (the `amr` claim). */
export type AuthMethod = "password" | "otp" | "magiclink" | "recovery" | "invite" | "email/signup" | "sms/signup" | "email_change" | "anonymous" | "pkce" | "oauth";

export interface AmrEntry {
  method: string;
  timestamp: number;
}

export interface SessionJson {
  access_token: string;
  token_type: "bearer";
  expires_in: number;
  expires_at: number;
  refresh_token: string;
  user: Record<string, unknown>;
  weak_password?: { reasons: string[]; message: string };
}

export interface ClientInfo {
  ip: string | null;
  userAgent: string | null;
}

export interface SessionDeps {
  config: Config;
  secret: string;
  /** Signs access tokens with the project's current signing key (src/keys/ring.ts); absent: HS256 with `secret`. */
  signer?: { sign(claims: Record<string, unknown>): Promise<string> };
  /** The custom access token hook (src/auth/hooks/access-token.ts), when one is configured. */
  accessTokenHook?: (userId: string, claims: Record<string, unknown>, method: string) => Promise<Record<string, unknown>>;
  keys: AuthKeys;
  issuer: string;
}

export async function accessToken(deps: SessionDeps, user: UserRow, sessionId: string, aal: string, amr: AmrEntry[]) {
  const iat = Math.floor(Date.now() / 1000);
  const exp = iat + deps.config.jwt.expiry;
  const claims = {
    aud: user.aud || "authenticated",
    exp,
    iat,
    iss: deps.issuer,
    sub: user.id,
    email: user.email ?? "",
    phone: user.phone ?? "",
    app_metadata: user.raw_app_meta_data ?? {},
    user_metadata: user.raw_user_meta_data ?? {},
    role: user.role || "authenticated",
    aal,
    amr,
    session_id: sessionId,
    is_anonymous: user.is_anonymous,
  };
  const signed = deps.accessTokenHook ? await deps.accessTokenHook(user.id, claims, amr[amr.length - 1]?.method ?? "password") : claims;
  const token = deps.signer ? await deps.signer.sign(signed) : await signJwt(signed, deps.secret);
  return { token, exp };
}

export async function sessionJson(
  deps: SessionDeps,
  user: UserRow,
  sessionId: string,
  aal: string,
  amr: AmrEntry[],
  refreshToken: string,
): Promise<SessionJson> {
  const { token, exp } = await accessToken(deps, user, sessionId, aal, amr);
  return {
    access_token: token,
    token_type: "bearer",
    expires_in: deps.config.jwt.expiry,
    expires_at: exp,
    refresh_token: refreshToken,
    user: userJson(user),
  };
}

const inetOrNull = (ip: string | null): string | null => (ip && /^[0-9a-fA-F:.]+$/.test(ip) ? ip : null);

/** Starts a session for `userId` (a sign-in): session row, first refresh token, last_sign_in_at. */
export async function startSession(deps: SessionDeps, q: Q, userId: string, method: AuthMethod, client: ClientInfo): Promise<SessionJson> {
  const sessionId = crypto.randomUUID();
  const refresh = randomToken();
  const amr: AmrEntry[] = [{ method, timestamp: Math.floor(Date.now() / 1000) }];
  await q`
    with s as (
      insert into auth.sessions (id, user_id, created_at, updated_at, aal, amr, user_agent, ip)
      values (${sessionId}, ${userId}, now(), now(), 'aal1', ${q.json(amr as unknown as postgres.JSONValue)},
              ${client.userAgent?.slice(0, 512) ?? null}, ${inetOrNull(client.ip)}::inet)
      returning id),
    r as (
      insert into auth.refresh_tokens (token, user_id, session_id, revoked, created_at, updated_at)
      select ${sha256Hex(refresh)}, ${userId}, s.id, false, now(), now() from s returning id),
    u as (
      update auth.users set last_sign_in_at = now(), updated_at = now() where id = ${userId} returning id),
    i as (
      update auth.identities set last_sign_in_at = now() where user_id = ${userId} returning id)
    select (select count(*) from r) as r, (select count(*) from u) as u, (select count(*) from i) as i`;
  const user = await findUser(q, { id: userId });
  if (!user) throw AuthErrors.userNotFound();
  return sessionJson(deps, user, sessionId, "aal1", amr, refresh);
}

type RotatedRow = UserRow & { session_id: string; aal: string; amr: AmrEntry[] };

/**
 * Exchanges a refresh token for a new session JSON. The fast path is one statement: revoke the
 * presented token, insert its successor, touch the session, and read the user, all guarded by the
 * session's expiry and the user's ban.
 */
export async function refreshSession(
  deps: SessionDeps,
  sql: Sql,
  presented: string,
  reuseIntervalSeconds: number,
  client?: ClientInfo,
): Promise<SessionJson> {
  const hash = sha256Hex(presented);
  const child = childRefreshToken(deps.keys, presented);
  // USER_COLUMNS is our own fixed fragment; every value is a bind parameter.
  const rows = (await sql.unsafe(
    `with old as (
       update auth.refresh_tokens t set revoked = true, updated_at = now()
       from auth.sessions s, auth.users u
       where t.token = $1 and t.revoked = false and s.id = t.session_id and u.id = s.user_id
         and (s.not_after is null or s.not_after > now())
         and (u.banned_until is null or u.banned_until <= now()) and u.deleted_at is null
       returning t.token, t.user_id, t.session_id),
     fresh as (
       insert into auth.refresh_tokens (token, user_id, session_id, parent, revoked, created_at, updated_at)
       select $2, old.user_id, old.session_id, old.token, false, now(), now() from old
       returning session_id),
     sess as (
       update auth.sessions s set refreshed_at = now() at time zone 'utc', updated_at = now()
       from fresh where s.id = fresh.session_id
       returning s.id, s.aal, s.amr)
     select ${USER_COLUMNS}, sess.id as session_id, sess.aal::text as aal, sess.amr
     from sess join old on old.session_id = sess.id join auth.users u on u.id = old.user_id::uuid`,
    [hash, sha256Hex(child)],
  )) as RotatedRow[];
  const row = rows[0];
  if (row) return sessionJson(deps, row, row.session_id, row.aal, row.amr, child);
  return refreshSlowPath(deps, sql, presented, hash, reuseIntervalSeconds, client);
}

/** Why the fast path found nothing: unknown, expired, banned, or a revoked token being reused. */
async function refreshSlowPath(
  deps: SessionDeps,
  sql: Sql,
  presented: string,
  hash: string,
  reuseIntervalSeconds: number,
  client?: ClientInfo,
): Promise<SessionJson> {
  const [tok] = await sql<
    { id: string; session_id: string | null; revoked: boolean; revoked_for: number; not_after: Date | null; user_id: string; aal: string; amr: AmrEntry[] }[]
  >`
    select t.id, t.session_id, t.revoked, extract(epoch from now() - t.updated_at)::float8 as revoked_for,
           s.not_after, s.user_id, s.aal::text as aal, s.amr
    from auth.refresh_tokens t join auth.sessions s on s.id = t.session_id
    where t.token = ${hash}`;
  if (!tok) throw AuthErrors.refreshNotFound();
  if (tok.not_after && tok.not_after.getTime() <= Date.now()) throw AuthErrors.sessionExpired();
  const user = await findUser(sql, { id: tok.user_id });
  if (!user || user.deleted_at) throw AuthErrors.refreshNotFound();
  if (isBanned(user)) throw AuthErrors.userBanned();
  if (!tok.revoked) {
    // Not revoked, yet the fast path did not take it: only a race with a concurrent deletion.
    throw AuthErrors.refreshNotFound();
  }
  if (tok.revoked_for <= reuseIntervalSeconds) {
    // A retry inside the grace interval: walk the chain from the presented token to the live one.
    const family = await sql<{ token: string; revoked: boolean }[]>`
      select token, revoked from auth.refresh_tokens where session_id = ${tok.session_id} and id > ${tok.id}`;
    const byHash = new Map(family.map((f) => [f.token, f.revoked]));
    let current = presented;
    for (let i = 0; i < family.length; i++) {
      current = childRefreshToken(deps.keys, current);
      const revoked = byHash.get(sha256Hex(current));
      if (revoked === undefined) break;
      if (!revoked) return sessionJson(deps, user, tok.session_id!, tok.aal, tok.amr, current);
    }
  }
  // Reuse of a spent token: someone else has it. End the whole family.
  await sql`delete from auth.sessions where id = ${tok.session_id}`;
  await raiseSecurityEvent(sql, {
    kind: "refresh_token_reuse",
    severity: "high",
    userId: tok.user_id,
    address: client?.ip ?? null,
    userAgent: client?.userAgent ?? null,
    details: { session_id: tok.session_id, revoked_seconds_ago: Math.round(tok.revoked_for), session_ended: true },
  });
  throw AuthErrors.refreshAlreadyUsed();
}

/**
 * Raises a live session to aal2 after a second factor (GoTrue's updateMFASessionAndClaims): the
 * session row takes aal2, the factor and the method (one `amr` entry per method, newest first, also
 * recorded in auth.mfa_amr_claims), its refresh tokens are revoked and a fresh one is issued, and the
 * user's other sessions still at aal1 are ended. Runs inside the caller's transaction.
 */
export async function elevateSession(
  deps: SessionDeps,
  tx: Q,
  userId: string,
  sessionId: string,
  method: string,
  factorId: string | null,
): Promise<SessionJson> {
  const [sess] = await tx<{ amr: AmrEntry[] }[]>`
    select amr from auth.sessions where id = ${sessionId} and user_id = ${userId}
      and (not_after is null or not_after > now()) for update`;
  if (!sess) throw AuthErrors.sessionNotFound();
  const now = Math.floor(Date.now() / 1000);
  const amr: AmrEntry[] = [{ method, timestamp: now }, ...(sess.amr ?? []).filter((a) => a.method !== method)].sort((a, b) => b.timestamp - a.timestamp);
  const refresh = randomToken();
  await tx`update auth.sessions set aal = 'aal2', factor_id = coalesce(${factorId}::uuid, factor_id),
             amr = ${tx.json(amr as unknown as postgres.JSONValue)}, updated_at = now()
           where id = ${sessionId}`;
  await tx`insert into auth.mfa_amr_claims (session_id, authentication_method, created_at, updated_at)
           values (${sessionId}, ${method}, now(), now())
           on conflict (session_id, authentication_method) do update set updated_at = now()`;
  await tx`update auth.refresh_tokens set revoked = true, updated_at = now() where session_id = ${sessionId} and revoked = false`;
  await tx`insert into auth.refresh_tokens (token, user_id, session_id, revoked, created_at, updated_at)
           values (${sha256Hex(refresh)}, ${userId}, ${sessionId}, false, now(), now())`;
  await tx`delete from auth.sessions where user_id = ${userId} and id <> ${sessionId} and aal = 'aal1'`;
  const user = await findUser(tx, { id: userId });
  if (!user) throw AuthErrors.userNotFound();
  return sessionJson(deps, user, sessionId, "aal2", amr, refresh);
}

export type LogoutScope = "global" | "local" | "others";

export async function endSessions(sql: Sql, userId: string, sessionId: string, scope: LogoutScope): Promise<void> {
  if (scope === "local") await sql`delete from auth.sessions where id = ${sessionId} and user_id = ${userId}`;
  else if (scope === "others") await sql`delete from auth.sessions where user_id = ${userId} and id <> ${sessionId}`;
  else await sql`delete from auth.sessions where user_id = ${userId}`;
}
