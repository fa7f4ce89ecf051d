// Admin sign-in: POST /admin/v1/auth/login (email or username, and password), then, for an account
// with a verified TOTP factor, POST /admin/v1/auth/mfa (the challenge token and a TOTP or recovery
// code). Either ends with an admin session (sessions/store.ts).
//
// What the answers must not tell: whether an account exists, or is an admin. An unknown address,
// a wrong password, and a right password of a user who is no admin (or is banned) all answer
// invalid_credentials after the same work (one argon2 verification, against a dummy hash when
// there is no user). Only a caller who knows the password learns more (MFA needed, MFA to enroll).
//
// Challenges are single-use, live CHALLENGE_SECONDS, and burn after MAX_CHALLENGE_ATTEMPTS wrong
// codes; wrong codes are counted in a transaction that commits although the request fails.
import type postgres from "postgres";
import { normaliseEmail, normaliseUsername } from "../../auth/input.ts";
import { verifyPassword } from "../../auth/passwords.ts";
import type { AdminLevel } from "../authorize.ts";
import type { AdminContext } from "../context.ts";
import { AdminErrors } from "../errors.ts";
import { openSession, type ClientInfo, type StartedSession } from "../sessions/store.ts";
import { CHALLENGE_TOKEN_PREFIX, isSecretOf, newSecret, secretDigest } from "../sessions/tokens.ts";
import { hasVerifiedTotp, useSecondFactor } from "./second-factor.ts";
import { raiseSecurityEvent } from "../security/events.ts";
import { checkGate, clearLocks, lockKey, lockoutDeps, rawKey, recordFailure } from "../../auth/lockout.ts";

/** The lockout key of the identifier tried (lockout.ts): the same keys as /auth/v1's password sign-in. */
function adminLockKey(by: { email: string } | { username: string }): string {
  try {
    return "email" in by ? lockKey("email", normaliseEmail(by.email)) : lockKey("username", normaliseUsername(by.username));
  } catch {
    return "email" in by ? rawKey("email", by.email) : rawKey("username", by.username);
  }
}

export const CHALLENGE_SECONDS = 300;
export const MAX_CHALLENGE_ATTEMPTS = 5;

export interface AdminIdentity {
  id: string | null;
  email: string | null;
  level: AdminLevel;
  tables: string[];
}

/** A finished sign-in: the wire body, and what the audit record names. */
export interface SignedIn {
  session: StartedSession;
  admin: AdminIdentity;
}

export type LoginOutcome = { signedIn: SignedIn } | { challenge: { challenge_token: string; expires_at: string }; adminId: string; email: string | null };

export const sessionBody = (s: SignedIn) => ({
  session_token: s.session.token,
  expires_at: s.session.expires_at,
  admin: { id: s.admin.id, email: s.admin.email, level: s.admin.level, tables: s.admin.tables },
});

/** One token per attempt from an address (sign-in, MFA step, emergency code). */
export function takeSignInToken(ctx: AdminContext, ip: string | null): void {
  const wait = ctx.signInLimit?.take(ip ?? "unknown") ?? 0;
  if (wait > 0) throw AdminErrors.rateLimited(wait);
}

interface CandidateRow {
  id: string;
  email: string | null;
  encrypted_password: string | null;
  level: AdminLevel | null;
  tables: string[] | null;
  usable: boolean;
}

export interface LoginInput {
  email?: unknown;
  username?: unknown;
  password?: unknown;
}

