// Multi-factor authentication (GoTrue's /factors API, TOTP only): enroll, challenge, verify (which
// raises the session to aal2), unenroll; the admin's view of a user's factors; and Plinth's
// recovery codes (ten single-use codes that stand in for the authenticator once).
//
// Rules, as GoTrue's: once the user has a verified factor, anything that changes their second
// factors needs an aal2 token: enrolling another, challenging or verifying an unverified one,
// unenrolling a verified one, creating recovery codes. A successful verification deletes the user's
// other unverified factors (GoTrue's DeleteUnverifiedFactors). A challenge lives
// CHALLENGE_TTL_SECONDS, takes at most MAX_CHALLENGE_ATTEMPTS wrong codes and one right one. A TOTP
// code is accepted once: the factor remembers the last time step used and refuses that step and
// older ones.
//
// The trap those rules close (issue 11): someone who knows only the password enrolls a factor and
// leaves it unverified. Unverified, it asks nothing of anyone; but once the owner verifies their own,
// the dormant factor would be a second key to aal2 that the attacker holds: verify it at aal1, then
// unenroll the owner's factor. Verification therefore sweeps unverified factors away, and a factor
// that is not verified cannot be challenged or verified below aal2 while a verified one exists
// (which also covers a factor enrolled in a race with, or before, the sweep).
//
// Lock order: the user's auth.users row first (lockUser), then factor rows. Every flow that counts
// or changes a user's factors or recovery codes takes it, so "has a verified factor" cannot change
// between the check and the write.
import { randomInt } from "node:crypto";
import type postgres from "postgres";
import type { Principal } from "../db/pool.ts";
import { callerOf, currentUser, type Caller } from "./account.ts";
import type { AuthContext, Client } from "./context.ts";
import { takeIp } from "./context.ts";
import { codeHash } from "./crypto.ts";
import { AuthErrors } from "./errors.ts";
import { elevateSession, type SessionJson } from "./sessions.ts";
import { decryptSecret, encryptSecret, matchTotp, newTotpSecret, otpauthUri, uriSvg } from "./totp.ts";
import { FACTOR_JSON, findUser, isUuid, type FactorJson } from "./users.ts";
import { raiseSecurityEvent } from "../admin/security/events.ts";
import { checkGate, clearLocks, lockKey, lockoutDeps, recordFailure, type Gate, type LockoutDeps } from "./lockout.ts";
import type { MfaAttemptDecider } from "./hooks/mfa-attempt.ts";

/**
 * Second factors are counted per user ("user:<id>", lockout.ts): a wrong TOTP or recovery code
 * counts, and while locked even a right one is refused. Returns the gate for afterSecondFactor.
 */
async function secondFactorGate(ctx: AuthContext, client: Client, userId: string): Promise<{ lockout: LockoutDeps; key: string; gate: Gate }> {
  const lockout = lockoutDeps(ctx.db.sql, ctx.config, ctx.log);
  const key = lockKey("user", userId);
  const gate = await checkGate(lockout, key);
  if (gate.retryAfter > 0) {
    await recordFailure(lockout, null, client, { userId, flow: "mfa" });
    throw AuthErrors.userLocked(gate.retryAfter);
  }
  return { lockout, key, gate };
}

/** A verified factor removed: MFA weakened or off for the user (an event, never a failure of the call). */
async function mfaRemovedEvent(ctx: AuthContext, userId: string, factor: FactorJson, by: "user" | "admin"): Promise<void> {
  if (factor.status !== "verified") return;
  await raiseSecurityEvent(
    ctx.db.sql,
    { kind: "mfa_disabled", severity: "medium", userId, details: { factor_id: factor.id, factor_type: factor.factor_type, by } },
    ctx.log,
  );
}

export const CHALLENGE_TTL_SECONDS = 300;
export const MAX_CHALLENGE_ATTEMPTS = 5;
export const MAX_FACTORS = 10;
export const RECOVERY_CODE_COUNT = 10;

export interface MfaCaller extends Caller {
  aal: string;
}

export function mfaCallerOf(principal: Principal | null | undefined): MfaCaller {
  const caller = callerOf(principal);
  const aal = principal!.claims.aal;
  return { ...caller, aal: typeof aal === "string" ? aal : "aal1" };
}

