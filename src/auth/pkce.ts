// PKCE (RFC 7636) for e-mail flows: the client's code challenge is stored with the flow; when the
// user follows the link, GET /verify hands out an authorisation code (stored hashed) in the
// redirect, and POST /token?grant_type=pkce trades it, with the verifier, for a session.
import type postgres from "postgres";
import type { Sql } from "../db/pool.ts";
import { pkceMatches, randomToken, sha256Hex } from "./crypto.ts";
import { AuthErrors } from "./errors.ts";
import type { AuthMethod } from "./sessions.ts";

type Q = Sql | postgres.TransactionSql;

/** How long an issued authorisation code may wait for its exchange (GoTrue: 5 minutes). */
const AUTH_CODE_TTL_SECONDS = 300;

export async function createFlow(q: Q, userId: string, challenge: { challenge: string; method: "s256" | "plain" }, method: AuthMethod): Promise<string> {
  const id = crypto.randomUUID();
  // auth_code is NOT NULL in GoTrue's shape: a random placeholder (hashed, never handed out) until
  // the code is issued.
  await q`insert into auth.flow_state (id, user_id, auth_code, code_challenge_method, code_challenge, provider_type, authentication_method, created_at, updated_at)
          values (${id}, ${userId}, ${sha256Hex(randomToken())}, ${challenge.method}, ${challenge.challenge}, 'email', ${method}, now(), now())`;
  return id;
}

/** Issues the authorisation code for a flow (on verification); returns it for the redirect. */
export async function issueAuthCode(q: Q, flowId: string): Promise<string> {
  const code = crypto.randomUUID();
  await q`update auth.flow_state set auth_code = ${sha256Hex(code)}, auth_code_issued_at = now(), updated_at = now() where id = ${flowId}`;
  return code;
}

/** Trades a code + verifier for the flow's user; the flow is deleted whatever the outcome. */
export async function exchangeAuthCode(sql: Sql, authCode: string, verifier: string): Promise<{ userId: string; method: AuthMethod }> {
  const [flow] = await sql<{ user_id: string | null; code_challenge: string; method: "s256" | "plain"; authentication_method: string; age: number | null }[]>`
    delete from auth.flow_state where auth_code = ${sha256Hex(authCode)} and auth_code_issued_at is not null
    returning user_id, code_challenge, code_challenge_method::text as method, authentication_method,
              extract(epoch from now() - auth_code_issued_at)::float8 as age`;
  if (!flow || !flow.user_id) throw AuthErrors.flowStateNotFound();
  if (flow.age === null || flow.age > AUTH_CODE_TTL_SECONDS) throw AuthErrors.flowStateExpired();
  if (!pkceMatches(flow.method, flow.code_challenge, verifier)) throw AuthErrors.badCodeVerifier();
  return { userId: flow.user_id, method: flow.authentication_method as AuthMethod };
}
