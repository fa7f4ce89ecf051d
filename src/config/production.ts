// Settings that are fine on a laptop but dangerous on a server. `plinth serve` with env=production
// refuses to start while any of these is reported.
//
// auth.autoconfirm: in development it defaults to true (sign-ups work without a mail server); in
// production it defaults to false, and must moreover be set explicitly, either way, so that nobody
// ends up with an open or a closed sign-up by accident.
import type { LoadedConfig } from "./load.ts";
import type { Config } from "./schema.ts";

export const MIN_JWT_SECRET_LENGTH = 32;

/** The example secret from Supabase's self-hosting docs: public, so anyone could forge tokens. */
export const DEMO_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long";

const NEW_SECRET_HINT = "set PLINTH_JWT_SECRET (or jwt.secret in plinth.yaml) to a random value, e.g. the output of `openssl rand -base64 48`";

/** Whether sign-ups are confirmed without an email/SMS round trip, defaults applied. */
export function effectiveAutoconfirm(config: Config): boolean {
  return config.auth.autoconfirm ?? config.env !== "production";
}

/** One sentence per unsafe setting, each saying how to fix it. Empty outside production. */
export function unsafeSettings(loaded: LoadedConfig): string[] {
  const { config } = loaded;
  if (config.env !== "production") return [];
  return [jwtSecretProblem(config), keysMasterSecretProblem(config), autoconfirmProblem(loaded), corsProblem(config), ...alertProblems(config)].filter(
    (p): p is string => p !== undefined,
  );
}

function jwtSecretProblem(config: Config): string | undefined {
  const secret = config.jwt.secret;
  if (secret === undefined) return `The JWT secret is not set: ${NEW_SECRET_HINT}.`;
  if (secret === DEMO_JWT_SECRET) {
    return `The JWT secret is the public demo secret from the Supabase docs, so anyone can forge tokens: ${NEW_SECRET_HINT}.`;
  }
  if (secret.length < MIN_JWT_SECRET_LENGTH) {
    return `The JWT secret is only ${secret.length} characters long; it needs at least ${MIN_JWT_SECRET_LENGTH}: ${NEW_SECRET_HINT}.`;
  }
  return undefined;
}

/**
 * Private signing keys are encrypted at rest under a key derived from auth.keysMasterSecret
 * (src/keys/at-rest.ts). Development derives it from the JWT secret; production needs its own: the
 * HS256 secret is often shared with services that verify tokens, and none of them should be able to
 * decrypt the signing keys too. A project still on HS256 alone (signingAlg HS256, no key file) stores
 * no private key and needs none; `plinth keys signing create` refuses to make one in production
 * without it (src/cli/keys.ts).
 */
export function keysMasterSecretProblem(config: Config): string | undefined {
  const master = config.auth.keysMasterSecret;
  if (master === undefined && config.auth.signingAlg === "HS256" && config.auth.signingKeysPath === undefined) return undefined;
  const hint = "set PLINTH_KEYS_MASTER_SECRET (or auth.keysMasterSecret) to its own random value, e.g. the output of `openssl rand -base64 48`";
  if (master === undefined)
    return `The signing-key master secret is not set (private signing keys would be encrypted with a key derived from the JWT secret): ${hint}.`;
  if (master === config.jwt.secret) return `The signing-key master secret is the JWT secret: ${hint}.`;
  if (master === DEMO_JWT_SECRET) return `The signing-key master secret is the public demo secret: ${hint}.`;
  return undefined;
}

function autoconfirmProblem(loaded: LoadedConfig): string | undefined {
  if (loaded.explicit.has("auth.autoconfirm") && loaded.config.auth.autoconfirm !== undefined) return undefined;
  return (
    "auth.autoconfirm must be set explicitly in production: set PLINTH_AUTH_AUTOCONFIRM=false to make new users " +
    "confirm their email or phone (needs SMTP or SMS), or PLINTH_AUTH_AUTOCONFIRM=true to accept sign-ups unverified."
  );
}

function corsProblem(config: Config): string | undefined {
  if (!config.cors.credentials || !config.cors.origins.includes("*")) return undefined;
  return (
    'CORS allows any origin ("*") together with credentials, so any website could make authenticated requests ' +
    "on a user's behalf: list your app's origins in PLINTH_CORS_ORIGINS (comma-separated) or set PLINTH_CORS_CREDENTIALS=false."
  );
}

/**
 * Security alerts that would leak or never arrive: a webhook over plain HTTP (the alert body names
 * users and addresses, and the signature does not hide it), or an e-mail target with no SMTP server.
 */
function alertProblems(config: Config): string[] {
  const { webhookUrl, email } = config.security.alerts;
  const problems: string[] = [];
  if (webhookUrl && !webhookUrl.startsWith("https://")) {
    problems.push("security.alerts.webhookUrl must use https:// in production: set PLINTH_SECURITY_ALERTS_WEBHOOK_URL to an https URL.");
  }
  if (email && config.smtp.host === undefined) {
    problems.push(
      "security.alerts.email needs an SMTP server: set PLINTH_SMTP_HOST (and the other PLINTH_SMTP_* settings) or unset PLINTH_SECURITY_ALERTS_EMAIL.",
    );
  }
  return problems;
}
