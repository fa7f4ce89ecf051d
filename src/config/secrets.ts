// The JWT secret: from the configuration, or (development only) generated once per data directory.
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { ConfigError } from "./load.ts";
import { MIN_JWT_SECRET_LENGTH } from "./production.ts";
import type { Config } from "./schema.ts";

export const JWT_SECRET_FILE = "jwt_secret";

/**
 * The configured secret; else, in development, the one kept in `<dataDir>/jwt_secret` (created on
 * first use: 48 random bytes, base64url, mode 0600). Reusing it across runs keeps issued tokens and
 * the printed anon/service_role keys valid. In production a missing secret is an error.
 */
export function resolveJwtSecret(config: Config, dataDir: string): string {
  if (config.jwt.secret !== undefined) return config.jwt.secret;
  if (config.env === "production") {
    throw new ConfigError(
      "The JWT secret is not set: in production set PLINTH_JWT_SECRET (or jwt.secret in plinth.yaml) to a random value of at least 32 characters.",
    );
  }
  const file = join(dataDir, JWT_SECRET_FILE);
  return existsSync(file) ? readSecret(file) : createSecret(dataDir, file);
}

function readSecret(file: string): string {
  const secret = readFileSync(file, "utf8").trim();
  if (secret.length < MIN_JWT_SECRET_LENGTH) {
    throw new ConfigError(
      `${file} does not hold a usable JWT secret (shorter than ${MIN_JWT_SECRET_LENGTH} characters): delete it to generate a new one ` +
        "(this invalidates existing sessions and API keys) or set PLINTH_JWT_SECRET.",
    );
  }
  // Someone may have copied it around with a loose umask; it signs every token, keep it private.
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  return secret;
}

/**
 * Write to a private temp file, then hard-link it into place: link() fails if the name exists, so
 * two processes starting at once agree on one secret, and no reader ever sees a half-written file.
 */
function createSecret(dataDir: string, file: string): string {
  // 0711, not 0700: others cannot list it, but the embedded PostgreSQL (another OS user when we run
  // as root) must be able to reach <dataDir>/pg. The secret file itself is 0600.
  mkdirSync(dataDir, { recursive: true, mode: 0o711 });
  const secret = randomBytes(48).toString("base64url");
  const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(temp, `${secret}\n`, { mode: 0o600 });
  chmodSync(temp, 0o600); // the mode above is subject to umask
  try {
    linkSync(temp, file);
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return readSecret(file); // another process won
    throw err;
  } finally {
    unlinkSync(temp);
  }
}
