// What an admin does to end users through /admin/v1/users: ban, unban, sign out, reset the
// password (users:manage), create, invite, delete (users:admin). Each is the auth service's own
// logic (src/auth/: updateUserById's ban_duration, the recover and OTP flows, createUser, invite,
// deleteUser), behind the rule of levels for users that are themselves admins (rules.ts).
//
// Traps:
// - The admin service gets no handle on the auth service's context (services are built apart, from
//   a ServiceContext), so it builds one of its own with the same config: the same mailer and SMS
//   settings, keys and flows. Its per-recipient send limits are its own buckets: an admin's sends do
//   not use up a user's /auth/v1 budget, and are still limited per recipient.
// - The rule is checked on the target as read just before the action, not under a lock with it: a
//   user promoted in between can still be acted on as it was (the window is one request's length).
// - Signing out ends the user's GoTrue sessions (their refresh tokens go with them, at once); access
//   tokens already issued live until they expire, as in GoTrue. An admin's own admin sessions are
//   /admin/v1/sessions' business.
import { createAuthContext, takeSend, type AuthContext, type Client } from "../../auth/context.ts";
import { toE164 } from "../../auth/input.ts";
import { requestOtp, sendRecovery } from "../../auth/otp-requests.ts";
import { createUser, deleteUser, invite, updateUserById, type AdminAttributes } from "../../auth/user-admin.ts";
import { createMailer, createSmsSender } from "../../delivery/index.ts";
import type { ServiceContext } from "../../service.ts";
import type { AdminActor } from "../authorize.ts";
import { AdminError, AdminErrors } from "../errors.ts";
import { getEndUserSummary, type EndUserSummary } from "./directory.ts";
import { endUserActionError } from "./rules.ts";

export const EndUserErrors = {
  noRecoveryAddress: () => new AdminError(409, "no_recovery_address", "This user has neither an email nor a phone number to send a reset to"),
  deliveryNotConfigured: (what: string) => new AdminError(409, "delivery_not_configured", `No provider is configured that can reach this user: ${what}`),
  userReferenced: () =>
    new AdminError(409, "user_referenced", "Rows of other tables still refer to this user (a foreign key without ON DELETE): remove or change them first"),
};

/** The auth context the admin plane's user actions run with (see the header: one of its own). */
export function endUserAuth(svc: ServiceContext): AuthContext {
  return createAuthContext({
    config: svc.config,
    db: svc.db,
    log: svc.log,
    secret: svc.jwtSecret,
    mailer: createMailer(svc.config),
    sms: createSmsSender(svc.config),
  });
}

/** The user `actor` is about to act on, or 404; 403 when it is an admin not below the actor's level. */
async function target(auth: AuthContext, actor: AdminActor, id: string): Promise<EndUserSummary> {
  const user = await getEndUserSummary(auth.db.sql, id);
  if (!user) throw AdminErrors.userNotFound();
  const refused = endUserActionError(actor, user.admin_level);
  if (refused) throw refused;
  return user;
}

async function summary(auth: AuthContext, id: string): Promise<EndUserSummary> {
  const user = await getEndUserSummary(auth.db.sql, id);
  if (!user) throw AdminErrors.userNotFound();
  return user;
}

/** Bans for a Go duration ("24h", "1h30m"; "none" lifts the ban), GoTrue's ban_duration: a ban also ends the user's sessions. */
export async function banUser(auth: AuthContext, actor: AdminActor, id: string, duration: string): Promise<EndUserSummary> {
  await target(auth, actor, id);
  await updateUserById(auth, id, { ban_duration: duration });
  return summary(auth, id);
}

export const unbanUser = (auth: AuthContext, actor: AdminActor, id: string): Promise<EndUserSummary> => banUser(auth, actor, id, "none");

/** Ends every session of the user; returns how many there were. */
export async function signOutUser(auth: AuthContext, actor: AdminActor, id: string): Promise<number> {
  await target(auth, actor, id);
  // endSessions(…, "global") without a caller's session: its refresh tokens go by cascade, and
  // the count says what was ended.
  const ended = await auth.db.sql`delete from auth.sessions where user_id = ${id} returning id`;
  return ended.length;
}

export interface ResetSent {
  channel: "email" | "sms";
  to: string;
}

/**
 * Sends the user a way back in: a recovery mail (/recover's flow) when it has an email and mail is
 * configured; else, for a phone, a one-time sign-in code by SMS (/otp's flow: GoTrue has no SMS
 * recovery; signed in, the user sets a new password). 409 when neither can reach the user.
 */
export async function resetPassword(auth: AuthContext, client: Client, actor: AdminActor, id: string, redirectTo: string): Promise<ResetSent> {
  const user = await target(auth, actor, id);
  if (user.email && auth.mailer) {
    takeSend(auth, "email", user.email);
    if (!(await sendRecovery(auth, client, user.email, { pkce: null, redirectTo }))) throw AdminErrors.userNotFound();
    return { channel: "email", to: user.email };
  }
  if (user.phone && auth.sms) {
    await requestOtp(auth, client, { phone: toE164(user.phone), createUser: false, pkce: null, redirectTo });
    return { channel: "sms", to: toE164(user.phone) };
  }
  if (!user.email && !user.phone) throw EndUserErrors.noRecoveryAddress();
  const missing = [user.email ? "no SMTP server (smtp.host)" : null, user.phone ? "no SMS provider (sms.provider)" : null].filter(Boolean);
  throw EndUserErrors.deliveryNotConfigured(missing.join(", "));
}

export type NewEndUser = Pick<
  AdminAttributes,
  "email" | "phone" | "username" | "password" | "email_confirm" | "phone_confirm" | "user_metadata" | "app_metadata"
>;

/** GoTrue's admin create (POST /auth/v1/admin/users). */
export async function createEndUser(auth: AuthContext, input: NewEndUser): Promise<EndUserSummary> {
  if (!input.email && !input.phone && !input.username) throw AdminErrors.validation("A new user needs an email, a phone number or a username");
  const user = await createUser(auth, input);
  return summary(auth, user.id);
}

/** GoTrue's invite (POST /auth/v1/invite): a new (or not yet confirmed) user and an invitation mail. */
export async function inviteEndUser(
  auth: AuthContext,
  client: Client,
  input: { email: string; data?: Record<string, unknown>; redirectTo: string },
): Promise<EndUserSummary> {
  if (!auth.mailer) throw EndUserErrors.deliveryNotConfigured("no SMTP server (smtp.host)");
  const user = await invite(auth, client, input);
  return summary(auth, user.id);
}

/** Deletes the user (GoTrue's hard delete: identities, sessions, factors and an admin account go with it). */
export async function deleteEndUser(auth: AuthContext, actor: AdminActor, id: string): Promise<void> {
  await target(auth, actor, id);
  try {
    await deleteUser(auth, id, false);
  } catch (err) {
    const pg = err as { code?: string; constraint_name?: string };
    // The trigger on plinth.admins (migration 0012), reached by the cascade.
    if (pg.code === "23514" && pg.constraint_name === "last_system_admin") throw AdminErrors.lastSystemAdmin();
    if (pg.code === "23503") throw EndUserErrors.userReferenced();
    throw err;
  }
}
