// Which principal a channel acts as. The socket was admitted by the gateway with an API key; a
// channel may carry a user's access token in its join payload (and refresh it with access_token
// pushes). Supabase Realtime requires `role` and `exp` claims and checks expiry strictly; messages
// below mirror its wording so existing app code that matches on them keeps working.
import type { JwtResult } from "../lib/jwt.ts";
import { isApiRole, type Principal } from "../db/pool.ts";

export interface ChannelAuth {
  principal: Principal;
  /** Seconds since the epoch at which the channel must close (null: the token never expires). */
  exp: number | null;
  /** The token itself, to recognise a refresh that repeats it. */
  token: string | null;
}

export type TokenCheck = { ok: true; auth: ChannelAuth } | { ok: false; code: string; message: string };

/**
 * `token` is the join/refresh payload's access_token; absent (or an opaque `sb_…` key) means the
 * connection's own key, which the gateway already verified into `connection`.
 */
export async function checkChannelToken(
  token: unknown,
  connection: ChannelAuth,
  /** The node's key ring (src/keys/ring.ts): ES256/RS256 by kid, the legacy HS256 secret. */
  verify: (token: string, leewaySeconds: number) => Promise<JwtResult>,
  now = Date.now() / 1000,
): Promise<TokenCheck> {
  if (token === undefined || token === null || token === "" || (typeof token === "string" && token.startsWith("sb_"))) {
    return expiryCheck(connection, now);
  }
  if (typeof token !== "string") return { ok: false, code: "MalformedJWT", message: "The token provided is not a valid JWT" };
  // Leeway 0: expiry is enforced to the second, like the server we mirror.
  const v = await verify(token, 0);
  if (!v.ok) {
    if (v.reason === "expired") {
      const exp = Number((JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as { exp?: number }).exp);
      return { ok: false, code: "InvalidJWTToken", message: `Token has expired ${Math.max(0, Math.floor(now - exp))} seconds ago` };
    }
    if (v.reason === "malformed") return { ok: false, code: "MalformedJWT", message: "The token provided is not a valid JWT" };
    if (
      v.reason === "bad_signature" ||
      v.reason === "unsupported_alg" ||
      v.reason === "unknown_kid" ||
      v.reason === "key_revoked" ||
      v.reason === "legacy_key_disabled"
    ) {
      return { ok: false, code: "JwtSignatureError", message: "Failed to validate JWT signature" };
    }
    return { ok: false, code: "InvalidJWTToken", message: "Token is not valid yet" };
  }
  const { role, exp } = v.claims;
  if (typeof exp !== "number" || typeof role !== "string") {
    return { ok: false, code: "InvalidJWTToken", message: "Fields `role` and `exp` are required in JWT" };
  }
  if (!isApiRole(role)) return { ok: false, code: "Unauthorized", message: "JWT role is not an API role (anon, authenticated, service_role)" };
  return { ok: true, auth: { principal: { role, claims: v.claims }, exp, token } };
}

function expiryCheck(auth: ChannelAuth, now: number): TokenCheck {
  if (auth.exp !== null && auth.exp <= now) {
    return { ok: false, code: "InvalidJWTToken", message: `Token has expired ${Math.floor(now - auth.exp)} seconds ago` };
  }
  return { ok: true, auth };
}

/** The connection-level auth from the gateway's principal (anon key, service key or user token). */
export function connectionAuth(principal: Principal): ChannelAuth {
  const exp = principal.claims.exp;
  return { principal, exp: typeof exp === "number" ? exp : null, token: null };
}
