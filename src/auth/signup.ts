// Sign-up: email, phone or username with a password, or anonymous. With autoconfirm the answer is a
// session; otherwise the user (and a confirmation code + link, sent after commit). A repeated
// sign-up of a confirmed address answers like a new one unless autoconfirm is on, where GoTrue
// answers user_already_exists.
//
// Trap: "like a new one" is GoTrue's obfuscated user, whose empty `identities` clients are told to
// read as "already registered", so the answer itself says whether the address has an account. That
// is why the confirmation mail is still sent inside the request (and a failed send still reported):
// moving it after the response, as /recover and /resend do, would even out a timing difference
// that the body already gives away.
import type postgres from "postgres";
import type { AuthContext, Client } from "./context.ts";
import { takeSend } from "./context.ts";
import { AuthErrors } from "./errors.ts";
import { normaliseEmail, normalisePhoneNumber, normaliseUsername } from "./input.ts";
import { requireMailer, requireSms, sendEmail, sendSms } from "./messages.ts";
import { deleteToken, issueToken, type IssuedToken } from "./otp.ts";
import { assertPasswordAcceptable, assertPasswordGiven, hashPassword } from "./passwords.ts";
import { createFlow } from "./pkce.ts";
import { startSession, type SessionJson } from "./sessions.ts";
import { findUser, insertUser, obfuscatedUser, userJson, type UserJson, type UserRow } from "./users.ts";

export interface SignupInput {
  email?: string;
  phone?: string;
  username?: string;
  password?: string;
  data?: Record<string, unknown>;
  pkce: { challenge: string; method: "s256" | "plain" } | null;
  redirectTo: string;
}

type Outcome = { kind: "session"; session: SessionJson } | { kind: "exists" } | { kind: "confirm"; user: UserRow; token: IssuedToken; created: boolean };

/** Maps database failures of a user insert: unique violations to "exists", trigger failures to 500. */
export function userWriteError(ctx: AuthContext, err: unknown): unknown {
  const pg = err as { code?: string; constraint_name?: string };
  if (pg && pg.code === "23505") {
    if (pg.constraint_name === "users_phone_key") return AuthErrors.phoneExists();
    if (pg.constraint_name === "users_username_key") return AuthErrors.userAlreadyExists("Username is already taken");
    return AuthErrors.userAlreadyExists();
  }
  if (pg && typeof pg.code === "string" && /^[0-9A-Z]{5}$/.test(pg.code)) {
    ctx.log.error("auth: saving user failed", { error: err });
    return AuthErrors.userCreationFailed();
  }
  return err;
}

export async function signUp(ctx: AuthContext, client: Client, input: SignupInput): Promise<SessionJson | UserJson> {
  if (!ctx.config.auth.enableSignup) throw AuthErrors.signupDisabled();
  if (!input.email && !input.phone && !input.username) {
    if (input.password) throw AuthErrors.validation("Sign up requires an email, a phone number or a username");
    return signUpAnonymously(ctx, client, input.data);
  }
  if (input.email && input.phone) throw AuthErrors.validation("Sign up with either an email or a phone number, not both");
  assertPasswordGiven(input.password);
  const email = input.email ? normaliseEmail(input.email) : undefined;
  const phone = input.phone ? normalisePhoneNumber(ctx.config, input.phone) : undefined;
  const username = input.username ? normaliseUsername(input.username) : undefined;
  assertPasswordAcceptable(ctx.config, input.password);

  const needsConfirmation = !ctx.autoconfirm && (email !== undefined || phone !== undefined);
  if (needsConfirmation) {
    if (email) requireMailer(ctx);
    else requireSms(ctx);
    // Taken before any work, for new and existing addresses alike: the limit reveals nothing.
    takeSend(ctx, email ? "email" : "sms", email ?? phone!.stored);
  }
  const encryptedPassword = await hashPassword(input.password);

  let outcome: Outcome;
  try {
    outcome = (await ctx.db.sql.begin(async (tx) => {
      const existing = email ? await findUser(tx, { email }) : phone ? await findUser(tx, { phone: phone.stored }) : null;
      if (username) {
        const holder = await findUser(tx, { username });
        if (holder && holder.id !== existing?.id) throw AuthErrors.userAlreadyExists("Username is already taken");
      }
      if (existing) {
        const confirmed = email ? existing.email_confirmed_at !== null : existing.phone_confirmed_at !== null;
        if (confirmed || ctx.autoconfirm) return { kind: "exists" } as const;
        return { kind: "confirm", user: existing, token: await confirmationToken(ctx, tx, existing, email, phone?.stored, input), created: false } as const;
      }
      const user = await insertUser(tx, {
        email,
        phone: phone?.stored,
        username,
        encryptedPassword,
        userMetadata: input.data,
        emailConfirmed: !!email && ctx.autoconfirm,
        phoneConfirmed: !!phone && ctx.autoconfirm,
      });
      if (!needsConfirmation) return { kind: "session", session: await startSession(ctx, tx, user.id, "password", client) } as const;
      const token = await confirmationToken(ctx, tx, user, email, phone?.stored, input);
      return { kind: "confirm", user: (await findUser(tx, { id: user.id }))!, token, created: true } as const;
    })) as Outcome;
  } catch (err) {
    throw userWriteError(ctx, err);
  }

  if (outcome.kind === "session") return outcome.session;
  if (outcome.kind === "exists") {
    if (ctx.autoconfirm) throw AuthErrors.userAlreadyExists();
    return obfuscatedUser({ email, phone: phone?.stored, data: input.data });
  }
  const { user, token, created } = outcome;
  const undo = () => (created ? ctx.db.sql`delete from auth.users where id = ${user.id}` : deleteToken(ctx.db.sql, token.id));
  if (email) {
    await sendEmail(ctx, client, { kind: "confirmation", to: email, token, type: "signup", redirectTo: input.redirectTo }, undo);
  } else if (phone) {
    await sendSms(ctx, phone.e164, token.code, undo);
  }
  return userJson(user);
}

async function confirmationToken(
  ctx: AuthContext,
  tx: postgres.TransactionSql,
  user: UserRow,
  email: string | undefined,
  phone: string | undefined,
  input: SignupInput,
): Promise<IssuedToken> {
  const flowId = email && input.pkce ? await createFlow(tx, user.id, input.pkce, "email/signup") : null;
  const token = await issueToken(ctx, tx, user.id, "confirmation_token", (email ?? phone)!, flowId);
  await tx`update auth.users set confirmation_sent_at = now() where id = ${user.id}`;
  return token;
}

async function signUpAnonymously(ctx: AuthContext, client: Client, data: Record<string, unknown> | undefined): Promise<SessionJson> {
  if (!ctx.config.auth.enableAnonymous) throw AuthErrors.anonymousDisabled();
  try {
    return await ctx.db.sql.begin(async (tx) => {
      const user = await insertUser(tx, { isAnonymous: true, userMetadata: data });
      return startSession(ctx, tx, user.id, "anonymous", client);
    });
  } catch (err) {
    throw userWriteError(ctx, err);
  }
}
