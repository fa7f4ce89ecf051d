// JSON Web Tokens, as GoTrue issues and PostgREST verifies them: HS256 (the legacy project secret:
// the anon/service_role API keys, signed-URL tokens, sessions while no asymmetric key is current) and
// ES256/RS256 (the signing keys of src/keys/). All signing and verifying goes through `jose`: the
// JOSE standard belongs to a well-kept library, and no HMAC or signature code lives here.
//
// What stays ours, in front of jose:
//   - Canonical encoding. jose's base64url decoder is lenient: it accepts a token whose signature has
//     `=` padding appended, or whose last character differs only in the unused low bits (measured on
//     jose 6.2: both verify). Many strings then verify as the same token, which breaks anything that
//     treats the token string as an identity (the gateway's verified-token cache, the legacy-key
//     check in src/keys/ring.ts, revocation lists, logs). peekHeader() therefore refuses any segment
//     that is not canonical unpadded base64url (it must decode and re-encode to exactly itself), and
//     every verification here runs it first.
//   - The header rules, so failures keep their reasons: an algorithm other than the one expected is
//     `unsupported_alg` before any key is used (no `alg: none`, no HS256 made with a public key), and
//     `crit` (RFC 7515 §4.1.11: extensions we would have to understand; we understand none) is refused.
//   - HMAC keys are imported once per secret (hmacKey), not on every call: jose given raw bytes
//     imports a WebCrypto key each time, which costs more than the HMAC itself.
//
// Why not @elysiajs/jwt: it is a thin Elysia plugin over jose that signs and verifies with one key
// per plugin instance, inside Elysia's request context. Plinth's tokens are verified in the
// gateway's plain fetch path (src/http/gateway.ts, before any Elysia route runs), against a key ring
// whose keys change at run time (kid lookup, revocation, the verified-token cache keyed by
// generation), and signed by the ring's current key; sessions and signed URLs are issued from
// services, not from a route's context. The plugin fits none of these, so jose is used directly.
import { errors as joseErrors, jwtVerify, SignJWT, type CryptoKey as JoseKey, type KeyObject } from "jose";

export type JwtClaims = Record<string, unknown> & { role?: string; sub?: string; exp?: number; iat?: number };

export type JwtFailure =
  | "malformed"
  | "bad_signature"
  | "unsupported_alg"
  | "expired"
  | "not_yet_valid"
  /** A kid no key of this project has. */
  | "unknown_kid"
  /** Signed by a key that was revoked (or the retired legacy secret). */
  | "key_revoked"
  /** A legacy anon/service_role key after the operator disabled them. */
  | "legacy_key_disabled";

/** The bytes of a canonical unpadded base64url segment, or null for anything else. */
function decodeSegment(segment: string): Buffer | null {
  if (!/^[A-Za-z0-9_-]*$/.test(segment)) return null;
  const bytes = Buffer.from(segment, "base64url");
  return bytes.toString("base64url") === segment ? bytes : null;
}

export type JwtResult = { ok: true; claims: JwtClaims } | { ok: false; reason: JwtFailure };

/**
 * The WebCrypto HMAC key of a secret, imported once (see the header). Bounded: a process holds one
 * or two project secrets; anything past the bound (tests with many secrets) is simply re-imported.
 */
const hmacKeys = new Map<string, Promise<JoseKey>>();
const HMAC_KEYS_MAX = 32;

export function hmacKey(secret: string): Promise<JoseKey> {
  let key = hmacKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    if (hmacKeys.size >= HMAC_KEYS_MAX) hmacKeys.delete(hmacKeys.keys().next().value!);
    hmacKeys.set(secret, key);
  }
  return key;
}

/** An HS256 token for these claims: header `{"alg":"HS256","typ":"JWT"}`, claims in their given order. */
export async function signJwt(claims: JwtClaims, secret: string): Promise<string> {
  return signWithKey(claims, await hmacKey(secret), "HS256");
}

