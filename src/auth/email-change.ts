// Email change, the GoTrue way. The new address always confirms the change. With
// auth.secureEmailChange (the default, GoTrue's "secure email change") the current address confirms
// it too: each address gets its own mail with a link and a code (email_change_token_new and
// email_change_token_current), either may be confirmed first, and the change is applied only at the
// second. users.email_change_confirm_status counts the first confirmation (0 or 1), as in GoTrue.
import type postgres from "postgres";
import type { Sql } from "../db/pool.ts";
import type { AuthContext, Client } from "./context.ts";
import { takeSend } from "./context.ts";
import { AuthErrors } from "./errors.ts";
import { isHookMailer } from "./hooks/delivery.ts";
import { sendEmail } from "./messages.ts";
import { issueToken, type ConsumedToken, type IssuedToken } from "./otp.ts";
import { ensureIdentity } from "./users.ts";

/** GoTrue's answer to the first of two confirmations (verify.go, singleConfirmationAccepted). */
export const SINGLE_CONFIRMATION_ACCEPTED = "Confirmation link accepted. Please proceed to confirm link sent to the other email";

const EMAIL_CHANGE_TYPES = ["email_change_token_new", "email_change_token_current"];

/** Does a change away from `currentEmail` need the current address to confirm as well? */
export const needsCurrentConfirmation = (ctx: AuthContext, currentEmail: string | null): boolean => ctx.config.auth.secureEmailChange && !!currentEmail;

export interface EmailChangeTokens {
  newEmail: string;
  currentEmail: string | null;
  forNew: IssuedToken;
  /** Null when only the new address confirms (setting off, or no current address). */
  forCurrent: IssuedToken | null;
}

/** Per-address send limits for the mails an email change will send, taken before any work. */
export function takeEmailChangeSends(ctx: AuthContext, currentEmail: string | null, newEmail: string): void {
  takeSend(ctx, "email", newEmail);
  if (needsCurrentConfirmation(ctx, currentEmail)) takeSend(ctx, "email", currentEmail!);
}

/**
 * Records a pending change to `newEmail` and issues its tokens (both in secure mode), replacing any
 * earlier ones and starting the confirmation count again. Both tokens complete the same PKCE flow.
 */
export async function issueEmailChange(
  ctx: AuthContext,
  tx: postgres.TransactionSql,
  user: { id: string; email: string | null },
  newEmail: string,
  flowStateId: string | null,
): Promise<EmailChangeTokens> {
  await tx`update auth.users set email_change = ${newEmail}, email_change_sent_at = now(), email_change_confirm_status = 0,
             updated_at = now() where id = ${user.id}`;
  const forNew = await issueToken(ctx, tx, user.id, "email_change_token_new", newEmail, flowStateId);
  let forCurrent: IssuedToken | null = null;
  if (needsCurrentConfirmation(ctx, user.email)) {
    forCurrent = await issueToken(ctx, tx, user.id, "email_change_token_current", user.email!, flowStateId);
  } else {
    // A token for the current address left over from an earlier request must not count.
    await tx`delete from auth.one_time_tokens where user_id = ${user.id} and token_type = 'email_change_token_current'`;
  }
  return { newEmail, currentEmail: user.email, forNew, forCurrent };
}

/** Removes the change's tokens; with `cancel`, the pending change itself too. */
async function discardEmailChange(sql: Sql, userId: string, cancel: boolean): Promise<void> {
  await sql`delete from auth.one_time_tokens where user_id = ${userId} and token_type = any(${EMAIL_CHANGE_TYPES}::auth.one_time_token_type[])`;
  if (cancel) {
    await sql`update auth.users set email_change = '', email_change_sent_at = null, email_change_confirm_status = 0 where id = ${userId}`;
  }
}

/**
 * Mails the new address and, in secure mode, the current one; both mails use the email-change
 * template ({{ .Email }} the current address, {{ .NewEmail }} the new one), each with its own link
 * and code. If a send fails, the tokens go (and, with `cancelOnFailure`, the pending change).
 */
export async function sendEmailChange(
  ctx: AuthContext,
  client: Client,
  userId: string,
  t: EmailChangeTokens,
  redirectTo: string,
  cancelOnFailure: boolean,
): Promise<void> {
  const undo = () => discardEmailChange(ctx.db.sql, userId, cancelOnFailure);
  const common = { kind: "emailChange", type: "email_change", redirectTo, email: t.currentEmail ?? t.newEmail, newEmail: t.newEmail } as const;
  // A send_email hook gets both tokens in one call, as GoTrue sends them (hooks/delivery.ts).
  if (isHookMailer(ctx.mailer)) return sendEmail(ctx, client, { ...common, to: t.newEmail, token: t.forNew, currentToken: t.forCurrent ?? undefined }, undo);
  await sendEmail(ctx, client, { ...common, to: t.newEmail, token: t.forNew }, undo);
  if (t.forCurrent) await sendEmail(ctx, client, { ...common, to: t.currentEmail!, token: t.forCurrent }, undo);
}

/**
 * What a consumed email-change token does: "pending" after the first of two confirmations,
 * "changed" once the change is applied, null when the token no longer matches a pending change.
 * The new address is always among the confirmations before the change is applied: a token for the
 * current address alone never completes it, even if the setting was turned off meanwhile.
 */
export async function confirmEmailChange(ctx: AuthContext, tx: postgres.TransactionSql, consumed: ConsumedToken): Promise<"pending" | "changed" | null> {
  const [u] = await tx<{ email: string | null; email_change: string | null; status: number }[]>`
    select email, email_change, coalesce(email_change_confirm_status, 0)::int as status
    from auth.users where id = ${consumed.userId} for update`;
  if (!u || !u.email_change) return null;
  const forCurrent = consumed.tokenType === "email_change_token_current";
  if (consumed.relatesTo !== (forCurrent ? u.email : u.email_change)) return null;
  if (u.status === 0 && (forCurrent || needsCurrentConfirmation(ctx, u.email))) {
    await tx`update auth.users set email_change_confirm_status = 1, updated_at = now() where id = ${consumed.userId}`;
    return "pending";
  }
  const newEmail = u.email_change;
  try {
    await tx`update auth.users set email = email_change, email_change = '', email_change_sent_at = null, email_change_confirm_status = 0,
               email_confirmed_at = coalesce(email_confirmed_at, now()), is_anonymous = false, updated_at = now()
             where id = ${consumed.userId}`;
  } catch (err) {
    if ((err as { code?: string }).code === "23505") throw AuthErrors.emailExists();
    throw err;
  }
  await tx`delete from auth.one_time_tokens where user_id = ${consumed.userId} and token_type = any(${EMAIL_CHANGE_TYPES}::auth.one_time_token_type[])`;
  await ensureIdentity(tx, consumed.userId, "email", { email: newEmail, email_verified: true });
  return "changed";
}

/** The addresses a typed email-change code may have been sent to. */
export const emailChangeAddresses = (u: { email: string | null; email_change: string | null }): string[] =>
  [u.email_change, u.email].filter((a): a is string => !!a);
