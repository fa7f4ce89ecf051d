// The admin plane's opaque secrets: session tokens, sign-in challenge tokens and emergency-access
// codes. Each is 32 random bytes (base64url) behind a prefix that says what it is, so a token pasted
// in the wrong place (or found in a log) is recognisable, and the gateway can tell an admin session
// token from a JWT without a database lookup. Only their sha256 digest is stored: with 256 bits of
// entropy no key is needed, and a lookup by digest compares nothing in JavaScript (no timing leak).
import { createHash } from "node:crypto";
import { randomToken } from "../../auth/crypto.ts";

export const SESSION_TOKEN_PREFIX = "plinth_as_";
export const CHALLENGE_TOKEN_PREFIX = "plinth_ac_";
export const EMERGENCY_CODE_PREFIX = "plinth_ae_";

type Prefix = typeof SESSION_TOKEN_PREFIX | typeof CHALLENGE_TOKEN_PREFIX | typeof EMERGENCY_CODE_PREFIX;

/** 43 characters of base64url after the prefix. */
const BODY = /^[A-Za-z0-9_-]{43}$/;

export const newSecret = (prefix: Prefix): string => `${prefix}${randomToken(32)}`;

/** Whether `text` has the shape of a secret of this kind (no database work). */
export const isSecretOf = (prefix: Prefix, text: string): boolean => text.startsWith(prefix) && BODY.test(text.slice(prefix.length));

/** What the gateway asks: is this bearer token an admin session token (and not a JWT)? */
export const isAdminSessionToken = (token: string): boolean => isSecretOf(SESSION_TOKEN_PREFIX, token);

export const secretDigest = (secret: string): Buffer => createHash("sha256").update(secret).digest();

const SESSION_BEARER = /^Bearer\s+(plinth_as_[A-Za-z0-9_-]{43})\s*$/i;

/** The admin session token a request carries in `Authorization: Bearer`, if that is what it carries. */
export function sessionTokenOf(req: Request): string | null {
  const header = req.headers.get("authorization");
  return header ? (SESSION_BEARER.exec(header)?.[1] ?? null) : null;
}
