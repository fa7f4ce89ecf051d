// Emergency access: for an operator locked out of every admin account but with a shell on the
// server. `plinth emergency-access --reason TEXT [--ttl 15m]` issues a one-time code (only its
// digest is stored, with the reason and the OS user); POST /admin/v1/auth/emergency {"code"} redeems
// it once, within its TTL, for a session that acts as a system_admin without being an account
// (lifetime capped at EMERGENCY_SESSION_SECONDS). Both ends are audited as security-relevant.
//
// Single use is one statement: the UPDATE that marks the code used only matches an unused, unexpired
// code, so two concurrent redemptions cannot both win.
import type { Sql } from "../../db/pool.ts";
import type { AdminContext } from "../context.ts";
import { AdminErrors } from "../errors.ts";
import { openSession, type ClientInfo } from "../sessions/store.ts";
import { EMERGENCY_CODE_PREFIX, isSecretOf, newSecret, secretDigest } from "../sessions/tokens.ts";
import { takeSignInToken, type SignedIn } from "./login.ts";
import { raiseSecurityEvent } from "../security/events.ts";

export const MIN_TTL_SECONDS = 60;
export const MAX_TTL_SECONDS = 24 * 3600;

export interface IssuedCode {
  id: string;
  code: string;
  expires_at: string;
}

export async function issueEmergencyCode(sql: Sql, opts: { ttlSeconds: number; reason: string; osUser: string }): Promise<IssuedCode> {
  if (opts.ttlSeconds < MIN_TTL_SECONDS || opts.ttlSeconds > MAX_TTL_SECONDS) {
    throw AdminErrors.validation(`The TTL must be between ${MIN_TTL_SECONDS / 60} minute and ${MAX_TTL_SECONDS / 3600} hours`);
  }
  const code = newSecret(EMERGENCY_CODE_PREFIX);
  const [row] = await sql<{ id: string; expires_at: Date }[]>`
    insert into plinth.admin_emergency_codes (code_hash, reason, os_user, expires_at)
    values (${secretDigest(code)}, ${opts.reason}, ${opts.osUser}, now() + make_interval(secs => ${opts.ttlSeconds}))
    returning id, expires_at`;
  return { id: row!.id, code, expires_at: row!.expires_at.toISOString() };
}

/** Redeems a code: a session, and the reason the code was issued with (for the audit record). */
export async function redeemEmergencyCode(
  ctx: AdminContext,
  client: ClientInfo,
  input: { code?: unknown },
): Promise<SignedIn & { reason: string; codeId: string }> {
  if (typeof input.code !== "string") throw AdminErrors.validation("The emergency sign-in needs code (a string)");
  takeSignInToken(ctx, client.ip);
  if (!isSecretOf(EMERGENCY_CODE_PREFIX, input.code.trim())) throw AdminErrors.invalidEmergencyCode();
  const digest = secretDigest(input.code.trim());
  const result = await ctx.sql.begin(async (tx) => {
    const [c] = await tx<{ id: string; reason: string }[]>`
      update plinth.admin_emergency_codes set used_at = now(), used_ip = ${client.ip}
      where code_hash = ${digest} and used_at is null and expires_at > now()
      returning id, reason`;
    if (!c) return null;
    const session = await openSession(tx, ctx.sessions, { emergencyCodeId: c.id }, "emergency", client);
    return { session, reason: c.reason, codeId: c.id };
  });
  if (!result) throw AdminErrors.invalidEmergencyCode();
  await raiseSecurityEvent(
    ctx.sql,
    {
      kind: "emergency_access",
      severity: "high",
      address: client.ip,
      userAgent: client.userAgent,
      details: { code_id: result.codeId, session_id: result.session.id, reason: result.reason },
    },
    ctx.log,
  );
  return { ...result, admin: { id: null, email: null, level: "system_admin", tables: [] } };
}
