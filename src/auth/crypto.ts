// Every secret the auth service hands out is random, and only a hash of it is stored:
// - refresh and link tokens carry 256 bits, so a plain sha256 is enough at rest;
// - numeric codes carry ~20 bits, so their hash is an HMAC keyed from the JWT secret and bound to
//   the user and the code's purpose: a leaked table cannot be brute-forced without the key, and a
//   code issued for one user or purpose never matches another.
import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from "node:crypto";

export const sha256Hex = (value: string): string => createHash("sha256").update(value).digest("hex");

/** 32 random bytes, base64url (43 characters). */
export const randomToken = (bytes = 32): string => randomBytes(bytes).toString("base64url");

/** A uniformly random numeric code of `length` digits (leading zeros allowed). */
export function numericCode(length: number): string {
  let code = "";
  for (let i = 0; i < length; i++) code += String(randomInt(10));
  return code;
}

/** Constant-time equality of two strings (false when lengths differ). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The keys derived from the project's JWT secret, one per purpose. */
export interface AuthKeys {
  /** HMAC key for numeric one-time codes. */
  code: Buffer;
  /** HMAC key that derives a refresh token's successor from it (see sessions.ts). */
  refresh: Buffer;
  /** AES-256-GCM key for TOTP secrets at rest (see totp.ts). */
  mfa: Buffer;
}

export function deriveKeys(secret: string): AuthKeys {
  const derive = (label: string) => createHmac("sha256", secret).update(`plinth:auth:${label}:v1`).digest();
  return { code: derive("otp"), refresh: derive("refresh"), mfa: derive("mfa-secret") };
}

export function codeHash(keys: AuthKeys, userId: string, tokenType: string, code: string): string {
  return createHmac("sha256", keys.code).update(`${userId}\0${tokenType}\0${code}`).digest("hex");
}

/**
 * A rotated refresh token is derived from its parent. Only a holder of the parent *and* the server
 * key can compute it, which lets the server hand the current token again to a client that retries
 * with the parent inside the reuse interval, although it stores nothing but hashes.
 */
export function childRefreshToken(keys: AuthKeys, parent: string): string {
  return createHmac("sha256", keys.refresh).update(parent).digest("base64url");
}

/** PKCE: does the verifier match the stored challenge? */
export function pkceMatches(method: "s256" | "plain", challenge: string, verifier: string): boolean {
  const computed = method === "s256" ? createHash("sha256").update(verifier).digest("base64url") : verifier;
  return safeEqual(computed, challenge);
}