export async function passwordLogin(ctx: AdminContext, client: ClientInfo, input: LoginInput): Promise<LoginOutcome> {
  const given = [input.email, input.username].filter((v) => v !== undefined && v !== null && v !== "");
  if (given.length !== 1 || typeof given[0] !== "string") throw AdminErrors.validation("Sign in with either an email or a username (a string)");
  if (typeof input.password !== "string" || input.password === "") throw AdminErrors.validation("Sign in requires a password");
  if (input.password.length > 1024) throw AdminErrors.invalidCredentials();
  takeSignInToken(ctx, client.ip);
  const by = typeof input.email === "string" && input.email ? { email: input.email } : { username: given[0] };
  const row = await candidate(ctx, by);
  // Always one password verification, whoever the account is (or is not).
  const ok = await verifyPassword(row?.encrypted_password, input.password);
  // Brute-force protection, as on /auth/v1 (the same users, the same keys). Every invalid_credentials
  // answer counts, a right password of a non-admin too: otherwise when the lock comes would tell.
  const lockout = lockoutDeps(ctx.sql, ctx.config, ctx.log);
  const key = adminLockKey(by);
  const gate = await checkGate(lockout, key);
  if (gate.retryAfter > 0) {
    await recordFailure(lockout, null, client, { flow: "admin_password" });
    throw AdminErrors.userLocked(gate.retryAfter);
  }
  if (!row || !ok || !row.level || !row.usable) {
    await recordFailure(lockout, key, client, { userId: row?.id ?? null, flow: "admin_password" });
    throw AdminErrors.invalidCredentials();
  }
  if (gate.counted) await clearLocks(ctx.sql, [key]);
  const hasTotp = await hasVerifiedTotp(ctx.sql, row.id);
  if (hasTotp || ctx.requireMfa) {
    const token = newSecret(CHALLENGE_TOKEN_PREFIX);
    // The account's spent challenges go as a new one is made (used ones are deleted when used).
    await ctx.sql`delete from plinth.admin_challenges where admin_id = ${row.id} and expires_at <= now()`;
    const [c] = await ctx.sql<{ expires_at: Date }[]>`
      insert into plinth.admin_challenges (token_hash, admin_id, expires_at, ip)
      values (${secretDigest(token)}, ${row.id}, now() + make_interval(secs => ${CHALLENGE_SECONDS}), ${client.ip})
      returning expires_at`;
    const expires = c!.expires_at.toISOString();
    // MFA required and none enrolled: the same kind of challenge, spent on enrolment instead
    // (accounts/enrol-signin.ts), so the admin enrols right after the password (the console's path).
    if (!hasTotp) throw AdminErrors.mfaEnrollmentRequired({ enrollment_token: token, expires_at: expires });
    return { challenge: { challenge_token: token, expires_at: expires }, adminId: row.id, email: row.email };
  }
  const session = await ctx.sql.begin((tx) => openSession(tx, ctx.sessions, { adminId: row.id }, "password", client));
  return { signedIn: { session, admin: { id: row.id, email: row.email, level: row.level, tables: row.tables ?? [] } } };
}

/** The user an identifier names, with its admin row if any; a malformed identifier names nobody. */
async function candidate(ctx: AdminContext, by: { email: string } | { username: string }): Promise<CandidateRow | null> {
  let key: { email: string } | { username: string };
  try {
    key = "email" in by ? { email: normaliseEmail(by.email) } : { username: normaliseUsername(by.username) };
  } catch {
    return null;
  }
  const where = "email" in key ? ctx.sql`u.email = ${key.email} and u.is_sso_user = false` : ctx.sql`u.username = ${key.username}`;
  const [row] = await ctx.sql<CandidateRow[]>`
    select u.id, u.email, u.encrypted_password, a.level, a.tables,
           (u.deleted_at is null and (u.banned_until is null or u.banned_until <= now())) as usable
    from auth.users u left join plinth.admins a on a.user_id = u.id
    where ${where}`;
  return row ?? null;
}

type MfaOutcome = { ok: SignedIn; recovery: boolean; counted: boolean } | { fail: Error; countAgainst?: string };

