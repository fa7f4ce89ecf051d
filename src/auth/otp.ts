// One-time tokens: each issued row carries a numeric code (typed by the user) and a link token (in
// the e-mailed link), both stored hashed. One live row per user and purpose (a new one replaces
// the old), an expiry, single use, and a bounded number of wrong codes before the row is burnt.
import type postgres from "postgres";
import type { Config } from "../config/schema.ts";
import type { Sql } from "../db/pool.ts";
import { codeHash, numericCode, randomToken, safeEqual, sha256Hex, type AuthKeys } from "./crypto.ts";

type Q = Sql | postgres.TransactionSql;

export type TokenType =
  | "confirmation_token"
  | "recovery_token"
  | "email_change_token_new"
  | "email_change_token_current"
  | "phone_change_token"
  | "reauthentication_token";

/** The verification types clients send to /verify. */
export const VERIFY_TYPES = ["signup", "invite", "magiclink", "recovery", "email_change", "email", "sms", "phone_change"] as const;
export type VerifyType = (typeof VERIFY_TYPES)[number];

/** Which stored token types a /verify type may consume. */
export const ACCEPTS: Record<VerifyType, TokenType[]> = {
  signup: ["confirmation_token"],
  invite: ["confirmation_token"],
  magiclink: ["recovery_token", "confirmation_token"],
  recovery: ["recovery_token"],
  email: ["confirmation_token", "recovery_token"],
  email_change: ["email_change_token_new", "email_change_token_current"],
  sms: ["confirmation_token"],
  phone_change: ["phone_change_token"],
};

/**
 * Link tokens of a PKCE flow start with this (as GoTrue's do), so GET /verify knows the flow type
 * even when the token is unknown or spent, and can put an error in the query string as well.
 */
export const PKCE_PREFIX = "pkce_";

export const isPkceLinkToken = (token: string | undefined): boolean => token !== undefined && token.startsWith(PKCE_PREFIX);

export interface IssuedToken {
  id: string;
  code: string;
  linkToken: string;
}

export interface OtpDeps {
  config: Config;
  keys: AuthKeys;
}

/** Issues (or replaces) the user's token of `type`, sent to `relatesTo` (an email or a phone). */
export async function issueToken(
  deps: OtpDeps,
  q: Q,
  userId: string,
  type: TokenType,
  relatesTo: string,
  flowStateId: string | null = null,
): Promise<IssuedToken> {
  const code = numericCode(deps.config.auth.otp.length);
  const linkToken = flowStateId ? `${PKCE_PREFIX}${randomToken()}` : randomToken();
  const id = crypto.randomUUID();
  const [row] = await q<{ id: string }[]>`
    insert into auth.one_time_tokens (id, user_id, token_type, token_hash, relates_to, link_hash, attempts, expires_at, flow_state_id, created_at, updated_at)
    values (${id}, ${userId}, ${type}, ${codeHash(deps.keys, userId, type, code)}, ${relatesTo}, ${sha256Hex(linkToken)}, 0,
            now() + make_interval(secs => ${deps.config.auth.otp.expiry}), ${flowStateId}, now(), now())
    on conflict (user_id, token_type) do update set
      id = excluded.id, token_hash = excluded.token_hash, relates_to = excluded.relates_to, link_hash = excluded.link_hash,
      attempts = 0, expires_at = excluded.expires_at, flow_state_id = excluded.flow_state_id,
      created_at = excluded.created_at, updated_at = excluded.updated_at
    returning id`;
  return { id: row!.id, code, linkToken };
}

export async function deleteToken(q: Q, id: string): Promise<void> {
  await q`delete from auth.one_time_tokens where id = ${id}`;
}

export interface ConsumedToken {
  userId: string;
  tokenType: TokenType;
  relatesTo: string;
  flowStateId: string | null;
}

/**
 * Consumes the token behind a link (the client's `token_hash`, or `token` on GET /verify). Link
 * tokens carry 256 bits, so a lookup by hash is all it takes. Null when there is no such live token.
 */
export async function consumeLinkToken(tx: Q, linkToken: string, accepts: TokenType[]): Promise<ConsumedToken | null> {
  const rows = await tx<{ user_id: string; token_type: TokenType; relates_to: string; flow_state_id: string | null }[]>`
    delete from auth.one_time_tokens
    where link_hash = ${sha256Hex(linkToken)} and token_type = any(${accepts}::auth.one_time_token_type[]) and expires_at > now()
    returning user_id, token_type::text as token_type, relates_to, flow_state_id`;
  const row = rows[0];
  if (!row) return null;
  return { userId: row.user_id, tokenType: row.token_type, relatesTo: row.relates_to, flowStateId: row.flow_state_id };
}

/**
 * Consumes a numeric code the user typed, sent to one of `relatesTo` (an address or a number, or
 * both addresses of an email change). A wrong code counts against every live candidate row of the
 * user; a row at the attempt limit is deleted. Null on failure: the caller must still commit, so
 * that the attempt is counted, and answer otp_expired after.
 */
export async function consumeCode(
  deps: OtpDeps,
  tx: Q,
  userId: string,
  relatesTo: string | readonly string[],
  code: string,
  accepts: TokenType[],
): Promise<ConsumedToken | null> {
  const targets = typeof relatesTo === "string" ? [relatesTo] : [...relatesTo];
  const rows = await tx<{ id: string; token_type: TokenType; token_hash: string; relates_to: string; flow_state_id: string | null }[]>`
    select id, token_type::text as token_type, token_hash, relates_to, flow_state_id from auth.one_time_tokens
    where user_id = ${userId} and relates_to = any(${targets}::text[]) and token_type = any(${accepts}::auth.one_time_token_type[])
      and expires_at > now() and attempts < ${deps.config.auth.otp.maxAttempts}
    for update`;
  // Compare against every candidate (constant work whether or not the first one matches).
  let match: (typeof rows)[number] | undefined;
  for (const r of rows) if (safeEqual(codeHash(deps.keys, userId, r.token_type, code), r.token_hash) && !match) match = r;
  if (!match) {
    if (rows.length > 0) {
      const ids = rows.map((r) => r.id);
      await tx`update auth.one_time_tokens set attempts = attempts + 1, updated_at = now() where id = any(${ids}::uuid[])`;
      await tx`delete from auth.one_time_tokens where id = any(${ids}::uuid[]) and attempts >= ${deps.config.auth.otp.maxAttempts}`;
    }
    return null;
  }
  await tx`delete from auth.one_time_tokens where id = ${match.id}`;
  return { userId, tokenType: match.token_type, relatesTo: match.relates_to, flowStateId: match.flow_state_id };
}

/** Deletes expired tokens, stale PKCE flows and long-revoked refresh tokens. */
export async function sweepExpired(sql: Sql, config: Config): Promise<void> {
  await sql`delete from auth.one_time_tokens where expires_at < now()`;
  await sql`delete from auth.flow_state where created_at < now() - make_interval(secs => ${config.auth.otp.expiry + 3600})`;
  await sql`delete from auth.refresh_tokens where revoked and updated_at < now() - interval '1 day'`;
  await sql`delete from auth.sessions where not_after is not null and not_after < now()`;
}
