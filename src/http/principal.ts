// Turns the request's keys into a Principal. The `apikey` (header, or query for websockets) names the
// project; `Authorization: Bearer` names the caller and wins when present. Both must verify. As on
// Supabase, any valid HS256 JWT signed with the project secret whose `role` is an API role is accepted.
import { verifyJwt, type JwtFailure } from "../lib/jwt.ts";
import { isApiRole, type Principal } from "../db/pool.ts";

export type KeyFailure = JwtFailure | "missing" | "bad_role" | "bad_scheme";

export type PrincipalResult = { ok: true; principal: Principal | null } | { ok: false; reason: KeyFailure };

export function bearerToken(header: string | null): string | null | undefined {
  if (header === null) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : undefined; // undefined: present but not a bearer token
}

/**
 * Tokens that verified, so a client sending the same key or session token again costs one map
 * lookup instead of an HMAC and two JSON parses. Keyed by the whole token (a changed signature is a
 * different key) and the secret; expiry is checked on every hit. Only valid tokens enter it, so it
 * cannot be filled by forgeries; the oldest entry leaves when it is full.
 */
const verified = new Map<string, { secret: string; principal: Principal; exp: number | undefined }>();
const VERIFIED_MAX = 4096;
const LEEWAY_SECONDS = 30; // verifyJwt's clock-skew allowance

function principalFromToken(token: string, secret: string): PrincipalResult {
  const hit = verified.get(token);
  if (hit && hit.secret === secret && (hit.exp === undefined || hit.exp + LEEWAY_SECONDS >= Date.now() / 1000)) {
    return { ok: true, principal: hit.principal };
  }
  if (hit) verified.delete(token);
  const v = verifyJwt(token, secret);
  if (!v.ok) return v;
  const role = v.claims.role;
  if (!isApiRole(role)) return { ok: false, reason: "bad_role" };
  // Shared by every request that presents this token: frozen, so no handler can change another's.
  const claims = Object.freeze(v.claims);
  const principal: Principal = Object.freeze({ role, claims, claimsJson: JSON.stringify(claims) });
  if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
  verified.set(token, { secret, principal, exp: typeof claims.exp === "number" ? claims.exp : undefined });
  return { ok: true, principal };
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
