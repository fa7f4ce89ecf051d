// The signed-in user's own account: who the bearer token names (GET /user), changes to it
// (PUT /user: metadata, password, email and phone with confirmation), and signing out.
import type postgres from "postgres";
import type { Principal } from "../db/pool.ts";
import type { AuthContext, Client } from "./context.ts";
import { takeSend } from "./context.ts";
import { AuthErrors } from "./errors.ts";
import { normaliseEmail, normalisePhoneNumber } from "./input.ts";
import { requireMailer, requireSms, sendEmail, sendSms } from "./messages.ts";
import { deleteToken, issueToken, type IssuedToken } from "./otp.ts";
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
  data?: Record<string, unknown>;
  appMetadata?: Record<string, unknown>;
  pkce: { challenge: string; method: "s256" | "plain" } | null;
  redirectTo: string;
}

type Pending =
  | { kind: "email"; to: string; token: IssuedToken }
  | { kind: "phone"; e164: string; token: IssuedToken };

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
    takeSend(ctx, "email", email!);
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
          await tx`update auth.users set email_change = ${email!}, email_change_sent_at = now(), updated_at = now() where id = ${user.id}`;
          pending.push({ kind: "email", to: email!, token: await issueToken(ctx, tx, user.id, "email_change_token_new", email!, flowId) });
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
      const undo = async () => {
        await deleteToken(ctx.db.sql, p.token.id);
        await ctx.db.sql`update auth.users set email_change = '', email_change_sent_at = null where id = ${user.id}`;
      };
      await sendEmail(ctx, client, { kind: "emailChange", to: p.to, token: p.token, type: "email_change", redirectTo: input.redirectTo, newEmail: p.to }, undo);
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

