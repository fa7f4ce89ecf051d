// POST /token grants: password (email, phone or username), refresh_token and pkce.
import type { AuthContext, Client } from "./context.ts";
import { AuthErrors } from "./errors.ts";
import { normaliseEmail, normalisePhoneNumber, normaliseUsername } from "./input.ts";
import { passwordWeakness, verifyPassword } from "./passwords.ts";
import { exchangeAuthCode } from "./pkce.ts";
import { refreshSession, startSession, type SessionJson } from "./sessions.ts";
import { findUser, isBanned, type Lookup, type UserRow } from "./users.ts";
import { NO_USER, afterSuccess, checkGate, keyOfLookup, lockoutDeps, rawKey, recordFailure } from "./lockout.ts";

export interface PasswordInput {
  email?: string;
  phone?: string;
  username?: string;
  password?: string;
}

/** The lookup for a sign-in identifier; a malformed one simply matches nobody. */
function lookupFor(ctx: AuthContext, input: PasswordInput): Lookup | null {
  try {
    if (input.email) return { email: normaliseEmail(input.email) };
    if (input.phone) return { phone: normalisePhoneNumber(ctx.config, input.phone).stored };
    if (input.username) return { username: normaliseUsername(input.username) };
  } catch {
    return null;
  }
  return null;
}

export async function passwordGrant(ctx: AuthContext, client: Client, input: PasswordInput): Promise<SessionJson> {
  const given = [input.email, input.phone, input.username].filter(Boolean).length;
  if (given === 0) throw AuthErrors.validation("Sign in requires an email, a phone number or a username");
  if (given > 1) throw AuthErrors.validation("Only an email address, a phone number or a username should be provided");
  if (!input.password) throw AuthErrors.validation("Sign in requires a password");
  const lookup = lookupFor(ctx, input);
  const user: UserRow | null = lookup ? await findUser(ctx.db.sql, lookup) : null;
  // The password is checked (against a dummy hash when there is no user) before anything about the
  // account is revealed: unknown user and wrong password answer the same, in the same time.
  const ok = await verifyPassword(user?.encrypted_password, input.password);
  // Brute-force protection (lockout.ts): one statement, the same for a real and an invented
  // identifier; a lock refuses the right password too.
  const lockout = lockoutDeps(ctx.db.sql, ctx.config, ctx.log);
  const key = keyOfLookup(lookup) ?? rawKey(input.email ? "email" : input.phone ? "phone" : "username", (input.email ?? input.phone ?? input.username)!);
  const gate = await checkGate(lockout, key, { userId: user?.id ?? NO_USER, client });
  if (gate.retryAfter > 0) {
    await recordFailure(lockout, null, client, { flow: "password" });
    throw AuthErrors.userLocked(gate.retryAfter);
  }
  if (!user || !ok || user.deleted_at) {
    await recordFailure(lockout, key, client, { userId: user && !user.deleted_at ? user.id : null, flow: "password" });
    throw AuthErrors.invalidCredentials();
  }
  if (isBanned(user)) throw AuthErrors.userBanned();
  if (lookup && "phone" in lookup) {
    if (!user.phone_confirmed_at) throw AuthErrors.phoneNotConfirmed();
  } else if (user.email && !user.email_confirmed_at && !(lookup && "username" in lookup && user.phone_confirmed_at)) {
    throw AuthErrors.emailNotConfirmed();
  }
  const session = await startSession(ctx, ctx.db.sql, user.id, "password", client);
  await afterSuccess(lockout, key, gate, user.id, client);
  const weak = passwordWeakness(ctx.config, input.password);
  if (weak) session.weak_password = weak;
  return session;
}

export async function refreshGrant(ctx: AuthContext, refreshToken: string | undefined, client?: Client): Promise<SessionJson> {
  if (!refreshToken) throw AuthErrors.refreshNotFound();
  if (refreshToken.length > 256) throw AuthErrors.refreshNotFound();
  return refreshSession(ctx, ctx.db.sql, refreshToken, ctx.config.auth.refreshReuseInterval, client);
}

export async function pkceGrant(ctx: AuthContext, client: Client, authCode: string | undefined, verifier: string | undefined): Promise<SessionJson> {
  if (!authCode || !verifier) throw AuthErrors.validation("invalid request: both auth code and code verifier should be non-empty");
  const { userId, method } = await exchangeAuthCode(ctx.db.sql, authCode, verifier);
  const user = await findUser(ctx.db.sql, { id: userId });
  if (!user) throw AuthErrors.userNotFound();
  if (isBanned(user)) throw AuthErrors.userBanned();
  return startSession(ctx, ctx.db.sql, userId, method, client);
}
