// The custom access token hook: before each access token is signed (sign-in, refresh, MFA), the hook
// gets {user_id, claims, authentication_method} and answers {claims}; the answer's claims are what
// is signed. As in Supabase, the claims a token must keep (iss, aud, exp, iat, sub, role, aal,
// session_id, is_anonymous) must still be there and well-typed, or the sign-in fails with
// hook_bad_response rather than minting a broken token. Off (no hook configured): no cost at all.
import type { HookRunner } from "./runner.ts";
import { HookErrors } from "./runner.ts";

const REQUIRED: Record<string, string> = {
  iss: "string",
  aud: "string|object",
  exp: "number",
  iat: "number",
  sub: "string",
  role: "string",
  aal: "string",
  session_id: "string",
  is_anonymous: "boolean",
};

export type AccessTokenHook = (userId: string, claims: Record<string, unknown>, method: string) => Promise<Record<string, unknown>>;

export function accessTokenHook(runner: HookRunner): AccessTokenHook | undefined {
  if (!runner.enabled("custom_access_token")) return undefined;
  return async (userId, claims, method) => {
    const out = await runner.run("custom_access_token", { user_id: userId, claims, authentication_method: method });
    const next = out.claims;
    if (!next || typeof next !== "object" || Array.isArray(next)) throw HookErrors.badAnswer("custom_access_token", "no claims object");
    const c = next as Record<string, unknown>;
    for (const [k, types] of Object.entries(REQUIRED)) {
      if (!types.split("|").includes(typeof c[k])) throw HookErrors.badAnswer("custom_access_token", `claim ${k} is missing or not a ${types}`);
    }
    // The hook may add and change claims, but not stretch the token's life or move its subject.
    if (c.exp !== claims.exp || c.sub !== claims.sub || c.session_id !== claims.session_id) {
      throw HookErrors.badAnswer("custom_access_token", "exp, sub and session_id cannot be changed");
    }
    return c;
  };
}
