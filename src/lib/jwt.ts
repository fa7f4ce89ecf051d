// HS256 JSON Web Tokens, as GoTrue issues and PostgREST verifies them. Implemented on node:crypto:
// one HMAC per call, constant-time signature comparison, strict header check (no `alg: none`).
//
// Trap: Node's base64url decoder is lenient. It accepts `=` padding, the standard alphabet's `+`
// and `/`, skips characters it does not know and ignores the unused low bits of the last character,
// so many different strings decode to the same bytes. A verifier built on it accepts tokens that
// are not the ones we signed (a padded or re-alphabeted copy of a real token, a signature with its
// last character changed), which breaks anything that treats the token string as an identity (the
// gateway's cache, revocation lists, logs). Every segment must therefore be canonical unpadded
// base64url: it must decode and re-encode to exactly itself.
//
// Asymmetric tokens (ES256, RS256) and the gateway's HS256 verification go through `jose`
// (verifyWithKey, signWithKey below): the JOSE standard belongs to a well-kept library. The
// synchronous HS256 pair (signJwt, verifyJwt) remains for the storage service's signed-URL tokens,
// whose callers are synchronous and which only Plinth itself ever reads.
import { createHmac, timingSafeEqual } from "node:crypto";
import { errors as joseErrors, jwtVerify, SignJWT, type CryptoKey as JoseKey, type KeyObject } from "jose";

export type JwtClaims = Record<string, unknown> & { role?: string; sub?: string; exp?: number; iat?: number };

const HEADER = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));

function base64url(input: string | Buffer): string {
  return Buffer.from(input).toString("base64url");
}

export function signJwt(claims: JwtClaims, secret: string): string {
  const body = `${HEADER}.${base64url(JSON.stringify(claims))}`;
  const sig = createHmac("sha256", secret).update(body).digest("base64url");
  return `${body}.${sig}`;
}

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

/** Verifies signature and time claims (with `leewaySeconds` of clock skew). Never throws. */
export function verifyJwt(token: string, secret: string, nowSeconds = Date.now() / 1000, leewaySeconds = 30): JwtResult {
  const parts = token.split(".");
  if (parts.length !== 3) return { ok: false, reason: "malformed" };
  const [h, p, s] = parts as [string, string, string];
  const headerBytes = decodeSegment(h);
  const claimBytes = decodeSegment(p);
  const given = decodeSegment(s);
  if (!headerBytes || !claimBytes || !given) return { ok: false, reason: "malformed" };
  let header: { alg?: unknown; crit?: unknown };
  let claims: JwtClaims;
  try {
    header = JSON.parse(headerBytes.toString("utf8"));
    claims = JSON.parse(claimBytes.toString("utf8"));
  } catch {
    return { ok: false, reason: "malformed" };
  }
  if (!header || typeof header !== "object" || Array.isArray(header) || !claims || typeof claims !== "object" || Array.isArray(claims)) {
    return { ok: false, reason: "malformed" };
  }
  // `crit` names extensions the verifier must understand (RFC 7515 §4.1.11); we understand none.
  if (header.alg !== "HS256" || header.crit !== undefined) return { ok: false, reason: "unsupported_alg" };
  const expected = createHmac("sha256", secret).update(`${h}.${p}`).digest();
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: "bad_signature" };
  if (claims.exp !== undefined && (typeof claims.exp !== "number" || claims.exp + leewaySeconds < nowSeconds)) {
    return { ok: false, reason: "expired" };
  }
  if (claims.nbf !== undefined && (typeof claims.nbf !== "number" || claims.nbf - leewaySeconds > nowSeconds)) {
    return { ok: false, reason: "not_yet_valid" };
  }
  return { ok: true, claims };
}

/** The project's two API keys: long-lived HS256 JWTs, as Supabase issues them. */
export function apiKeys(secret: string, issuer = "plinth"): { anon: string; service_role: string } {
  // Fixed iat/exp make the keys stable across restarts for a given secret (10 years, like Supabase's).
  const iat = 1_700_000_000;
  const exp = iat + 10 * 365 * 24 * 3600;
  return {
    anon: signJwt({ iss: issuer, role: "anon", iat, exp }, secret),
    service_role: signJwt({ iss: issuer, role: "service_role", iat, exp }, secret),
  };
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

/** Verifies signature and time claims with one known key and algorithm (jose). Never throws. */
export async function verifyWithKey(token: string, key: VerifyKey, alg: string, leewaySeconds = 30): Promise<JwtResult> {
  try {
    const { payload } = await jwtVerify(token, key, { algorithms: [alg], clockTolerance: leewaySeconds });
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
