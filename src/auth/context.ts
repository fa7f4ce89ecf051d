// What every auth flow receives: config, database, keys, providers and rate limits. Built once by
// the service; no module keeps state of its own.
import type { Config } from "../config/schema.ts";
import { effectiveAutoconfirm } from "../config/production.ts";
import type { Database } from "../db/pool.ts";
import type { Mailer, SmsSender } from "../delivery/index.ts";
import { TokenBuckets, type BucketConfig } from "../lib/token-buckets.ts";
import type { Logger } from "../log.ts";
import { BackgroundTasks } from "./background.ts";
import { deriveKeys, type AuthKeys } from "./crypto.ts";
import { AuthErrors } from "./errors.ts";
import type { SessionDeps } from "./sessions.ts";
import { keyRingFor } from "../keys/ring.ts";

export interface AuthLimits {
  token: TokenBuckets;
  otp: TokenBuckets;
  verify: TokenBuckets;
  recover: TokenBuckets;
  emailSend: TokenBuckets;
  smsSend: TokenBuckets;
}

export interface AuthContext extends SessionDeps {
  config: Config;
  db: Database;
  log: Logger;
  secret: string;
  keys: AuthKeys;
  issuer: string;
  mailer: Mailer | null;
  sms: SmsSender | null;
  limits: AuthLimits;
  /** Work that runs after the response (see background.ts). */
  background: BackgroundTasks;
  /** Rate limits follow the server-wide switch (rateLimit.enabled). */
  limitsEnabled: boolean;
  autoconfirm: boolean;
}

/** Where a request came from, and the public base URL links in mails must point at. */
export interface Client {
  ip: string | null;
  userAgent: string | null;
  /** e.g. "https://api.example.com" (publicUrl, or the request's own origin). */
  apiBase: string;
}

export function createAuthContext(opts: {
  config: Config;
  db: Database;
  log: Logger;
  secret: string;
  mailer: Mailer | null;
  sms: SmsSender | null;
}): AuthContext {
  const { config } = opts;
  const r = config.auth.rateLimits;
  const buckets = (b: BucketConfig) => new TokenBuckets(b);
  return {
    ...opts,
    keys: deriveKeys(opts.secret),
    signer: keyRingFor(opts.db, { config, jwtSecret: opts.secret, log: opts.log }),
    issuer: config.publicUrl ? `${config.publicUrl.replace(/\/+$/, "")}/auth/v1` : "plinth",
    limits: {
      token: buckets(r.token),
      otp: buckets(r.otp),
      verify: buckets(r.verify),
      recover: buckets(r.recover),
      emailSend: buckets(r.emailSend),
      smsSend: buckets(r.smsSend),
    },
    background: new BackgroundTasks(opts.log),
    limitsEnabled: config.rateLimit.enabled,
    autoconfirm: effectiveAutoconfirm(config),
  };
}

export type IpLimit = "token" | "otp" | "verify" | "recover";

/** Per-IP limit on a sensitive endpoint: 429 over_request_rate_limit. */
export function takeIp(ctx: AuthContext, which: IpLimit, ip: string | null): void {
  if (!ctx.limitsEnabled) return;
  const wait = ctx.limits[which].take(ip ?? "unknown");
  if (wait > 0) throw AuthErrors.rateLimited(wait);
}

/** Per-recipient limit on sends: 429 over_email_send_rate_limit / over_sms_send_rate_limit. */
export function takeSend(ctx: AuthContext, channel: "email" | "sms", recipient: string): void {
  if (!ctx.limitsEnabled) return;
  const wait = ctx.limits[channel === "email" ? "emailSend" : "smsSend"].take(recipient);
  if (wait > 0) throw channel === "email" ? AuthErrors.emailRateLimited(wait) : AuthErrors.smsRateLimited(wait);
}

export function sweepBuckets(ctx: AuthContext): void {
  for (const b of Object.values(ctx.limits)) b.sweep();
}
