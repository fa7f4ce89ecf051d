// Verification of a one-time code or link: consume the token, apply what it proves (an address
// confirmed, an email or phone changed, a password reset allowed) and sign the user in — or, for a
// PKCE flow followed by link, hand out the authorisation code for the redirect. The first of the two
// confirmations of a secure email change signs nobody in: it answers with GoTrue's message.
import type postgres from "postgres";
import type { AuthContext, Client } from "./context.ts";
import { SINGLE_CONFIRMATION_ACCEPTED, confirmEmailChange, emailChangeAddresses } from "./email-change.ts";
import { AuthErrors } from "./errors.ts";
import { normaliseEmail, normalisePhoneNumber } from "./input.ts";
import { ACCEPTS, consumeCode, consumeLinkToken, type ConsumedToken, type VerifyType } from "./otp.ts";
import { issueAuthCode } from "./pkce.ts";
import { startSession, type AuthMethod, type SessionJson } from "./sessions.ts";
import { USER_COLUMNS, confirmEmail, confirmPhone, ensureIdentity, findUser, isBanned, type UserRow } from "./users.ts";
import { checkGate, clearLocks, keysOfUser, lockKey, lockoutDeps, rawKey, recordFailure } from "./lockout.ts";

/** Sign-ins that prove the account's own mailbox or phone: they clear its locks (lockout.ts). */
const CLEARS_LOCKS: ReadonlySet<VerifyType> = new Set(["signup", "invite", "magiclink", "recovery", "email", "sms"]);

/** The lockout key of a typed code's identifier (a link token names none: its 256 bits are not guessable). */
function codeKey(ctx: AuthContext, input: VerifyInput): string | null {
  try {
    if (input.email) return lockKey("email", normaliseEmail(input.email));
    if (input.phone) return lockKey("phone", normalisePhoneNumber(ctx.config, input.phone).stored);
  } catch {
    return input.email ? rawKey("email", input.email) : rawKey("phone", input.phone!);
  }
  return null;
}

export interface VerifyInput {
  type: VerifyType;
  /** The numeric code (with email or phone), or on GET /verify the link token. */
  token?: string;
  /** The link token (POST /verify with token_hash). */
  tokenHash?: string;
  email?: string;
  phone?: string;
}

export type Verified =
  | { session: SessionJson; authCode?: undefined; message?: undefined }
  | { authCode: string; session?: undefined; message?: undefined }
  /** The first confirmation of a secure email change: nothing to sign in with yet. */
  | { message: string; session?: undefined; authCode?: undefined };

const METHOD: Record<VerifyType, AuthMethod> = {
  signup: "otp",
  email: "otp",
  magiclink: "magiclink",
  invite: "invite",
  recovery: "recovery",
  email_change: "email_change",
  sms: "otp",
  phone_change: "otp",
};

type Tx = postgres.TransactionSql;

/** The user a typed code is for, and the addresses the code may have been sent to. */
async function codeTarget(ctx: AuthContext, tx: Tx, input: VerifyInput): Promise<{ user: UserRow; relatesTo: string | string[] } | null> {
  if (input.email) {
    const email = normaliseEmail(input.email);
    if (input.type === "email_change") {
      // Either address may be given (GoTrue's FindUserForEmailChange), with either code: the new
      // address's, or in secure mode the current address's. An account's own address wins over
      // someone else's pending change to it.
      const rows: UserRow[] = await tx.unsafe(
        `select ${USER_COLUMNS} from auth.users u where (u.email_change = $1 or u.email = $1) and coalesce(u.email_change, '') <> ''
         order by (u.email = $1) desc, u.email_change_sent_at desc nulls last limit 1`,
        [email],
      );
      const user = rows[0];
      return user ? { user, relatesTo: emailChangeAddresses(user) } : null;
    }
    const user = await findUser(tx, { email });
    return user ? { user, relatesTo: email } : null;
  }
  if (input.phone) {
    const phone = normalisePhoneNumber(ctx.config, input.phone).stored;
    if (input.type === "phone_change") {
      const rows: UserRow[] = await tx.unsafe(`select ${USER_COLUMNS} from auth.users u where u.phone_change = $1 limit 1`, [phone]);
      return rows[0] ? { user: rows[0], relatesTo: phone } : null;
    }
    const user = await findUser(tx, { phone });
    return user ? { user, relatesTo: phone } : null;
  }
  throw AuthErrors.validation("Verify requires an email or a phone number with the token, or a token_hash");
}

