// Requests that send a one-time code: /otp (passwordless sign-in by email or SMS), /recover
// (password reset) and /resend. Each takes its per-recipient send limit before any work, issues the
// code in a transaction, and sends after commit; a failed send removes what was created.
//
// /recover and /resend answer `{}` whether or not there is an account (or a pending confirmation)
// behind the address, so they must also take the same time: their lookup and send run after the
// response (background.ts). /otp sends on both of its paths (a magic link to an account, a
// confirmation to a new one), and refuses explicitly when it may not create users (GoTrue's
// otp_disabled), so it keeps sending inside the request and reports a failed send.
import type postgres from "postgres";
import type { AuthContext, Client } from "./context.ts";
import { takeSend } from "./context.ts";
import { issueEmailChange, sendEmailChange } from "./email-change.ts";
import { AuthErrors } from "./errors.ts";
import { normaliseEmail, normalisePhoneNumber, toE164 } from "./input.ts";
import { requireMailer, requireSms, sendEmail, sendSms } from "./messages.ts";
import { deleteToken, issueToken, type IssuedToken, type TokenType } from "./otp.ts";
import { createFlow } from "./pkce.ts";
import { userWriteError } from "./signup.ts";
import { USER_COLUMNS, findUser, insertUser, type UserRow } from "./users.ts";

type Pkce = { challenge: string; method: "s256" | "plain" } | null;

export interface OtpInput {
  email?: string;
  phone?: string;
  data?: Record<string, unknown>;
  createUser: boolean;
  pkce: Pkce;
  redirectTo: string;
}

interface Issued {
  user: UserRow;
  token: IssuedToken;
  created: boolean;
  confirmed: boolean;
}

async function markSent(tx: postgres.TransactionSql, userId: string, type: TokenType): Promise<void> {
  if (type === "recovery_token") await tx`update auth.users set recovery_sent_at = now() where id = ${userId}`;
  else if (type === "confirmation_token") await tx`update auth.users set confirmation_sent_at = now() where id = ${userId}`;
  else if (type === "phone_change_token") await tx`update auth.users set phone_change_sent_at = now() where id = ${userId}`;
}

const undoFor = (ctx: AuthContext, issued: Issued) => () =>
  issued.created ? ctx.db.sql`delete from auth.users where id = ${issued.user.id}` : deleteToken(ctx.db.sql, issued.token.id);

/** POST /otp: a code (and, by email, a magic link) for an existing or — if allowed — new user. */
export async function requestOtp(ctx: AuthContext, client: Client, input: OtpInput): Promise<{ message_id?: string }> {
  if (input.email) {
    const email = normaliseEmail(input.email);
    requireMailer(ctx);
    takeSend(ctx, "email", email);
    const issued = await issueFor(ctx, { email }, input, (u) => (u.email_confirmed_at ? "recovery_token" : "confirmation_token"), email);
    const confirmed = issued.confirmed;
    await sendEmail(
      ctx,
      client,
      {
        kind: confirmed ? "magicLink" : "confirmation",
        to: email,
        token: issued.token,
        type: confirmed ? "magiclink" : "signup",
        redirectTo: input.redirectTo,
      },
      undoFor(ctx, issued),
    );
    return {};
  }
  if (input.phone) {
    const phone = normalisePhoneNumber(ctx.config, input.phone);
    requireSms(ctx);
    takeSend(ctx, "sms", phone.stored);
    const issued = await issueFor(ctx, { phone: phone.stored }, { ...input, pkce: null }, () => "confirmation_token", phone.stored);
    const messageId = await sendSms(ctx, phone.e164, issued.token.code, undoFor(ctx, issued));
    return messageId ? { message_id: messageId } : {};
  }
  throw AuthErrors.validation("An email address or phone number is required");
}

async function issueFor(
  ctx: AuthContext,
  who: { email: string } | { phone: string },
  input: OtpInput,
  typeFor: (u: UserRow) => TokenType,
  relatesTo: string,
): Promise<Issued> {
  try {
    return await ctx.db.sql.begin(async (tx) => {
      let user = await findUser(tx, who);
      let created = false;
      if (!user) {
        if (!input.createUser || !ctx.config.auth.enableSignup) throw AuthErrors.otpSignupDisabled();
        user = await insertUser(tx, { ...who, userMetadata: input.data });
        created = true;
      }
      const type = typeFor(user);
      const flowId = input.pkce ? await createFlow(tx, user.id, input.pkce, type === "recovery_token" ? "magiclink" : "email/signup") : null;
      const token = await issueToken(ctx, tx, user.id, type, relatesTo, flowId);
      await markSent(tx, user.id, type);
      return { user, token, created, confirmed: type === "recovery_token" };
    });
  } catch (err) {
    throw userWriteError(ctx, err);
  }
}

/**
 * POST /recover: `{}` whether or not the address has an account, in the same time. The request
 * does only what does not depend on the account (input, the mailer, the per-address limit); the
 * lookup, the code and the mail run after the response (background.ts), so neither the answer nor
 * its timing says whether the address is registered. A failed mail removes the code, as before, but
 * can no longer be reported: it is logged.
 */
export async function requestRecovery(
  ctx: AuthContext,
  client: Client,
  input: { email?: string; pkce: Pkce; redirectTo: string },
): Promise<Record<string, never>> {
  if (!input.email) throw AuthErrors.validation("Password recovery requires an email");
  const email = normaliseEmail(input.email);
  takeSend(ctx, "email", email);
  requireMailer(ctx);
  ctx.background.run("password recovery", () => sendRecovery(ctx, client, email, input));
  return {};
}

