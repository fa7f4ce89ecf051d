// grant_type=password with an LDAP directory in front of (or behind) the local passwords. The order
// is auth.ldap.order: ["ldap", "local"] tries the directory first and falls back to local passwords
// when the directory does not know the login, refuses it, or is down; ["ldap"] alone makes the
// directory the only way in (503 directory_unavailable when it is down); ["local", "ldap"] asks the
// directory only after a local refusal. Phone sign-ins never go to the directory.
//
// A directory sign-in provisions just in time: an `ldap` identity (provider_id = entryUUID or DN)
// on a new user, or on the existing user with the same address (the directory is configured by the
// operator, so its addresses count as verified); the entry's groups land in app_metadata.groups, and
// groups named in auth.ldap.adminGroups give the user that admin level (the highest that matches),
// kept in step at each sign-in for levels the directory gave (created_via 'ldap'), never touching an
// admin account made by hand.
import type postgres from "postgres";
import { PlinthError, isPlinthError } from "../../errors.ts";
import type { AuthContext, Client } from "../context.ts";
import { AuthErrors } from "../errors.ts";
import { resolveProviderUser } from "../oauth/identities.ts";
import { startSession, type SessionJson } from "../sessions.ts";
import type { PasswordInput } from "../signin.ts";
import { normaliseEmail, normaliseUsername } from "../input.ts";
import { NO_USER, afterSuccess, checkGate, keyOfLookup, lockoutDeps, rawKey, recordFailure } from "../lockout.ts";
import { withPasswordAttemptHook } from "../hooks/password-attempt.ts";
import { createDirectory, DirectoryUnavailable, ldapEnabled, type Directory, type DirectoryUser } from "./directory.ts";

const LEVELS = ["system_admin", "admin", "moderator", "viewer"] as const;
const directories = new WeakMap<AuthContext, Directory>();

export const directoryDown = () => new PlinthError(503, "directory_unavailable", "The sign-in directory cannot be reached, try again later");

function directoryFor(ctx: AuthContext): Directory {
  let d = directories.get(ctx);
  if (!d) {
    d = createDirectory(ctx.config.auth.ldap);
    directories.set(ctx, d);
  }
  return d;
}

/** The admin level the user's groups give (DN or cn, case-insensitive), or null. */
export function levelOfGroups(groups: string[], map: Record<string, string>): (typeof LEVELS)[number] | null {
  const names = new Set(groups.flatMap((g) => [g.toLowerCase(), /^cn=([^,]+)/i.exec(g)?.[1]?.toLowerCase() ?? ""]).filter(Boolean));
  let best: number = LEVELS.length;
  for (const [group, level] of Object.entries(map)) {
    const i = LEVELS.indexOf(level as (typeof LEVELS)[number]);
    if (i >= 0 && i < best && names.has(group.toLowerCase())) best = i;
  }
  return best < LEVELS.length ? LEVELS[best]! : null;
}

async function provision(ctx: AuthContext, client: Client, du: DirectoryUser): Promise<SessionJson> {
  const claims: Record<string, unknown> = {
    sub: du.id,
    provider_id: du.id,
    dn: du.dn,
    email: du.email ?? undefined,
    email_verified: !!du.email,
    phone_verified: false,
    name: du.name ?? undefined,
    full_name: du.name ?? undefined,
    preferred_username: du.login,
    groups: du.groups,
  };
  for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
  return ctx.db.sql.begin(async (tx) => {
    const { user } = await resolveProviderUser(ctx, tx, "ldap", { id: du.id, email: du.email, emailVerified: !!du.email, claims }, null);
    await tx`update auth.users set raw_app_meta_data = coalesce(raw_app_meta_data, '{}'::jsonb) || jsonb_build_object('groups', ${tx.json(du.groups)}::jsonb)
             where id = ${user.id}`;
    await syncAdminLevel(ctx, tx, user.id, levelOfGroups(du.groups, ctx.config.auth.ldap.adminGroups));
    return startSession(ctx, tx, user.id, "password", client);
  });
}

async function syncAdminLevel(ctx: AuthContext, tx: postgres.TransactionSql, userId: string, level: string | null): Promise<void> {
  if (Object.keys(ctx.config.auth.ldap.adminGroups).length === 0) return;
  if (level) {
    await tx`insert into plinth.admins (user_id, level, created_via) values (${userId}, ${level}, 'ldap')
             on conflict (user_id) do update set level = excluded.level, updated_at = now()
             where plinth.admins.created_via = 'ldap' and plinth.admins.level <> excluded.level`;
  } else {
    await tx`delete from plinth.admins where user_id = ${userId} and created_via = 'ldap'`;
  }
}

function lockKeyOf(input: PasswordInput, login: string): string {
  try {
    const k = keyOfLookup(input.email ? { email: normaliseEmail(input.email) } : { username: normaliseUsername(login) });
    if (k) return k;
  } catch {
    // a login local rules would refuse (e.g. a uid with characters usernames cannot have)
  }
  return rawKey(input.email ? "email" : "username", login);
}

/** The password grant with the directory in the configured order; `local` is the local-password grant. */
export async function passwordWithDirectory(ctx: AuthContext, client: Client, input: PasswordInput, local: () => Promise<SessionJson>): Promise<SessionJson> {
  // The password_verification_attempt hook (when configured) sees the outcome, whichever provider decided it.
  return withPasswordAttemptHook(ctx, input, () => directoryThenLocal(ctx, client, input, local));
}

async function directoryThenLocal(ctx: AuthContext, client: Client, input: PasswordInput, local: () => Promise<SessionJson>): Promise<SessionJson> {
  const c = ctx.config.auth.ldap;
  const login = input.email ?? input.username;
  if (!ldapEnabled(c) || input.phone || !login || !input.password) return local();
  const order = c.order;
  for (let i = 0; i < order.length; i++) {
    const last = i === order.length - 1;
    if (order[i] === "local") {
      try {
        return await local();
      } catch (err) {
        if (!last && isPlinthError(err) && err.code === "invalid_credentials") continue;
        throw err;
      }
    }
    // Brute-force protection (lockout.ts) on the same key the local path uses: the directory step is
    // gated like a local password check, and counts a failure when nothing is tried after it.
    const lockout = lockoutDeps(ctx.db.sql, ctx.config, ctx.log);
    const key = lockKeyOf(input, login);
    const gate = await checkGate(lockout, key, { userId: NO_USER, client });
    if (gate.retryAfter > 0) throw AuthErrors.userLocked(gate.retryAfter);
    let du: DirectoryUser | null;
    try {
      du = await directoryFor(ctx).authenticate(login.trim(), input.password);
    } catch (err) {
      if (!(err instanceof DirectoryUnavailable)) throw err;
      ctx.log.warn("auth: ldap directory unavailable", { error: err.message });
      if (!last) continue;
      throw directoryDown();
    }
    if (du) {
      const session = await provision(ctx, client, du);
      await afterSuccess(lockout, key, gate, String((session.user as { id: string }).id), client);
      return session;
    }
    if (last) await recordFailure(lockout, key, client, { userId: null, flow: "ldap" });
  }
  throw AuthErrors.invalidCredentials();
}
