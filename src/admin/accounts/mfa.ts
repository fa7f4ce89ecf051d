// An admin enrols its own TOTP factor through the admin API (the console's enrolment screen), with
// the auth service's own pieces: the factor is a row of auth.mfa_factors (its secret encrypted at rest
// with the auth keys, bound to the factor id: src/auth/totp.ts) and the recovery codes rows of
// auth.mfa_recovery_codes (HMACs: src/auth/mfa.ts), so the admin sign-in (signin/second-factor.ts)
// and /auth/v1 see the same factor. The rules are /auth/v1's:
// - one verified TOTP factor: enrolling while one exists is refused (unenrol first, with a code);
// - starting an enrolment drops the account's earlier unverified factors (a dormant one must never
//   become a second key: src/auth/mfa.ts's header), and verifying sweeps them again;
// - a code is accepted once (last_used_step), and wrong codes count against the account's lock
//   (the same "user:<id>" key as /auth/v1 and the admin sign-in: src/auth/lockout.ts);
// - recovery codes are made at verification and shown once; they replace any earlier ones.
// Who enrols is always the caller itself: no endpoint takes another account's id.
import type postgres from "postgres";
import { codeHash } from "../../auth/crypto.ts";
import { newRecoveryCode, RECOVERY_CODE_COUNT, RECOVERY_PURPOSE } from "../../auth/mfa.ts";
import { checkGate, clearLocks, lockKey, lockoutDeps, recordFailure } from "../../auth/lockout.ts";
import { decryptSecret, encryptSecret, matchTotp, newTotpSecret } from "../../auth/totp.ts";
import { isUuid } from "../../auth/users.ts";
import type { AdminContext } from "../context.ts";
import { AdminErrors } from "../errors.ts";
import { raiseSecurityEvent } from "../security/events.ts";
import type { ClientInfo } from "../sessions/store.ts";
import { hasVerifiedTotp, useSecondFactor } from "../signin/second-factor.ts";

type Tx = postgres.TransactionSql;

export interface EnrolmentStarted {
  factor_id: string;
  /** Base32, for typing into an authenticator by hand. */
  secret: string;
  otpauth_uri: string;
}

export interface MfaStatus {
  enrolled: boolean;
  factor_id: string | null;
  recovery_codes_left: number;
}

/** The issuer an authenticator shows; short, so the console's QR code fits an 80×24 terminal. */
export const ADMIN_TOTP_ISSUER = "Plinth";

/** otpauth://totp/Issuer:account?secret=…&issuer=… — SHA-1, 6 digits and 30 s are the URI's defaults. */
export function adminOtpauthUri(account: string, secret: string): string {
  const label = `${encodeURIComponent(ADMIN_TOTP_ISSUER)}:${encodeURIComponent(account)}`;
  return `otpauth://totp/${label}?secret=${secret}&issuer=${encodeURIComponent(ADMIN_TOTP_ISSUER)}`;
}

const lockUser = (tx: Tx, userId: string) => tx`select 1 from auth.users where id = ${userId} for no key update`;

export async function mfaStatus(sql: AdminContext["sql"], adminId: string): Promise<MfaStatus> {
  const [row] = await sql<{ factor_id: string | null; left: number }[]>`
    select (select id from auth.mfa_factors where user_id = ${adminId} and status = 'verified' and factor_type = 'totp' order by created_at limit 1) as factor_id,
           (select count(*)::int from auth.mfa_recovery_codes where user_id = ${adminId} and used_at is null) as left`;
  return { enrolled: row!.factor_id !== null, factor_id: row!.factor_id, recovery_codes_left: row!.factor_id ? row!.left : 0 };
}

/** A new unverified TOTP factor for the admin: its secret, once (only the ciphertext is stored). */
export async function startEnrolment(ctx: AdminContext, adminId: string): Promise<EnrolmentStarted> {
  const secret = newTotpSecret();
  const id = crypto.randomUUID();
  const account = await ctx.sql.begin(async (tx) => {
    await lockUser(tx, adminId);
    if (await hasVerifiedTotp(tx, adminId))
      throw AdminErrors.conflict("mfa_already_enrolled", "This account has a verified TOTP factor: unenrol it first (with a code)");
    const [u] = await tx<{ label: string }[]>`select coalesce(email, username, id::text) as label from auth.users where id = ${adminId}`;
    await tx`delete from auth.mfa_factors where user_id = ${adminId} and status = 'unverified'`;
    await tx`insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at, secret)
             values (${id}, ${adminId}, null, 'totp', 'unverified', now(), now(), ${encryptSecret(ctx.keys.mfa, secret, id)})`;
    return u!.label;
  });
  return { factor_id: id, secret, otpauth_uri: adminOtpauthUri(account, secret) };
}

type Outcome<T> = { ok: T } | { fail: Error; count?: boolean };

