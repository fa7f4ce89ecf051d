// jwt_secret: is the secret that signs every session and API key hard to guess?
//
// The production rules (src/config/production.ts) only refuse a missing, demo or short secret; the
// doctor also estimates its entropy, so "aaaa…aaaa" (long, but one character) or a repeated word is
// caught. The estimate is the string's own character statistics (Shannon entropy × length): it
// cannot prove a secret random, only flag one that plainly is not. The secret is never printed.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DEMO_JWT_SECRET, JWT_SECRET_FILE, MIN_JWT_SECRET_LENGTH, type LoadedConfig } from "../config/index.ts";
import { fail, ok, warn, type CheckResult } from "./check.ts";

const NAME = "jwt_secret";
/** Below this the secret is called weak. A random 32-character hex secret scores about 110. */
export const WEAK_SECRET_BITS = 80;
const NEW_SECRET =
  "set PLINTH_JWT_SECRET (or jwt.secret in plinth.yaml) to a random value, e.g. `openssl rand -base64 48`; every session and API key issued with the old one stops working";

/**
 * Shannon entropy of the secret's characters times its length, in bits (rounded down). A secret
 * that repeats one unit ("abcdabcd…") counts only that unit: repeating it adds nothing to guess.
 */
export function estimatedBits(secret: string): number {
  const chars = shortestRepeatingUnit([...secret]);
  const counts = new Map<string, number>();
  for (const c of chars) counts.set(c, (counts.get(c) ?? 0) + 1);
  let perChar = 0;
  for (const n of counts.values()) {
    const p = n / chars.length;
    perChar -= p * Math.log2(p);
  }
  return Math.floor(perChar * chars.length);
}

function shortestRepeatingUnit(chars: string[]): string[] {
  for (let period = 1; period <= chars.length / 2; period++) {
    if (chars.every((c, i) => c === chars[i % period])) return chars.slice(0, period);
  }
  return chars;
}

export function checkJwtSecret({ config }: LoadedConfig): CheckResult[] {
  const production = config.env === "production";
  // In production a weakness is a failure; while developing it is worth a warning only.
  const weak = production ? fail : warn;
  const devFile = join(config.dataDir, JWT_SECRET_FILE);
  const secret = config.jwt.secret;

  if (secret === undefined) {
    if (production) return [fail(NAME, "no JWT secret is set; in production Plinth does not generate one", NEW_SECRET)];
    if (!existsSync(devFile)) return [ok(NAME, `not set: a development secret is generated in ${devFile} on first start`)];
    const stored = readFileSync(devFile, "utf8").trim();
    if (stored.length < MIN_JWT_SECRET_LENGTH) {
      return [
        fail(
          NAME,
          `${devFile} holds only ${stored.length} characters; \`plinth serve\` refuses a secret shorter than ${MIN_JWT_SECRET_LENGTH}`,
          `delete ${devFile} to generate a new one, or ${NEW_SECRET}`,
        ),
      ];
    }
    return [ok(NAME, `development secret from ${devFile} (${stored.length} characters)`)];
  }

  if (secret === DEMO_JWT_SECRET) {
    return [weak(NAME, "the JWT secret is the public demo secret from the Supabase docs: anyone can forge tokens, service_role included", NEW_SECRET)];
  }
  if (secret.length < MIN_JWT_SECRET_LENGTH) {
    return [weak(NAME, `the JWT secret is only ${secret.length} characters long (at least ${MIN_JWT_SECRET_LENGTH} needed)`, NEW_SECRET)];
  }
  const bits = estimatedBits(secret);
  if (bits < WEAK_SECRET_BITS) {
    return [
      weak(NAME, `the JWT secret looks guessable: about ${bits} bits of entropy in ${secret.length} characters (repeated characters or a pattern)`, NEW_SECRET),
    ];
  }
  if (production && existsSync(devFile)) {
    return [
      warn(
        NAME,
        `set (${secret.length} characters), but ${devFile} is still there from development: production never reads it, and a copy of it lying around invites its reuse`,
        `delete ${devFile}`,
      ),
    ];
  }
  return [ok(NAME, `set, ${secret.length} characters, about ${bits} bits of entropy`)];
}
