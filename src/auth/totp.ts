// TOTP (RFC 6238 over RFC 4226 HOTP: SHA-1, 6 digits, 30 s steps), base32 (RFC 4648, no padding),
// the otpauth:// URI authenticator apps read, and the at-rest encryption of TOTP secrets:
// AES-256-GCM under a key derived from the JWT secret, with the factor id as associated data, so a
// ciphertext copied onto another factor's row does not decrypt.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { safeEqual } from "./crypto.ts";
import { qrSvg } from "./qr.ts";

export const TOTP_PERIOD = 30;
export const TOTP_DIGITS = 6;
/** Steps either side of now that are accepted (clock drift). */
export const TOTP_WINDOW = 1;

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

export function base32Encode(bytes: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

export function base32Decode(text: string): Buffer {
  const clean = text.replace(/[\s=]/g, "").toUpperCase();
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of clean) {
    const i = ALPHABET.indexOf(ch);
    if (i < 0) throw new Error("invalid base32");
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

export function hotp(key: Uint8Array, counter: number, digits = TOTP_DIGITS): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac("sha1", key).update(msg).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const bin = ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!;
  return String(bin % 10 ** digits).padStart(digits, "0");
}

export const timeStep = (nowMs = Date.now()): number => Math.floor(nowMs / 1000 / TOTP_PERIOD);

/**
 * The time step whose code `code` is, within ±TOTP_WINDOW of now, or null. Every candidate is
 * computed and compared in constant time, so timing does not tell which step matched.
 */
export function matchTotp(secretBase32: string, code: string, nowMs = Date.now()): number | null {
  const key = base32Decode(secretBase32);
  const now = timeStep(nowMs);
  let matched: number | null = null;
  for (let d = -TOTP_WINDOW; d <= TOTP_WINDOW; d++) {
    if (safeEqual(hotp(key, now + d), code) && matched === null) matched = now + d;
  }
  return matched;
}

export function newTotpSecret(): string {
  return base32Encode(randomBytes(20));
}

export function otpauthUri(issuer: string, account: string, secret: string): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  const q = new URLSearchParams({ algorithm: "SHA1", digits: String(TOTP_DIGITS), issuer, period: String(TOTP_PERIOD), secret });
  return `otpauth://totp/${label}?${q.toString()}`;
}

/**
 * The `qr_code` GoTrue returns: an SVG QR code of the URI (supabase-js prefixes it with
 * `data:image/svg+xml;utf-8,`, so the SVG contains no `#`).
 */
export function uriSvg(uri: string): string {
  return qrSvg(uri);
}

/** "v1:" + base64(iv | tag | ciphertext). `aad` binds the ciphertext to its row (the factor id). */
export function encryptSecret(key: Buffer, plaintext: string, aad: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", key, iv);
  c.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([c.update(plaintext, "utf8"), c.final()]);
  return `v1:${Buffer.concat([iv, c.getAuthTag(), ct]).toString("base64")}`;
}

export function decryptSecret(key: Buffer, stored: string, aad: string): string {
  if (!stored.startsWith("v1:")) throw new Error("unknown secret format");
  const raw = Buffer.from(stored.slice(3), "base64");
  const d = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString("utf8");
}
