// An admin's second factor is the one its user already has in the auth service: a verified TOTP
// factor (auth.mfa_factors) or one of its recovery codes (auth.mfa_recovery_codes). This checks a
// code against them with the auth service's own pieces (TOTP matching and secret decryption from
// src/auth/totp.ts, code hashing from src/auth/crypto.ts), and keeps its rules:
// - the user's auth.users row is locked first (src/auth/mfa.ts's lock order);
// - a TOTP code is accepted once: the factor's last_used_step refuses that step and older ones,
//   whether the code was used here or on /auth/v1;
// - a recovery code works only while a verified factor exists, and only once.
import type postgres from "postgres";
import type { AuthKeys } from "../../auth/crypto.ts";
import { codeHash } from "../../auth/crypto.ts";
import { normaliseRecoveryCode, RECOVERY_PURPOSE } from "../../auth/mfa.ts";
import { decryptSecret, matchTotp } from "../../auth/totp.ts";

/** Whether the user has a verified TOTP factor (the admin must then pass a challenge). */
export async function hasVerifiedTotp(q: postgres.Sql | postgres.TransactionSql, userId: string): Promise<boolean> {
  const [row] = await q<{ v: boolean }[]>`
    select exists (select 1 from auth.mfa_factors where user_id = ${userId} and status = 'verified' and factor_type = 'totp') as v`;
  return row!.v;
}

/** Checks `code` (six digits: TOTP; else a recovery code) and uses it up. Null when it does not match. */
export async function useSecondFactor(tx: postgres.TransactionSql, keys: AuthKeys, userId: string, code: string): Promise<"totp" | "recovery" | null> {
  await tx`select 1 from auth.users where id = ${userId} for no key update`;
  const text = code.trim();
  if (/^\d{6}$/.test(text)) {
    const factors = await tx<{ id: string; secret: string | null; last_used_step: string | null }[]>`
      select id, secret, last_used_step from auth.mfa_factors
      where user_id = ${userId} and status = 'verified' and factor_type = 'totp'
      order by created_at for update`;
    for (const f of factors) {
      if (!f.secret) continue;
      const step = matchTotp(decryptSecret(keys.mfa, f.secret, f.id), text);
      if (step === null || (f.last_used_step !== null && step <= Number(f.last_used_step))) continue;
      await tx`update auth.mfa_factors set last_used_step = ${step}, updated_at = now() where id = ${f.id}`;
      return "totp";
    }
    return null;
  }
  const normal = normaliseRecoveryCode(text);
  if (!normal) return null;
  const used = await tx`
    update auth.mfa_recovery_codes set used_at = now()
    where user_id = ${userId} and code_hash = ${codeHash(keys, userId, RECOVERY_PURPOSE, normal)} and used_at is null
      and exists (select 1 from auth.mfa_factors where user_id = ${userId} and status = 'verified')
    returning id`;
  return used.length > 0 ? "recovery" : null;
}
