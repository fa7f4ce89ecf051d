// The mfa_verification_attempt hook (Supabase's name and payload): each TOTP verification asks the
// hook with {factor_id, user_id, valid} and it may answer {decision: "reject", message}: 422
// mfa_verification_rejected. Off: no cost (no decider, verify runs as before).
//
// Where it runs (the trap): a valid code is decided INSIDE verify's transaction, after the code
// check and before anything is written, as GoTrue asks the hook before it updates the factor. A
// refusal (or a hook that fails) rolls the transaction back, so a factor's first verification leaves
// it unverified, the challenge unused, the other pending factors in place and the session at aal1.
// A wrong code is decided after verify's transaction commits, so the attempt still counts.
import type { Config } from "../../config/schema.ts";
import type { Database } from "../../db/pool.ts";
import { AuthErrors } from "../errors.ts";
import type { Logger } from "../../log.ts";
import { createHookRunner } from "./runner.ts";

// GoTrue's code for it; 422 as the other MFA refusals here (auth-js drops the session on some 403s).
const rejected = (message: unknown) =>
  AuthErrors.mfaVerificationRejected(typeof message === "string" && message ? message.slice(0, 500) : "Verification refused by policy");

/** Asks the hook about one attempt; throws mfa_verification_rejected on "reject". */
export type MfaAttemptDecider = (valid: boolean) => Promise<void>;

/** The decider for this user's factor, or undefined when the hook is off. */
export function mfaAttemptDecider(
  deps: { config: Config; db: Database; log: Logger },
  ids: { userId: string; factorId: string },
): MfaAttemptDecider | undefined {
  const runner = createHookRunner(deps.config, deps.db, deps.log);
  if (!runner.enabled("mfa_verification_attempt")) return undefined;
  return async (valid) => {
    const out = await runner.run("mfa_verification_attempt", { factor_id: ids.factorId, user_id: ids.userId, valid });
    if (out.decision === "reject") throw rejected(out.message);
  };
}