type Tx = postgres.TransactionSql;

/** NO KEY UPDATE: serialises the flows above, yet lets rows that merely reference the user (a new session) in. */
async function lockUser(tx: Tx, userId: string): Promise<void> {
  await tx`select 1 from auth.users where id = ${userId} for no key update`;
}

async function hasVerifiedFactor(tx: Tx, userId: string): Promise<boolean> {
  const [row] = await tx<{ v: boolean }[]>`
    select exists(select 1 from auth.mfa_factors where user_id = ${userId} and status = 'verified') as v`;
  return row!.v;
}

/** Whether the caller may work with a factor that is not verified yet (see the header). */
async function mayTouchUnverified(tx: Tx, caller: MfaCaller): Promise<boolean> {
  return caller.aal === "aal2" || !(await hasVerifiedFactor(tx, caller.userId));
}

export interface EnrollInput {
  factorType?: string;
  friendlyName?: string;
  issuer?: string;
}

export interface EnrollResult {
  id: string;
  type: "totp";
  friendly_name: string;
  totp: { qr_code: string; secret: string; uri: string };
}

function defaultIssuer(ctx: AuthContext): string {
  try {
    return new URL(ctx.config.auth.siteUrl).hostname || "Plinth";
  } catch {
    return "Plinth";
  }
}

export async function enroll(ctx: AuthContext, caller: MfaCaller, input: EnrollInput): Promise<EnrollResult> {
  const user = await currentUser(ctx, caller);
  const type = input.factorType;
  if (type !== "totp") {
    if (type === "phone" || type === "webauthn") throw AuthErrors.mfaTypeDisabled(type);
    throw AuthErrors.validation("factor_type needs to be totp, phone or webauthn");
  }
  const issuer = input.issuer?.trim() || defaultIssuer(ctx);
  const friendlyName = input.friendlyName?.trim() ?? "";
  const account = user.email || user.phone || user.username || user.id;
  const secret = newTotpSecret();
  const uri = otpauthUri(issuer, account, secret);
  const id = crypto.randomUUID();
  await ctx.db.sql.begin(async (tx) => {
    // One enrollment at a time per user: check, count and insert under the user's row lock.
    await lockUser(tx, user.id);
    if (!(await mayTouchUnverified(tx, caller))) throw AuthErrors.insufficientAal("AAL2 required to enroll a new factor", 403);
    const [n] = await tx<{ n: number }[]>`select count(*)::int as n from auth.mfa_factors where user_id = ${user.id}`;
    if (n!.n >= MAX_FACTORS) throw AuthErrors.tooManyFactors();
    if (friendlyName) {
      const clash = await tx`select 1 from auth.mfa_factors where user_id = ${user.id} and friendly_name = ${friendlyName}`;
      if (clash.length > 0) throw AuthErrors.mfaFactorNameConflict(friendlyName);
    }
    await tx`insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at, secret)
             values (${id}, ${user.id}, ${friendlyName || null}, 'totp', 'unverified', now(), now(),
                     ${encryptSecret(ctx.keys.mfa, secret, id)})`;
  });
  return { id, type: "totp", friendly_name: friendlyName, totp: { qr_code: uriSvg(uri), secret, uri } };
}

export async function challenge(ctx: AuthContext, client: Client, caller: MfaCaller, factorId: string) {
  await currentUser(ctx, caller);
  if (!isUuid(factorId)) throw AuthErrors.mfaFactorNotFound();
  const id = crypto.randomUUID();
  const row = await ctx.db.sql.begin(async (tx) => {
    await lockUser(tx, caller.userId);
    const [f] = await tx<{ status: string }[]>`
      select status::text from auth.mfa_factors where id = ${factorId} and user_id = ${caller.userId}`;
    if (!f) throw AuthErrors.mfaFactorNotFound();
    // A verified factor is how an aal1 session steps up: always open. An unverified one is an
    // enrollment in progress, which is a change to the second factor (see the header).
    if (f.status !== "verified" && !(await mayTouchUnverified(tx, caller))) {
      throw AuthErrors.insufficientAal("AAL2 required to challenge a factor that is not verified", 403);
    }
    const [r] = await tx<{ type: string; created: number }[]>`
      with f as (
        update auth.mfa_factors set last_challenged_at = now(), updated_at = now()
        where id = ${factorId} and user_id = ${caller.userId} returning id, factor_type),
      c as (
        insert into auth.mfa_challenges (id, factor_id, created_at, ip_address)
        select ${id}, f.id, now(), ${inet(client.ip)}::inet from f returning created_at)
      select f.factor_type::text as type, extract(epoch from c.created_at)::float8 as created from f, c`;
    return r;
  });
  if (!row) throw AuthErrors.mfaFactorNotFound();
  return { id, type: row.type, expires_at: Math.floor(row.created) + CHALLENGE_TTL_SECONDS };
}

