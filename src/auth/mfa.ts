// Multi-factor authentication (GoTrue's /factors API, TOTP only): enroll, challenge, verify (which
// raises the session to aal2), unenroll; the admin's view of a user's factors; and Plinth's
// recovery codes (ten single-use codes that stand in for the authenticator once).
//
// Rules, as GoTrue's: with a verified factor, enrolling another or unenrolling a verified one needs
// an aal2 token. A challenge lives CHALLENGE_TTL_SECONDS, takes at most MAX_CHALLENGE_ATTEMPTS wrong
// codes and one right one. A TOTP code is accepted once: the factor remembers the last time step
// used and refuses that step and older ones.
import { randomInt } from "node:crypto";
import type { Principal } from "../db/pool.ts";
import { callerOf, currentUser, type Caller } from "./account.ts";
import type { AuthContext, Client } from "./context.ts";
import { takeIp } from "./context.ts";
import { codeHash } from "./crypto.ts";
import { AuthErrors } from "./errors.ts";
import { elevateSession, type SessionJson } from "./sessions.ts";
import { decryptSecret, encryptSecret, matchTotp, newTotpSecret, otpauthUri, uriSvg } from "./totp.ts";
import { FACTOR_JSON, findUser, isUuid, type FactorJson } from "./users.ts";

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

async function hasVerifiedFactor(ctx: AuthContext, userId: string): Promise<boolean> {
  const [row] = await ctx.db.sql<{ n: number }[]>`
    select count(*)::int as n from auth.mfa_factors where user_id = ${userId} and status = 'verified'`;
  return row!.n > 0;
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
  if (caller.aal !== "aal2" && (await hasVerifiedFactor(ctx, user.id))) {
    throw AuthErrors.insufficientAal("AAL2 required to enroll a new factor");
  }
  const issuer = input.issuer?.trim() || defaultIssuer(ctx);
  const friendlyName = input.friendlyName?.trim() ?? "";
  const account = user.email || user.phone || user.username || user.id;
  const secret = newTotpSecret();
  const uri = otpauthUri(issuer, account, secret);
  const id = crypto.randomUUID();
  await ctx.db.sql.begin(async (tx) => {
    // One enrollment at a time per user: count and insert under the user's row lock.
    await tx`select 1 from auth.users where id = ${user.id} for update`;
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
  const rows = await ctx.db.sql<{ type: string; created: number }[]>`
    with f as (
      update auth.mfa_factors set last_challenged_at = now(), updated_at = now()
      where id = ${factorId} and user_id = ${caller.userId} returning id, factor_type),
    c as (
      insert into auth.mfa_challenges (id, factor_id, created_at, ip_address)
      select ${id}, f.id, now(), ${inet(client.ip)}::inet from f returning created_at)
    select f.factor_type::text as type, extract(epoch from c.created_at)::float8 as created from f, c`;
  const row = rows[0];
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
): Promise<SessionJson> {
  takeIp(ctx, "verify", client.ip);
  await currentUser(ctx, caller);
  if (!isUuid(factorId)) throw AuthErrors.mfaFactorNotFound();
  if (!input.challengeId || !isUuid(input.challengeId)) throw AuthErrors.validation("challenge_id must be a valid UUID");
  const code = (input.code ?? "").trim();
  const challengeId = input.challengeId;
  // Wrong codes must be counted even though the request fails: the transaction returns the
  // failure instead of throwing it, so the attempt counter commits.
  const outcome = await ctx.db.sql.begin(async (tx): Promise<VerifyOutcome> => {
    const [f] = await tx<{ id: string; secret: string | null; status: string; factor_type: string; last_used_step: string | null }[]>`
      select id, secret, status::text, factor_type::text, last_used_step from auth.mfa_factors
      where id = ${factorId} and user_id = ${caller.userId} for update`;
    if (!f) return { fail: AuthErrors.mfaFactorNotFound() };
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
    await tx`update auth.mfa_factors set last_used_step = ${step}, status = 'verified', updated_at = now() where id = ${f.id}`;
    await tx`update auth.mfa_challenges set verified_at = now() where id = ${challengeId}`;
    return { ok: await elevateSession(ctx, tx, caller.userId, caller.sessionId, "totp", f.id) };
  });
  if ("fail" in outcome) throw outcome.fail;
  return outcome.ok;
}

async function deleteFactorRow(ctx: AuthContext, userId: string, factorId: string): Promise<FactorJson | null> {
  return ctx.db.sql.begin(async (tx) => {
    const rows = (await tx.unsafe(
      `delete from auth.mfa_factors f where f.id = $1 and f.user_id = $2 returning ${FACTOR_JSON} as factor`,
      [factorId, userId],
    )) as { factor: FactorJson }[];
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
  const [f] = await ctx.db.sql<{ status: string }[]>`
    select status::text from auth.mfa_factors where id = ${factorId} and user_id = ${caller.userId}`;
  if (!f) throw AuthErrors.mfaFactorNotFound();
  if (f.status === "verified" && caller.aal !== "aal2") throw AuthErrors.insufficientAal("AAL2 required to unenroll verified factor");
  if (!(await deleteFactorRow(ctx, caller.userId, factorId))) throw AuthErrors.mfaFactorNotFound();
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
  if (!deleted) throw AuthErrors.mfaFactorNotFound();
  return deleted;
}

// Recovery codes: "xxxx-xxxx" over an alphabet without look-alikes (31^8 ≈ 2^39.6 each), stored as
// HMACs keyed from the JWT secret and bound to the user.
const RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789";
const RECOVERY_PURPOSE = "mfa_recovery_code";

function newRecoveryCode(): string {
  let s = "";
  for (let i = 0; i < 8; i++) s += RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)];
  return `${s.slice(0, 4)}-${s.slice(4)}`;
}

/** Lowercase, no spaces, the dash put back: what users type is forgiven, what is stored is one form. */
function normaliseRecoveryCode(code: string): string | null {
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
  const normal = normaliseRecoveryCode(code ?? "");
  if (!normal) throw AuthErrors.mfaVerificationFailed("Invalid recovery code");
  const hash = codeHash(ctx.keys, caller.userId, RECOVERY_PURPOSE, normal);
  return ctx.db.sql.begin(async (tx) => {
    const used = await tx`update auth.mfa_recovery_codes set used_at = now()
                          where user_id = ${caller.userId} and code_hash = ${hash} and used_at is null returning id`;
    if (used.length === 0) throw AuthErrors.mfaVerificationFailed("Invalid recovery code");
    return elevateSession(ctx, tx, caller.userId, caller.sessionId, "recovery", null);
  });
}
