// Enrolment at sign-in, where admins must have MFA (admin.requireMfa; production by default): the
// right password of an account without a TOTP factor answers mfa_enrollment_required with an
// enrolment token (an admin challenge: signin/login.ts). With it, and nothing else:
//   POST /auth/mfa/enroll {enrollment_token}                       → the secret and otpauth URI
//   POST /auth/mfa/enroll/verify {enrollment_token, factor_id, code} → a session, and recovery codes
// The token is single-use for the session, lives CHALLENGE_SECONDS and burns after
// MAX_CHALLENGE_ATTEMPTS wrong codes, as a sign-in challenge does. It enrols only the account it
// was issued to, and only while that account has no verified factor (the token of an account that
// has one is an ordinary challenge, spent at /auth/mfa).
import type { AdminContext } from "../context.ts";
import { AdminErrors } from "../errors.ts";
import { openSession, type ClientInfo } from "../sessions/store.ts";
import { CHALLENGE_TOKEN_PREFIX, isSecretOf, secretDigest } from "../sessions/tokens.ts";
import { CHALLENGE_SECONDS, MAX_CHALLENGE_ATTEMPTS, takeSignInToken, type AdminIdentity, type SignedIn } from "../signin/login.ts";
import { hasVerifiedTotp } from "../signin/second-factor.ts";
import { confirmEnrolment, startEnrolment, type EnrolmentStarted } from "./mfa.ts";

export { CHALLENGE_SECONDS };

/** The account a live enrolment token was issued to (it must still be an admin without a factor). */
async function tokenAccount(ctx: AdminContext, token: string): Promise<string> {
  if (!isSecretOf(CHALLENGE_TOKEN_PREFIX, token)) throw AdminErrors.invalidChallenge();
  const [c] = await ctx.sql<{ admin_id: string }[]>`
    select admin_id from plinth.admin_challenges
    where token_hash = ${secretDigest(token)} and expires_at > now() and attempts < ${MAX_CHALLENGE_ATTEMPTS}`;
  if (!c) throw AdminErrors.invalidChallenge();
  if (await hasVerifiedTotp(ctx.sql, c.admin_id)) throw AdminErrors.invalidChallenge();
  return c.admin_id;
}

export async function startSignInEnrolment(ctx: AdminContext, client: ClientInfo, token: string): Promise<EnrolmentStarted & { adminId: string }> {
  takeSignInToken(ctx, client.ip);
  const adminId = await tokenAccount(ctx, token);
  return { ...(await startEnrolment(ctx, adminId)), adminId };
}

export async function finishSignInEnrolment(
  ctx: AdminContext,
  client: ClientInfo,
  input: { enrollment_token: string; factor_id: string; code: string },
): Promise<{ signedIn: SignedIn; recovery_codes: string[] }> {
  takeSignInToken(ctx, client.ip);
  const adminId = await tokenAccount(ctx, input.enrollment_token);
  const digest = secretDigest(input.enrollment_token);
  let done: Awaited<ReturnType<typeof confirmEnrolment<SignedIn | null>>>;
  try {
    done = await confirmEnrolment(ctx, client, adminId, input, async (tx) => {
      // The token is spent with the enrolment; a concurrent use of it finds nothing to delete.
      const spent = await tx`delete from plinth.admin_challenges where token_hash = ${digest} and expires_at > now() returning id`;
      if (spent.length === 0) throw AdminErrors.invalidChallenge();
      const [a] = await tx<(Omit<AdminIdentity, "id"> & { usable: boolean })[]>`
        select u.email, a.level, a.tables, (u.deleted_at is null and (u.banned_until is null or u.banned_until <= now())) as usable
        from plinth.admins a join auth.users u on u.id = a.user_id where a.user_id = ${adminId}`;
      if (!a || !a.usable) throw AdminErrors.invalidCredentials();
      const session = await openSession(tx, ctx.sessions, { adminId }, "mfa", client);
      return { session, admin: { id: adminId, email: a.email, level: a.level, tables: a.tables } };
    });
  } catch (err) {
    if ((err as { code?: string }).code === "mfa_verification_failed") {
      await ctx.sql`update plinth.admin_challenges set attempts = attempts + 1 where token_hash = ${digest}`;
    }
    throw err;
  }
  return { signedIn: done.extra!, recovery_codes: done.recovery_codes };
}