/** Verifies an HS256 token's signature and time claims (with `leewaySeconds` of clock skew). Never throws. */
export async function verifyJwt(token: string, secret: string, nowSeconds?: number, leewaySeconds = 30): Promise<JwtResult> {
  const h = peekHeader(token);
  if (!h.ok) return h;
  if (h.alg !== "HS256") return { ok: false, reason: "unsupported_alg" };
  return verifyWithKey(token, await hmacKey(secret), "HS256", leewaySeconds, nowSeconds);
}

/**
 * The project's two legacy API keys: long-lived HS256 JWTs, as Supabase issues them. Byte for byte
 * what earlier versions printed for the same secret (test/jwt.test.ts pins one): deployed clients
 * hold these strings, and src/keys/ring.ts recognises them by exact match.
 */
export async function apiKeys(secret: string, issuer = "plinth"): Promise<{ anon: string; service_role: string }> {
  // Fixed iat/exp make the keys stable across restarts for a given secret (10 years, like Supabase's).
  const iat = 1_700_000_000;
  const exp = iat + 10 * 365 * 24 * 3600;
  const [anon, service_role] = await Promise.all([
    signJwt({ iss: issuer, role: "anon", iat, exp }, secret),
    signJwt({ iss: issuer, role: "service_role", iat, exp }, secret),
  ]);
  return { anon, service_role };
}

/**
 * The header of a token whose three segments are canonical base64url (see the trap above), or why
 * not. Cheap and synchronous: the gateway decides which key to verify with from it.
 */
export function peekHeader(token: string): { ok: true; alg: string; kid: string | undefined } | { ok: false; reason: JwtFailure } {
  const parts = token.split(".");
  if (parts.length !== 3) return { ok: false, reason: "malformed" };
  const headerBytes = decodeSegment(parts[0]!);
  if (!headerBytes || !decodeSegment(parts[1]!) || !decodeSegment(parts[2]!)) return { ok: false, reason: "malformed" };
  let header: { alg?: unknown; kid?: unknown; crit?: unknown };
  try {
    header = JSON.parse(headerBytes.toString("utf8"));
  } catch {
    return { ok: false, reason: "malformed" };
  }
  if (!header || typeof header !== "object" || Array.isArray(header)) return { ok: false, reason: "malformed" };
  if (typeof header.alg !== "string" || header.crit !== undefined) return { ok: false, reason: "unsupported_alg" };
  if (header.kid !== undefined && typeof header.kid !== "string") return { ok: false, reason: "malformed" };
  return { ok: true, alg: header.alg, kid: header.kid as string | undefined };
}

export type VerifyKey = JoseKey | KeyObject | Uint8Array;

/**
 * Verifies signature and time claims with one known key and algorithm (jose). Never throws. The
 * caller has run peekHeader() on the token (canonical segments, no `crit`): jose alone would accept
 * non-canonical copies of it (see the header).
 */
export async function verifyWithKey(token: string, key: VerifyKey, alg: string, leewaySeconds = 30, nowSeconds?: number): Promise<JwtResult> {
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: [alg],
      clockTolerance: leewaySeconds,
      ...(nowSeconds === undefined ? {} : { currentDate: new Date(nowSeconds * 1000) }),
    });
    if (!payload || typeof payload !== "object" || Array.isArray(payload)) return { ok: false, reason: "malformed" };
    return { ok: true, claims: payload as JwtClaims };
  } catch (err) {
    return { ok: false, reason: failureOf(err) };
  }
}

function failureOf(err: unknown): JwtFailure {
  if (err instanceof joseErrors.JWTExpired) return "expired";
  if (err instanceof joseErrors.JWTClaimValidationFailed) return err.claim === "nbf" ? "not_yet_valid" : "malformed";
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return "bad_signature";
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported) return "unsupported_alg";
  return "malformed";
}

/** Signs claims with a key (jose); the header names the key's kid when it has one. */
export function signWithKey(claims: JwtClaims, key: VerifyKey, alg: string, kid?: string): Promise<string> {
  return new SignJWT(claims).setProtectedHeader(kid ? { alg, kid, typ: "JWT" } : { alg, typ: "JWT" }).sign(key);
}
