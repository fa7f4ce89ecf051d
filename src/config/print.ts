// `plinth config print`: the effective configuration as YAML, secrets masked.
import { stringify } from "yaml";
import type { Config } from "./schema.ts";
import { maskAuthExtensions } from "./auth-extensions.ts";

/**
 * Mask a secret: long ones keep their first 4 characters (enough to tell which secret is in use,
 * useless for guessing it); short ones (e.g. a human SMTP password) show nothing at all.
 */
export function maskSecret(secret: string): string {
  return secret.length >= 32 ? `${secret.slice(0, 4)}…` : "****";
}

/**
 * Mask the password of a PostgreSQL URL (`postgres://user:pass@host/db`) and any `password=`
 * parameter. The userinfo ends at the *last* "@": unencoded "@" or "/" in passwords happen, and
 * when unsure this masks too much rather than too little.
 */
export function maskDbUrl(url: string): string {
  const masked = url.replace(/(\bpassword\s*=\s*)[^&\s]*/gi, "$1****");
  return masked.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/?#]*):(.*)@/i, "$1:****@");
}

/** A deep copy of `config` with every secret masked. */
export function maskedConfig(config: Config): Config {
  const copy = structuredClone(config);
  if (copy.jwt.secret !== undefined) copy.jwt.secret = maskSecret(copy.jwt.secret);
  if (copy.auth.keysMasterSecret !== undefined) copy.auth.keysMasterSecret = maskSecret(copy.auth.keysMasterSecret);
  if (copy.smtp.pass !== undefined) copy.smtp.pass = maskSecret(copy.smtp.pass);
  if (copy.sms.arkesel.apiKey !== undefined) copy.sms.arkesel.apiKey = maskSecret(copy.sms.arkesel.apiKey);
  if (copy.sms.twilio.authToken !== undefined) copy.sms.twilio.authToken = maskSecret(copy.sms.twilio.authToken);
  if (copy.storage.s3.secretAccessKey !== undefined) copy.storage.s3.secretAccessKey = maskSecret(copy.storage.s3.secretAccessKey);
  if (copy.sms.webhook.secret !== undefined) copy.sms.webhook.secret = maskSecret(copy.sms.webhook.secret);
  if (copy.security.alerts.webhookSecret !== undefined) copy.security.alerts.webhookSecret = maskSecret(copy.security.alerts.webhookSecret);
  if (copy.db.url !== undefined) copy.db.url = maskDbUrl(copy.db.url);
  maskAuthExtensions(copy, maskSecret);
  return copy;
}

/** YAML text of the effective configuration, secrets masked. Unset optional settings are omitted. */
export function formatConfig(config: Config): string {
  // lineWidth 0: never fold long values (URLs, origin lists) over several lines.
  const body = stringify(maskedConfig(config), { lineWidth: 0 });
  return `# Effective Plinth configuration (defaults + config file + PLINTH_* env); secrets are masked.\n${body}`;
}
