// Passwords: argon2id (PHC string in auth.users.encrypted_password), the strength policy from
// config, and a dummy verification for absent users so that "no such user" and "wrong password"
// take the same time. bcrypt hashes ($2a$/$2b$, as GoTrue writes them) still verify, so users
// imported from Supabase keep their passwords.
import { hash, verify } from "@node-rs/argon2";
import type { Config } from "../config/schema.ts";
import { randomToken } from "./crypto.ts";
import { AuthErrors, WeakPasswordError } from "./errors.ts";

/**
 * OWASP's argon2id baseline (m=19 MiB, t=2, p=1): ~9 ms per hash on a 2-core server, 3× faster than
 * Bun.password at the same parameters (bench/RESULTS.md, auth: 8.98 ms).
 */
export const ARGON2_PARAMS = { memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

/** Longer inputs are refused before hashing: argon2 cost grows with input and this is a DoS lever. */
export const MAX_PASSWORD_LENGTH = 1024;

export const hashPassword = (password: string): Promise<string> => hash(password, ARGON2_PARAMS);

let dummyHash: Promise<string> | null = null;

/** Computes the dummy hash ahead of the first sign-in attempt for an unknown user. */
export function prepareDummyHash(): Promise<string> {
  dummyHash ??= hash(randomToken(), ARGON2_PARAMS);
  return dummyHash;
}

/**
 * Verifies a password against a stored hash. With no hash (user absent, or a password-less user)
 * the work is still done against a dummy hash, and the answer is false.
 */
export async function verifyPassword(stored: string | null | undefined, password: string): Promise<boolean> {
  if (stored && stored.startsWith("$argon2")) {
    try {
      return await verify(stored, password);
    } catch {
      return false;
    }
  }
  if (stored && /^\$2[aby]\$/.test(stored)) {
    try {
      return await Bun.password.verify(password, stored, "bcrypt");
    } catch {
      return false;
    }
  }
  await verify(await prepareDummyHash(), password).catch(() => false);
  return false;
}

const CLASSES = {
  lower: { re: /[a-z]/, chars: "abcdefghijklmnopqrstuvwxyz" },
  upper: { re: /[A-Z]/, chars: "ABCDEFGHIJKLMNOPQRSTUVWXYZ" },
  digit: { re: /[0-9]/, chars: "0123456789" },
  symbol: { re: /[^A-Za-z0-9]/, chars: "!@#$%^&*()_+-=[]{};'\\:\"|<>?,./`~" },
} as const;

/** The policy's complaints about a password (empty when it is acceptable), in GoTrue's terms. */
export function passwordWeakness(config: Config, password: string): { reasons: string[]; message: string } | null {
  const { minLength, require } = config.auth.password;
  const reasons: string[] = [];
  const messages: string[] = [];
  if ([...password].length < minLength) {
    reasons.push("length");
    messages.push(`Password should be at least ${minLength} characters.`);
  }
  const missing = require.filter((c) => !CLASSES[c].re.test(password));
  if (missing.length > 0) {
    reasons.push("characters");
    messages.push(`Password should contain at least one character of each: ${require.map((c) => CLASSES[c].chars).join(", ")}.`);
  }
  return reasons.length ? { reasons, message: messages.join(" ") } : null;
}

/** Throws 422 weak_password (with reasons) or 422 validation_failed for an unusable password. */
export function assertPasswordAcceptable(config: Config, password: string): void {
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new WeakPasswordError(`Password cannot be longer than ${MAX_PASSWORD_LENGTH} characters`, ["length"]);
  }
  const weak = passwordWeakness(config, password);
  if (weak) throw new WeakPasswordError(weak.message, weak.reasons);
}

export function assertPasswordGiven(password: string | undefined): asserts password is string {
  if (!password) throw AuthErrors.unprocessable("Signup requires a valid password");
}