/**
 * What a consumed token proves. False when it proves nothing any more (an email change that was
 * superseded or cancelled) and "pending" for the first of two email-change confirmations.
 */
async function applyToken(ctx: AuthContext, tx: Tx, consumed: ConsumedToken): Promise<boolean | "pending"> {
  const { userId, relatesTo } = consumed;
  switch (consumed.tokenType) {
    case "confirmation_token":
    case "recovery_token":
      if (relatesTo.includes("@")) await confirmEmail(tx, userId);
      else await confirmPhone(tx, userId);
      return true;
    case "email_change_token_new":
    case "email_change_token_current": {
      const outcome = await confirmEmailChange(ctx, tx, consumed);
      return outcome === null ? false : outcome === "pending" ? "pending" : true;
    }
    case "phone_change_token": {
      let changed: readonly unknown[];
      try {
        changed = await tx`update auth.users set phone = phone_change, phone_change = '', phone_change_sent_at = null,
                   phone_confirmed_at = now(), is_anonymous = false, updated_at = now()
                 where id = ${userId} and phone_change = ${relatesTo} returning id`;
      } catch (err) {
        if ((err as { code?: string }).code === "23505") throw AuthErrors.phoneExists();
        throw err;
      }
      // The change was superseded or cancelled since this code was sent.
      if (changed.length === 0) return false;
      await ensureIdentity(tx, userId, "phone", { phone: relatesTo, phone_verified: true });
      return true;
    }
    case "reauthentication_token":
      // Never accepted by /verify (see ACCEPTS): PUT /user spends it.
      return false;
  }
}

/**
 * Verifies and signs in. `redirect` is true for GET /verify (a browser following a link): a PKCE
 * flow then yields an authorisation code instead of a session.
 */
export async function verifyToken(ctx: AuthContext, client: Client, input: VerifyInput, redirect: boolean): Promise<Verified> {
  const accepts = ACCEPTS[input.type];
  const linkToken = input.tokenHash ?? (redirect ? input.token : undefined);
  if (!linkToken && !input.token) throw AuthErrors.validation("Verify requires either a token or a token hash");
  // Typed codes are counted against their identifier and refused while it is locked; links are not
  // (a lock must not shut the owner out of the mailbox path that clears it), but their failures
  // still count against the address.
  const lockout = lockoutDeps(ctx.db.sql, ctx.config, ctx.log);
  const key = linkToken ? null : codeKey(ctx, input);
  const gate = await checkGate(lockout, key);
  if (gate.retryAfter > 0) {
    await recordFailure(lockout, null, client, { flow: "otp" });
    throw AuthErrors.userLocked(gate.retryAfter);
  }
  let signedIn = null as UserRow | null;
  const result = await ctx.db.sql.begin(async (tx): Promise<Verified | null> => {
    let consumed: ConsumedToken | null;
    if (linkToken) {
      consumed = linkToken.length <= 256 ? await consumeLinkToken(tx, linkToken, accepts) : null;
    } else {
      const target = await codeTarget(ctx, tx, input);
      consumed = target ? await consumeCode(ctx, tx, target.user.id, target.relatesTo, input.token!.trim(), accepts) : null;
    }
    // A wrong code is committed (its attempt counted) and answered after the transaction.
    if (!consumed) return null;
    const user = await findUser(tx, { id: consumed.userId });
    if (!user || user.deleted_at) return null;
    if (isBanned(user)) throw AuthErrors.userBanned();
    const applied = await applyToken(ctx, tx, consumed);
    if (!applied) return null;
    if (applied === "pending") return { message: SINGLE_CONFIRMATION_ACCEPTED };
    signedIn = user;
    if (redirect && consumed.flowStateId) return { authCode: await issueAuthCode(tx, consumed.flowStateId) };
    return { session: await startSession(ctx, tx, user.id, METHOD[input.type], client) };
  });
  if (!result) {
    await recordFailure(lockout, key, client, { flow: linkToken ? "link" : "otp" });
    throw AuthErrors.otpExpired();
  }
  if (signedIn && CLEARS_LOCKS.has(input.type)) await clearLocks(ctx.db.sql, keysOfUser(signedIn));
  return result;
}
