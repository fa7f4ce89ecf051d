// Turns the request's keys into a Principal. The `apikey` (header, or query for websockets) names the
// project; `Authorization: Bearer` names the caller and wins when present. Both must verify. As on
// Supabase, any valid HS256 JWT signed with the project secret whose `role` is an API role is accepted.
import { verifyJwt, type JwtFailure } from "../auth/jwt.ts";
import { isApiRole, type Principal } from "../db/pool.ts";

export type KeyFailure = JwtFailure | "missing" | "bad_role" | "bad_scheme";

export type PrincipalResult = { ok: true; principal: Principal | null } | { ok: false; reason: KeyFailure };

export function bearerToken(header: string | null): string | null | undefined {
  if (header === null) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : undefined; // undefined: present but not a bearer token
}

function principalFromToken(token: string, secret: string): PrincipalResult {
  const v = verifyJwt(token, secret);
  if (!v.ok) return v;
  const role = v.claims.role;
  if (!isApiRole(role)) return { ok: false, reason: "bad_role" };
  return { ok: true, principal: { role, claims: v.claims } };
}

/** Resolves keys; `principal: null` means no key at all was given (the caller decides if that's ok). */
export function resolvePrincipal(req: Request, url: URL, secret: string): PrincipalResult {
  const apikey = req.headers.get("apikey") ?? req.headers.get("x-api-key") ?? url.searchParams.get("apikey");
  const bearer = bearerToken(req.headers.get("authorization"));
  if (bearer === undefined) return { ok: false, reason: "bad_scheme" };
  let result: PrincipalResult = { ok: true, principal: null };
  if (apikey) {
    result = principalFromToken(apikey, secret);
    if (!result.ok) return result;
  }
  if (bearer) result = principalFromToken(bearer, secret);
  return result;
}

export const keyFailureMessage: Record<KeyFailure, string> = {
  missing: "No API key found in request",
  malformed: "Invalid JWT: malformed token",
  bad_signature: "Invalid JWT: signature verification failed",
  unsupported_alg: "Invalid JWT: unsupported algorithm",
  expired: "JWT expired",
  not_yet_valid: "JWT not yet valid",
  bad_role: "JWT role is not an API role (anon, authenticated, service_role)",
  bad_scheme: "Authorization header must use the Bearer scheme",
};