const inet = (ip: string | null): string | null => (ip && /^[0-9a-fA-F:.]+$/.test(ip) ? ip : null);

type VerifyOutcome = { ok: SessionJson } | { fail: Error };

export async function verify(
  ctx: AuthContext,
  client: Client,
  caller: MfaCaller,
  factorId: string,
  input: { challengeId?: string; code?: string },
  decideAttempt?: MfaAttemptDecider,
): Promise<SessionJson> {
  takeIp(ctx, "verify", client.ip);
  await currentUser(ctx, caller);
  if (!isUuid(factorId)) throw AuthErrors.mfaFactorNotFound();
  if (!input.challengeId || !isUuid(input.challengeId)) throw AuthErrors.validation("challenge_id must be a valid UUID");
  const locks = await secondFactorGate(ctx, client, caller.userId);
  const code = (input.code ?? "").trim();
  const challengeId = input.challengeId;
  // Wrong codes must be counted even though the request fails: the transaction returns the
  // failure instead of throwing it, so the attempt counter commits.
  const outcome = await ctx.db.sql.begin(async (tx): Promise<VerifyOutcome> => {
    await lockUser(tx, caller.userId);
    const [f] = await tx<{ id: string; secret: string | null; status: string; factor_type: string; last_used_step: string | null }[]>`
      select id, secret, status::text, factor_type::text, last_used_step from auth.mfa_factors
      where id = ${factorId} and user_id = ${caller.userId} for update`;
    if (!f) return { fail: AuthErrors.mfaFactorNotFound() };
    // Checked before the challenge: a challenge made earlier (before the owner verified another
    // factor) must not carry an unverified factor past this rule.
    if (f.status !== "verified" && !(await mayTouchUnverified(tx, caller))) {
      return { fail: AuthErrors.insufficientAal("AAL2 required to verify a factor that is not verified", 403) };
    }
    const [c] = await tx<{ verified_at: Date | null; attempts: number; age: number }[]>`
      select verified_at, attempts, extract(epoch from now() - created_at)::float8 as age
      from auth.mfa_challenges where id = ${challengeId} and factor_id = ${factorId} for update`;
    if (!c) return { fail: AuthErrors.mfaChallengeNotFound() };
    if (c.verified_at) return { fail: AuthErrors.mfaVerificationRejected("Challenge has already been used") };
    if (c.age > CHALLENGE_TTL_SECONDS) {
      await tx`delete from auth.mfa_challenges where id = ${challengeId}`;
      return { fail: AuthErrors.mfaChallengeExpired(challengeId) };
    }
    if (c.attempts >= MAX_CHALLENGE_ATTEMPTS) {
      return { fail: AuthErrors.mfaVerificationRejected("Too many attempts: create a new challenge") };
    }
    if (f.factor_type !== "totp" || !f.secret) return { fail: AuthErrors.mfaTypeDisabled(f.factor_type) };
    const step = /^\d{6}$/.test(code) ? matchTotp(decryptSecret(ctx.keys.mfa, f.secret, f.id), code) : null;
    if (step === null) {
      await tx`update auth.mfa_challenges set attempts = attempts + 1 where id = ${challengeId}`;
      return { fail: AuthErrors.mfaVerificationFailed() };
    }
    if (f.last_used_step !== null && step <= Number(f.last_used_step)) {
      await tx`update auth.mfa_challenges set attempts = attempts + 1 where id = ${challengeId}`;
      return { fail: AuthErrors.mfaVerificationRejected("This code has already been used: wait for the next one") };
    }
    // The mfa_verification_attempt hook decides before anything is written: its refusal throws
    // and rolls this transaction back (factor stays unverified, session aal1).
    if (decideAttempt) await decideAttempt(true);
    await tx`update auth.mfa_factors set last_used_step = ${step}, status = 'verified', updated_at = now() where id = ${f.id}`;
    await tx`update auth.mfa_challenges set verified_at = now() where id = ${challengeId}`;
    // GoTrue's DeleteUnverifiedFactors, on every successful verification: no enrollment someone
    // else may have started stays dormant behind the factor the user now relies on.
    await tx`delete from auth.mfa_factors where user_id = ${caller.userId} and status = 'unverified' and id <> ${f.id}`;
    return { ok: await elevateSession(ctx, tx, caller.userId, caller.sessionId, "totp", f.id) };
  });
  if ("fail" in outcome) {
    if ((outcome.fail as { code?: string }).code === "mfa_verification_failed") {
      await recordFailure(locks.lockout, locks.key, client, { userId: caller.userId, flow: "mfa" });
      if (decideAttempt) await decideAttempt(false);
    }
    throw outcome.fail;
  }
  if (locks.gate.counted) await clearLocks(ctx.db.sql, [locks.key]);
  return outcome.ok;
}