/**
 * The recovery itself, for a normalised address: the lookup, the code and the mail (a failed mail
 * removes the code and throws). False when no live account has the address. /recover runs it after
 * the response; the admin API's reset-password awaits it (the admin already knows the account).
 */
export async function sendRecovery(ctx: AuthContext, client: Client, email: string, input: { pkce: Pkce; redirectTo: string }): Promise<boolean> {
  const issued = await ctx.db.sql.begin(async (tx) => {
    const user = await findUser(tx, { email });
    if (!user || user.deleted_at) return null;
    const flowId = input.pkce ? await createFlow(tx, user.id, input.pkce, "recovery") : null;
    const token = await issueToken(ctx, tx, user.id, "recovery_token", email, flowId);
    await markSent(tx, user.id, "recovery_token");
    return { user, token, created: false, confirmed: true } satisfies Issued;
  });
  if (!issued) return false;
  await sendEmail(ctx, client, { kind: "recovery", to: email, token: issued.token, type: "recovery", redirectTo: input.redirectTo }, undoFor(ctx, issued));
  return true;
}

export const RESEND_TYPES = ["signup", "email_change", "sms", "phone_change"] as const;
export type ResendType = (typeof RESEND_TYPES)[number];

type ResendInput = { type: ResendType; email?: string; phone?: string; pkce: Pkce; redirectTo: string };

/**
 * POST /resend: a fresh code for a pending confirmation; nothing when none is pending. Like
 * /recover, the answer is `{}` either way and the work runs after the response: whether a
 * confirmation is pending must not show in the answer's timing. (GoTrue answers an SMS resend with
 * the provider's message_id, which says as much as the timing did; Plinth does not.)
 */
export async function resend(ctx: AuthContext, client: Client, input: ResendInput): Promise<Record<string, never>> {
  if (input.type === "signup" || input.type === "email_change") {
    if (!input.email) throw AuthErrors.validation("Resending this type requires an email");
    const email = normaliseEmail(input.email);
    requireMailer(ctx);
    takeSend(ctx, "email", email);
    if (input.type === "signup") ctx.background.run("resend of a sign-up confirmation", () => resendSignup(ctx, client, email, input));
    else ctx.background.run("resend of an email change", () => resendEmailChange(ctx, client, email, input));
    return {};
  }
  if (!input.phone) throw AuthErrors.validation("Resending this type requires a phone number");
  const phone = normalisePhoneNumber(ctx.config, input.phone).stored;
  requireSms(ctx);
  takeSend(ctx, "sms", phone);
  ctx.background.run("resend of a phone confirmation", () => resendPhone(ctx, phone, input.type));
  return {};
}

async function resendSignup(ctx: AuthContext, client: Client, email: string, input: ResendInput): Promise<void> {
  const issued = await ctx.db.sql.begin(async (tx) => {
    const user = await findUser(tx, { email });
    if (!user || user.email_confirmed_at) return null;
    const flowId = input.pkce ? await createFlow(tx, user.id, input.pkce, "email/signup") : null;
    const token = await issueToken(ctx, tx, user.id, "confirmation_token", email, flowId);
    await markSent(tx, user.id, "confirmation_token");
    return { user, token, created: false, confirmed: false } satisfies Issued;
  });
  if (issued) {
    await sendEmail(ctx, client, { kind: "confirmation", to: email, token: issued.token, type: "signup", redirectTo: input.redirectTo }, undoFor(ctx, issued));
  }
}

async function resendPhone(ctx: AuthContext, phone: string, type: ResendType): Promise<void> {
  const issued = await ctx.db.sql.begin(async (tx) => {
    let user: UserRow | undefined;
    if (type === "sms") {
      user = (await findUser(tx, { phone })) ?? undefined;
      if (!user || user.phone_confirmed_at) return null;
    } else {
      const rows: UserRow[] = await tx.unsafe(`select ${USER_COLUMNS} from auth.users u where u.phone_change = $1 limit 1`, [phone]);
      user = rows[0];
      if (!user) return null;
    }
    const tokenType: TokenType = type === "sms" ? "confirmation_token" : "phone_change_token";
    const token = await issueToken(ctx, tx, user.id, tokenType, phone);
    await markSent(tx, user.id, tokenType);
    return { user, token, created: false, confirmed: false } satisfies Issued;
  });
  if (issued) await sendSms(ctx, toE164(phone), issued.token.code, undoFor(ctx, issued));
}

/**
 * Resend of a pending email change (either address may be given): fresh tokens for every address
 * that must confirm, and the confirmation count starts again, as GoTrue's sendEmailChange does.
 * A failed send removes the tokens but leaves the change pending.
 */
async function resendEmailChange(ctx: AuthContext, client: Client, email: string, input: ResendInput): Promise<void> {
  const issued = await ctx.db.sql.begin(async (tx) => {
    const rows: UserRow[] = await tx.unsafe(
      `select ${USER_COLUMNS} from auth.users u where (u.email = $1 or u.email_change = $1) and coalesce(u.email_change, '') <> ''
       order by (u.email = $1) desc, u.email_change_sent_at desc nulls last limit 1`,
      [email],
    );
    const user = rows[0];
    if (!user) return null;
    const flowId = input.pkce ? await createFlow(tx, user.id, input.pkce, "email_change") : null;
    return { userId: user.id, tokens: await issueEmailChange(ctx, tx, user, user.email_change!, flowId) };
  });
  if (issued) await sendEmailChange(ctx, client, issued.userId, issued.tokens, input.redirectTo, false);
}
