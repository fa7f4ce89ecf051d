// The signed-in user's own account: who the bearer token names (GET /user), changes to it
// (PUT /user: metadata; password, with a reauthentication nonce when auth.securePasswordChange asks
// for one; email and phone with confirmation, see email-change.ts), GET /reauthenticate, and
// signing out.
import type postgres from "postgres";
import type { Principal } from "../db/pool.ts";
import type { AuthContext, Client } from "./context.ts";
import { takeSend } from "./context.ts";
import { AuthErrors } from "./errors.ts";
import { normaliseEmail, normalisePhoneNumber } from "./input.ts";
import { issueEmailChange, sendEmailChange, takeEmailChangeSends, type EmailChangeTokens } from "./email-change.ts";
import { requireMailer, requireSms, sendReauthenticationEmail, sendSms } from "./messages.ts";
import { consumeCode, deleteToken, issueToken, type IssuedToken } from "./otp.ts";
import { assertPasswordAcceptable, hashPassword, verifyPassword } from "./passwords.ts";
import { createFlow } from "./pkce.ts";
import { endSessions, type LogoutScope } from "./sessions.ts";
import { USER_COLUMNS, confirmEmail, confirmPhone, ensureIdentity, findUser, isUuid, mergeMetadata, userJson, type UserJson, type UserRow } from "./users.ts";

export interface Caller {
  userId: string;
  sessionId: string;
}

/** The bearer must be a user's access token: a `sub` and a `session_id` (an API key has neither). */
export function callerOf(principal: Principal | null | undefined): Caller {
  if (!principal) throw AuthErrors.noAuthorization();
  const { sub, session_id } = principal.claims;
  if (typeof sub !== "string" || sub === "") throw AuthErrors.badJwt("invalid claim: missing sub claim");
  if (!isUuid(sub)) throw AuthErrors.badJwt("invalid claim: sub claim must be a UUID");
  if (typeof session_id !== "string" || !isUuid(session_id)) throw AuthErrors.badJwt("invalid claim: missing session_id claim");
  return { userId: sub, sessionId: session_id };
}

/** The caller's user, in one query that also checks the session is still live. */
export async function currentUser(ctx: AuthContext, caller: Caller): Promise<UserRow> {
  // USER_COLUMNS is our own fixed fragment; values are bind parameters.
  const rows = (await ctx.db.sql.unsafe(
    `select ${USER_COLUMNS},
       exists(select 1 from auth.sessions s where s.id = $2 and s.user_id = u.id and (s.not_after is null or s.not_after > now())) as session_live
     from auth.users u where u.id = $1`,
    [caller.userId, caller.sessionId],
  )) as (UserRow & { session_live: boolean })[];
  const row = rows[0];
  if (!row) throw AuthErrors.userNotFoundFromJwt();
  if (!row.session_live) throw AuthErrors.sessionNotFound();
  return row;
}

export async function logout(ctx: AuthContext, caller: Caller, scope: LogoutScope): Promise<void> {
  await endSessions(ctx.db.sql, caller.userId, caller.sessionId, scope);
}

export interface UserUpdate {
  email?: string;
  phone?: string;
  password?: string;
  currentPassword?: string;
  /** The code GET /reauthenticate sent (auth.securePasswordChange). */
  nonce?: string;
  data?: Record<string, unknown>;
  appMetadata?: Record<string, unknown>;
  pkce: { challenge: string; method: "s256" | "plain" } | null;
  redirectTo: string;
}

type Pending = { kind: "email"; tokens: EmailChangeTokens } | { kind: "phone"; e164: string; token: IssuedToken };

/**
 * With auth.securePasswordChange, a session signed in longer ago than this needs a reauthentication
 * nonce to change the password (GoTrue's rule: a recent sign-in, e.g. from a recovery link, is
 * proof enough).
 */
export const REAUTHENTICATION_WINDOW_SECONDS = 24 * 3600;

/** The addresses a reauthentication code may have been sent to. */
const reauthTargets = (u: UserRow): string[] => [u.email, u.phone].filter((a): a is string => !!a);

/**
 * Enforces auth.securePasswordChange before a password change: a nonce, when given, must be valid
 * (it is spent); without one, the session must be recent. A wrong nonce counts as a wrong code.
 * An account with neither email nor phone (anonymous) has nowhere to receive a nonce: its session
 * is its only credential, so it is not asked for one.
 */
async function checkReauthentication(ctx: AuthContext, user: UserRow, caller: Caller, nonce: string | undefined): Promise<void> {
  if (!ctx.config.auth.securePasswordChange || reauthTargets(user).length === 0) return;
  if (nonce === undefined) {
    const [s] = await ctx.db.sql<{ age: number }[]>`
      select extract(epoch from now() - created_at)::float8 as age from auth.sessions where id = ${caller.sessionId}`;
    if (s && s.age < REAUTHENTICATION_WINDOW_SECONDS) return;
    throw AuthErrors.reauthenticationNeeded();
  }
  const consumed = await ctx.db.sql.begin((tx) => consumeCode(ctx, tx, user.id, reauthTargets(user), nonce.trim(), ["reauthentication_token"]));
  if (!consumed) throw AuthErrors.reauthenticationNotValid();
}