/**
 * Deletes one factor of the user (and the recovery codes, when no verified factor is left).
 * `verifiedToo` false (an aal1 caller) deletes only an unverified factor and answers "needs_aal2"
 * for a verified one; the admin API passes true.
 */
async function deleteFactorRow(ctx: AuthContext, userId: string, factorId: string, verifiedToo = true): Promise<FactorJson | "needs_aal2" | null> {
  return ctx.db.sql.begin(async (tx) => {
    await lockUser(tx, userId);
    const [f] = await tx<{ status: string }[]>`
      select status::text from auth.mfa_factors where id = ${factorId} and user_id = ${userId}`;
    if (!f) return null;
    if (f.status === "verified" && !verifiedToo) return "needs_aal2";
    // FACTOR_JSON is our own fixed fragment; values are bind parameters.
    const rows = (await tx.unsafe(`delete from auth.mfa_factors f where f.id = $1 and f.user_id = $2 returning ${FACTOR_JSON} as factor`, [
      factorId,
      userId,
    ])) as { factor: FactorJson }[];
    if (!rows[0]) return null;
    // Recovery codes back up the factors: with no verified factor left, they go too.
    await tx`delete from auth.mfa_recovery_codes where user_id = ${userId}
             and not exists (select 1 from auth.mfa_factors where user_id = ${userId} and status = 'verified')`;
    return rows[0].factor;
  });
}

export async function unenroll(ctx: AuthContext, caller: MfaCaller, factorId: string): Promise<{ id: string }> {
  await currentUser(ctx, caller);
  if (!isUuid(factorId)) throw AuthErrors.mfaFactorNotFound();
  // The status check and the delete share the user's lock: a factor verified in between (by another
  // request) is not deleted at aal1 on the strength of having been unverified a moment before.
  const deleted = await deleteFactorRow(ctx, caller.userId, factorId, caller.aal === "aal2");
  if (deleted === "needs_aal2") throw AuthErrors.insufficientAal("AAL2 required to unenroll verified factor");
  if (!deleted) throw AuthErrors.mfaFactorNotFound();
  await mfaRemovedEvent(ctx, caller.userId, deleted, "user");
  return { id: factorId };
}

export async function adminListFactors(ctx: AuthContext, userId: string): Promise<FactorJson[]> {
  const user = isUuid(userId) ? await findUser(ctx.db.sql, { id: userId }) : null;
  if (!user) throw AuthErrors.userNotFound();
  return user.factors ?? [];
}

