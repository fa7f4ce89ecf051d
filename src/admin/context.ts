// What the admin plane's accounts, sessions and sign-in flows receive: built once by the service
// (service.ts); no module keeps state of its own.
import type { Config } from "../config/schema.ts";
import type { Sql } from "../db/pool.ts";
import { deriveKeys, type AuthKeys } from "../auth/crypto.ts";
import { TokenBuckets } from "../lib/token-buckets.ts";
import type { Logger } from "../log.ts";
import { sessionSettings, type SessionSettings } from "./sessions/store.ts";

export interface AdminContext {
  /** The owner connection (plinth.* is the server role's alone). */
  sql: Sql;
  config: Config;
  log: Logger;
  /** The auth service's keys (TOTP secrets at rest, recovery-code hashes): admins' second factors are their users'. */
  keys: AuthKeys;
  sessions: SessionSettings;
  /** Per client address, on the sign-in endpoints: the same budget as /auth/v1/token's password grant. */
  signInLimit: TokenBuckets | null;
  /** Whether an admin needs a verified TOTP factor to sign in. */
  requireMfa: boolean;
}

/** Admins need MFA in production unless the config says otherwise (admin.requireMfa). */
export const mfaRequired = (config: Config): boolean => config.admin.requireMfa ?? config.env === "production";

export function createAdminContext(opts: { sql: Sql; config: Config; log: Logger; jwtSecret: string }): AdminContext {
  const { config } = opts;
  return {
    sql: opts.sql,
    config,
    log: opts.log,
    keys: deriveKeys(opts.jwtSecret),
    sessions: sessionSettings(config),
    signInLimit: config.rateLimit.enabled ? new TokenBuckets(config.auth.rateLimits.token) : null,
    requireMfa: mfaRequired(config),
  };
}
