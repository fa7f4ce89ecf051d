// The password_verification_attempt hook (Supabase's name and payload): after a password sign-in
// attempt on an existing account, the hook gets {user_id, valid} and answers {decision: "continue"}
// or {decision: "reject", message}. A rejected *valid* attempt ends the session just made (it was
// never handed out) and answers 403 password_attempt_rejected with the hook's message; a rejected
// invalid attempt answers the same, so the hook can run its own lockout policy. Off: no cost.
import type { Config } from "../../config/schema.ts";
import type { Database } from "../../db/pool.ts";
import { PlinthError, isPlinthError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { normaliseEmail, normaliseUsername } from "../input.ts";
import type { SessionJson } from "../sessions.ts";
import { createHookRunner } from "./runner.ts";

const rejected = (message: unknown) =>
  new PlinthError(403, "password_attempt_rejected", typeof message === "string" && message ? message.slice(0, 500) : "Sign-in refused by policy");

export async function withPasswordAttemptHook(
  deps: { config: Config; db: Database; log: Logger },
  input: { email?: string; username?: string; phone?: string },
  attempt: () => Promise<SessionJson>,
): Promise<SessionJson> {
  const runner = createHookRunner(deps.config, deps.db, deps.log);
  if (!runner.enabled("password_verification_attempt")) return attempt();
  let session: SessionJson;
  try {
    session = await attempt();
  } catch (err) {
    if (!isPlinthError(err) || err.code !== "invalid_credentials") throw err;
    const userId = await existingUserId(deps.db, input);
    if (userId) {
      const out = await runner.run("password_verification_attempt", { user_id: userId, valid: false });
      if (out.decision === "reject") throw rejected(out.message);
    }
    throw err;
  }
  const userId = String((session.user as { id: string }).id);
  const out = await runner.run("password_verification_attempt", { user_id: userId, valid: true }).catch(async (err) => {
    await endSession(deps.db, session);
    throw err;
  });
  if (out.decision === "reject") {
    await endSession(deps.db, session);
    throw rejected(out.message);
  }
  return session;
}

export async function endSession(db: Database, session: SessionJson): Promise<void> {
  const sid = JSON.parse(Buffer.from(session.access_token.split(".")[1]!, "base64url").toString()).session_id;
  if (typeof sid === "string") await db.sql`delete from auth.sessions where id = ${sid}`;
}

async function existingUserId(db: Database, input: { email?: string; username?: string }): Promise<string | null> {
  try {
    if (input.email)
      return (await db.sql<{ id: string }[]>`select id from auth.users where email = ${normaliseEmail(input.email)} and is_sso_user = false`)[0]?.id ?? null;
    if (input.username) return (await db.sql<{ id: string }[]>`select id from auth.users where username = ${normaliseUsername(input.username)}`)[0]?.id ?? null;
  } catch {
    // a malformed identifier matches nobody
  }
  return null;
}