export async function updateUser(ctx: AuthContext, client: Client, caller: Caller, input: UserUpdate): Promise<UserJson> {
  if (input.appMetadata !== undefined) throw AuthErrors.notAdmin("Updating app_metadata requires admin privileges");
  const user = await currentUser(ctx, caller);
  const email = input.email ? normaliseEmail(input.email) : undefined;
  const phone = input.phone ? normalisePhoneNumber(ctx.config, input.phone) : undefined;
  const emailChanges = email !== undefined && email !== user.email;
  const phoneChanges = phone !== undefined && phone.stored !== user.phone;
  // Permanent users confirm a new address; an anonymous user adding one is like a sign-up.
  const confirmEmailDirectly = emailChanges && user.is_anonymous && ctx.autoconfirm;
  const confirmPhoneDirectly = phoneChanges && ctx.autoconfirm;
  if (emailChanges && !confirmEmailDirectly) {
    requireMailer(ctx);
    takeEmailChangeSends(ctx, user.email, email!);
  }
  if (phoneChanges && !confirmPhoneDirectly) {
    requireSms(ctx);
    takeSend(ctx, "sms", phone!.stored);
  }

  let newHash: string | undefined;
  if (input.password !== undefined && input.password !== "") {
    if (user.is_anonymous && !email && !phone && !user.email && !user.phone) {
      throw AuthErrors.unprocessable("Updating password of an anonymous user without an email or phone is not allowed");
    }
    assertPasswordAcceptable(ctx.config, input.password);
    // After the strength check (a weak password must not spend the nonce), before the rest (GoTrue).
    await checkReauthentication(ctx, user, caller, input.nonce);
    if (user.encrypted_password && (await verifyPassword(user.encrypted_password, input.password))) throw AuthErrors.samePassword();
    newHash = await hashPassword(input.password);
  }

  const pending: Pending[] = [];
  try {
    await ctx.db.sql.begin(async (tx) => {
      if (emailChanges && (await findUser(tx, { email: email! }))) throw AuthErrors.emailExists();
      if (phoneChanges && (await findUser(tx, { phone: phone!.stored }))) throw AuthErrors.phoneExists();
      if (input.data) {
        const merged = mergeMetadata(user.raw_user_meta_data, input.data);
        await tx`update auth.users set raw_user_meta_data = ${tx.json(merged as postgres.JSONValue)}, updated_at = now() where id = ${user.id}`;
      }
      if (newHash) {
        await tx`update auth.users set encrypted_password = ${newHash}, updated_at = now() where id = ${user.id}`;
        // A new password signs out every other session (GoTrue's UpdatePassword).
        await tx`delete from auth.sessions where user_id = ${user.id} and id <> ${caller.sessionId}`;
      }
      if (emailChanges) {
        if (confirmEmailDirectly) {
          await tx`update auth.users set email = ${email!}, is_anonymous = false, updated_at = now() where id = ${user.id}`;
          await confirmEmail(tx, user.id);
          await ensureIdentity(tx, user.id, "email", { email, email_verified: true });
        } else {
          const flowId = input.pkce ? await createFlow(tx, user.id, input.pkce, "email_change") : null;
          pending.push({ kind: "email", tokens: await issueEmailChange(ctx, tx, user, email!, flowId) });
        }
      }
      if (phoneChanges) {
        if (confirmPhoneDirectly) {
          await tx`update auth.users set phone = ${phone!.stored}, is_anonymous = false, updated_at = now() where id = ${user.id}`;
          await confirmPhone(tx, user.id);
          await ensureIdentity(tx, user.id, "phone", { phone: phone!.stored, phone_verified: true });
        } else {
          await tx`update auth.users set phone_change = ${phone!.stored}, phone_change_sent_at = now(), updated_at = now() where id = ${user.id}`;
          pending.push({ kind: "phone", e164: phone!.e164, token: await issueToken(ctx, tx, user.id, "phone_change_token", phone!.stored) });
        }
      }
    });
  } catch (err) {
    if ((err as { code?: string }).code === "23505") throw email ? AuthErrors.emailExists() : AuthErrors.phoneExists();
    throw err;
  }

  for (const p of pending) {
    if (p.kind === "email") {
      await sendEmailChange(ctx, client, user.id, p.tokens, input.redirectTo, true);
    } else {
      const undo = async () => {
        await deleteToken(ctx.db.sql, p.token.id);
        await ctx.db.sql`update auth.users set phone_change = '', phone_change_sent_at = null where id = ${user.id}`;
      };
      await sendSms(ctx, p.e164, p.token.code, undo);
    }
  }
  return userJson((await findUser(ctx.db.sql, { id: user.id }))!);
}

/**
 * GET /reauthenticate: a one-time code (the nonce PUT /user takes with a new password) to the
 * user's confirmed email, or else by SMS to the confirmed phone. Stored hashed like every code.
 */
export async function reauthenticate(ctx: AuthContext, caller: Caller): Promise<{ message_id?: string }> {
  const user = await currentUser(ctx, caller);
  const email = user.email || null;
  const phone = user.phone || null;
  if (!email && !phone) throw AuthErrors.validation("Reauthentication requires the user to have an email or a phone number");
  if (email) {
    if (!user.email_confirmed_at) throw AuthErrors.verifyEmailFirst();
    requireMailer(ctx);
    takeSend(ctx, "email", email);
  } else {
    if (!user.phone_confirmed_at) throw AuthErrors.verifyPhoneFirst();
    requireSms(ctx);
    takeSend(ctx, "sms", phone!);
  }
  const token = await ctx.db.sql.begin(async (tx) => {
    const issued = await issueToken(ctx, tx, user.id, "reauthentication_token", (email ?? phone)!);
    await tx`update auth.users set reauthentication_sent_at = now() where id = ${user.id}`;
    return issued;
  });
  const undo = () => deleteToken(ctx.db.sql, token.id);
  if (email) {
    await sendReauthenticationEmail(ctx, email, token.code, undo);
    return {};
  }
  const messageId = await sendSms(ctx, phone!, token.code, undo);
  return messageId ? { message_id: messageId } : {};
}