export async function adminDeleteFactor(ctx: AuthContext, userId: string, factorId: string): Promise<FactorJson> {
  const user = isUuid(userId) ? await findUser(ctx.db.sql, { id: userId }) : null;
  if (!user) throw AuthErrors.userNotFound();
  const deleted = isUuid(factorId) ? await deleteFactorRow(ctx, userId, factorId) : null;
  if (!deleted || deleted === "needs_aal2") throw AuthErrors.mfaFactorNotFound();
  await mfaRemovedEvent(ctx, userId, deleted, "admin");
  return deleted;
}

// Recovery codes: "xxxx-xxxx" over an alphabet without look-alikes (31^8 ≈ 2^39.6 each), stored as
// HMACs keyed from the JWT secret and bound to the user.
const RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789";
/** The HMAC purpose recovery codes are stored under (the admin sign-in checks them too). */
export const RECOVERY_PURPOSE = "mfa_recovery_code";

export function newRecoveryCode(): string {
  let s = "";
  for (let i = 0; i < 8; i++) s += RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)];
  return `${s.slice(0, 4)}-${s.slice(4)}`;
}

/** Lowercase, no spaces, the dash put back: what users type is forgiven, what is stored is one form. */
export function normaliseRecoveryCode(code: string): string | null {
  const s = code.toLowerCase().replace(/[\s-]/g, "");
  return /^[a-z0-9]{8}$/.test(s) ? `${s.slice(0, 4)}-${s.slice(4)}` : null;
}

export async function generateRecoveryCodes(ctx: AuthContext, caller: MfaCaller): Promise<{ codes: string[] }> {
  await currentUser(ctx, caller);
  if (caller.aal !== "aal2") throw AuthErrors.insufficientAal("AAL2 required to generate recovery codes");
  const codes = new Set<string>();
  while (codes.size < RECOVERY_CODE_COUNT) codes.add(newRecoveryCode());
  const list = [...codes];
  await ctx.db.sql.begin(async (tx) => {
    // Codes stand in for a verified factor: none to back up, none to make (an aal2 token can outlive
    // the factor that earned it). Under the lock, so the last factor cannot go meanwhile.
    await lockUser(tx, caller.userId);
    if (!(await hasVerifiedFactor(tx, caller.userId))) throw AuthErrors.recoveryNeedsFactor();
    await tx`delete from auth.mfa_recovery_codes where user_id = ${caller.userId}`;
    for (const code of list) {
      await tx`insert into auth.mfa_recovery_codes (user_id, code_hash) values (${caller.userId}, ${codeHash(ctx.keys, caller.userId, RECOVERY_PURPOSE, code)})`;
    }
  });
  return { codes: list };
}

export async function verifyRecoveryCode(ctx: AuthContext, client: Client, caller: MfaCaller, code: string | undefined): Promise<SessionJson> {
  takeIp(ctx, "verify", client.ip);
  await currentUser(ctx, caller);
  const locks = await secondFactorGate(ctx, client, caller.userId);
  const normal = normaliseRecoveryCode(code ?? "");
  const hash = normal ? codeHash(ctx.keys, caller.userId, RECOVERY_PURPOSE, normal) : null;
  const session = await ctx.db.sql.begin(async (tx) => {
    if (!hash) return null;
    // Only while a verified factor exists: codes are removed with the last one, but a code must
    // never be a way to aal2 on an account without a second factor.
    const used = await tx`update auth.mfa_recovery_codes set used_at = now()
                          where user_id = ${caller.userId} and code_hash = ${hash} and used_at is null
                            and exists (select 1 from auth.mfa_factors where user_id = ${caller.userId} and status = 'verified')
                          returning id`;
    if (used.length === 0) return null;
    return elevateSession(ctx, tx, caller.userId, caller.sessionId, "recovery", null);
  });
  if (!session) {
    await recordFailure(locks.lockout, locks.key, client, { userId: caller.userId, flow: "recovery_code" });
    throw AuthErrors.mfaVerificationFailed("Invalid recovery code");
  }
  if (locks.gate.counted) await clearLocks(ctx.db.sql, [locks.key]);
  await raiseSecurityEvent(
    ctx.db.sql,
    { kind: "recovery_code_used", severity: "medium", userId: caller.userId, address: client.ip, userAgent: client.userAgent, details: { via: "auth" } },
    ctx.log,
  );
  return session;
}