/**
 * Verifies the enrolment with a code from the authenticator: the factor becomes verified, the other
 * unverified ones go, and ten new recovery codes are made (returned here only). `then` runs in the
 * same transaction (the forced enrolment opens its session there).
 */
export async function confirmEnrolment<T = null>(
  ctx: AdminContext,
  client: ClientInfo,
  adminId: string,
  input: { factor_id: string; code: string },
  then?: (tx: Tx) => Promise<T>,
): Promise<{ factor_id: string; recovery_codes: string[]; extra: T | null }> {
  if (!isUuid(input.factor_id)) throw AdminErrors.notFound("MFA factor");
  const lockout = lockoutDeps(ctx.sql, ctx.config, ctx.log);
  const key = lockKey("user", adminId);
  const gate = await checkGate(lockout, key);
  if (gate.retryAfter > 0) throw AdminErrors.userLocked(gate.retryAfter);
  const codes = new Set<string>();
  while (codes.size < RECOVERY_CODE_COUNT) codes.add(newRecoveryCode());
  const outcome = await ctx.sql.begin(async (tx): Promise<Outcome<T | null>> => {
    await lockUser(tx, adminId);
    const [f] = await tx<{ id: string; secret: string | null; status: string; factor_type: string }[]>`
      select id, secret, status::text, factor_type::text from auth.mfa_factors where id = ${input.factor_id} and user_id = ${adminId} for update`;
    if (!f || f.factor_type !== "totp" || !f.secret) return { fail: AdminErrors.notFound("MFA factor") };
    if (f.status === "verified") return { fail: AdminErrors.conflict("mfa_already_enrolled", "This factor is verified already") };
    if (await hasVerifiedTotp(tx, adminId)) return { fail: AdminErrors.conflict("mfa_already_enrolled", "This account has a verified TOTP factor already") };
    const code = input.code.trim();
    const step = /^\d{6}$/.test(code) ? matchTotp(decryptSecret(ctx.keys.mfa, f.secret, f.id), code) : null;
    if (step === null) return { fail: AdminErrors.mfaVerificationFailed(), count: true };
    await tx`update auth.mfa_factors set status = 'verified', last_used_step = ${step}, updated_at = now() where id = ${f.id}`;
    await tx`delete from auth.mfa_factors where user_id = ${adminId} and status = 'unverified' and id <> ${f.id}`;
    await tx`delete from auth.mfa_recovery_codes where user_id = ${adminId}`;
    for (const c of codes) {
      await tx`insert into auth.mfa_recovery_codes (user_id, code_hash) values (${adminId}, ${codeHash(ctx.keys, adminId, RECOVERY_PURPOSE, c)})`;
    }
    return { ok: then ? await then(tx) : null };
  });
  if ("fail" in outcome) {
    if (outcome.count) await recordFailure(lockout, key, client, { userId: adminId, flow: "admin_mfa" });
    throw outcome.fail;
  }
  if (gate.counted) await clearLocks(ctx.sql, [key]);
  return { factor_id: input.factor_id, recovery_codes: [...codes], extra: outcome.ok };
}

/** Removes the admin's TOTP factor(s) and recovery codes, given a fresh TOTP code or a recovery code. */
export async function unenrol(ctx: AdminContext, client: ClientInfo, adminId: string, code: string): Promise<void> {
  const lockout = lockoutDeps(ctx.sql, ctx.config, ctx.log);
  const key = lockKey("user", adminId);
  const gate = await checkGate(lockout, key);
  if (gate.retryAfter > 0) throw AdminErrors.userLocked(gate.retryAfter);
  const removed = await ctx.sql.begin(async (tx): Promise<Outcome<string[]>> => {
    if (!(await hasVerifiedTotp(tx, adminId))) return { fail: AdminErrors.conflict("mfa_not_enrolled", "This account has no TOTP factor") };
    // useSecondFactor locks the user row first and spends the code (a replayed one is refused).
    if (!(await useSecondFactor(tx, ctx.keys, adminId, code))) return { fail: AdminErrors.mfaVerificationFailed(), count: true };
    const rows = await tx<{ id: string }[]>`delete from auth.mfa_factors where user_id = ${adminId} and factor_type = 'totp' returning id`;
    await tx`delete from auth.mfa_recovery_codes where user_id = ${adminId}`;
    return { ok: rows.map((r) => r.id) };
  });
  if ("fail" in removed) {
    if (removed.count) await recordFailure(lockout, key, client, { userId: adminId, flow: "admin_mfa" });
    throw removed.fail;
  }
  if (gate.counted) await clearLocks(ctx.sql, [key]);
  await raiseSecurityEvent(
    ctx.sql,
    {
      kind: "mfa_disabled",
      severity: "medium",
      userId: adminId,
      address: client.ip,
      userAgent: client.userAgent,
      details: { factor_ids: removed.ok, by: "admin_console" },
    },
    ctx.log,
  );
}
