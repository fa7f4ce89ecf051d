// The mfa_verification_attempt hook (Supabase's name and payload): after each TOTP verification the
// hook gets {factor_id, user_id, valid} and may answer {decision: "reject", message}: 422
// mfa_verification_rejected, and a rejected valid attempt puts the session back to aal1 (the aal2 token
// made was never handed out). Off: no cost.
import type { Config } from "../../config/schema.ts";
import type { Database } from "../../db/pool.ts";
import { isPlinthError } from "../../errors.ts";
import { AuthErrors } from "../errors.ts";
import type { Logger } from "../../log.ts";
import type { SessionJson } from "../sessions.ts";
import { createHookRunner } from "./runner.ts";

// GoTrue's code for it; 422 as the other MFA refusals here (auth-js drops the session on some 403s).
const rejected = (message: unknown) =>
  AuthErrors.mfaVerificationRejected(typeof message === "string" && message ? message.slice(0, 500) : "Verification refused by policy");

export async function withMfaAttemptHook(
  deps: { config: Config; db: Database; log: Logger },
  ids: { userId: string; factorId: string },
  attempt: () => Promise<SessionJson>,
): Promise<SessionJson> {
  const runner = createHookRunner(deps.config, deps.db, deps.log);
  if (!runner.enabled("mfa_verification_attempt")) return attempt();
  const payload = { factor_id: ids.factorId, user_id: ids.userId };
  let session: SessionJson;
  try {
    session = await attempt();
  } catch (err) {
    if (isPlinthError(err) && err.code === "mfa_verification_failed") {
      const out = await runner.run("mfa_verification_attempt", { ...payload, valid: false });
      if (out.decision === "reject") throw rejected(out.message);
    }
    throw err;
  }
  const out = await runner.run("mfa_verification_attempt", { ...payload, valid: true }).catch(async (err) => {
    await undoUpgrade(deps.db, session);
    throw err;
  });
  if (out.decision === "reject") {
    await undoUpgrade(deps.db, session);
    throw rejected(out.message);
  }
  return session;
}

/**
 * A verification raises the caller's own session to aal2 in place (same session id): a refusal puts
 * it back to aal1 and drops the amr entry just added, so a refresh cannot mint the aal2 token the
 * refused attempt would have had. The aal2 token made was never handed out.
 */
async function undoUpgrade(db: Database, session: SessionJson): Promise<void> {
  const sid = JSON.parse(Buffer.from(session.access_token.split(".")[1]!, "base64url").toString()).session_id;
  if (typeof sid !== "string") return;
  await db.sql`update auth.sessions set aal = 'aal1', factor_id = null,
                 amr = case when jsonb_array_length(amr) > 1 then amr - (jsonb_array_length(amr) - 1) else amr end, updated_at = now()
               where id = ${sid}`;
}