export async function mfaLogin(ctx: AdminContext, client: ClientInfo, input: { challenge_token?: unknown; code?: unknown }): Promise<SignedIn> {
  if (typeof input.challenge_token !== "string" || typeof input.code !== "string" || input.code.length > 64) {
    throw AdminErrors.validation("The MFA step needs challenge_token and code (strings)");
  }
  takeSignInToken(ctx, client.ip);
  if (!isSecretOf(CHALLENGE_TOKEN_PREFIX, input.challenge_token)) throw AdminErrors.invalidChallenge();
  const digest = secretDigest(input.challenge_token);
  const code = input.code;
  const outcome = await ctx.sql.begin(async (tx): Promise<MfaOutcome> => {
    // Lock order: the account's row before the challenge's, as removing an admin takes them (the
    // removal cascades from plinth.admins to its challenges); the other way round could deadlock.
    const [peek] = await tx<{ admin_id: string }[]>`select admin_id from plinth.admin_challenges where token_hash = ${digest}`;
    if (!peek) return { fail: AdminErrors.invalidChallenge() };
    await tx`select 1 from plinth.admins where user_id = ${peek.admin_id} for no key update`;
    // The account's second factors are locked under the same key as on /auth/v1 (lockout.ts).
    const gate = await checkGate(lockoutDeps(tx, ctx.config, ctx.log), lockKey("user", peek.admin_id));
    if (gate.retryAfter > 0) return { fail: AdminErrors.userLocked(gate.retryAfter) };
    const [c] = await tx<{ id: string; admin_id: string; attempts: number; live: boolean }[]>`
      select id, admin_id, attempts, expires_at > now() as live from plinth.admin_challenges where token_hash = ${digest} for update`;
    if (!c) return { fail: AdminErrors.invalidChallenge() };
    if (!c.live || c.attempts >= MAX_CHALLENGE_ATTEMPTS) {
      await tx`delete from plinth.admin_challenges where id = ${c.id}`;
      return { fail: AdminErrors.invalidChallenge() };
    }
    const used = await useSecondFactor(tx, ctx.keys, c.admin_id, code);
    if (!used) {
      if (c.attempts + 1 >= MAX_CHALLENGE_ATTEMPTS) await tx`delete from plinth.admin_challenges where id = ${c.id}`;
      else await tx`update plinth.admin_challenges set attempts = attempts + 1 where id = ${c.id}`;
      return { fail: AdminErrors.mfaVerificationFailed(), countAgainst: c.admin_id };
    }
    if (gate.counted) await clearLocks(tx, [lockKey("user", c.admin_id)]);
    await tx`delete from plinth.admin_challenges where id = ${c.id}`;
    // The account as it is now: it may have been removed, demoted or banned since the password step.
    const admin = await currentAdmin(tx, c.admin_id);
    if (!admin) return { fail: AdminErrors.invalidCredentials() };
    const session = await openSession(tx, ctx.sessions, { adminId: c.admin_id }, "mfa", client);
    return { ok: { session, admin }, recovery: used === "recovery", counted: gate.counted };
  });
  if ("fail" in outcome) {
    if (outcome.countAgainst) {
      await recordFailure(lockoutDeps(ctx.sql, ctx.config, ctx.log), lockKey("user", outcome.countAgainst), client, {
        userId: outcome.countAgainst,
        flow: "admin_mfa",
      });
    }
    throw outcome.fail;
  }
  if (outcome.recovery) {
    await raiseSecurityEvent(
      ctx.sql,
      {
        kind: "recovery_code_used",
        severity: "medium",
        userId: outcome.ok.admin.id,
        address: client.ip,
        userAgent: client.userAgent,
        details: { via: "admin_sign_in" },
      },
      ctx.log,
    );
  }
  return outcome.ok;
}

async function currentAdmin(tx: postgres.TransactionSql, id: string): Promise<AdminIdentity | null> {
  const [row] = await tx<{ email: string | null; level: AdminLevel; tables: string[]; usable: boolean }[]>`
    select u.email, a.level, a.tables, (u.deleted_at is null and (u.banned_until is null or u.banned_until <= now())) as usable
    from plinth.admins a join auth.users u on u.id = a.user_id where a.user_id = ${id}`;
  return row && row.usable ? { id, email: row.email, level: row.level, tables: row.tables } : null;
}
