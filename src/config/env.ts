// PLINTH_* environment variables: the one table mapping each variable to a setting of the schema
// (schema.ts), and the function that lays them over the settings read from plinth.yaml.
//
// The table is the single source of truth: loading reads it, and documentation / `plinth config`
// help can list it (name, setting, kind, description).
import { AUTH_EXTENSION_ENV_VARS } from "./auth-extensions.ts";

/** How a variable's text is turned into a value before the schema validates it. */
export type EnvKind = "string" | "number" | "boolean" | "list";

export interface EnvVar {
  /** Variable name, e.g. "PLINTH_PORT". */
  readonly name: string;
  /** Dotted path of the setting in the schema, e.g. "rateLimit.perIp.capacity". */
  readonly path: string;
  readonly kind: EnvKind;
  readonly description: string;
}

export const ENV_VARS: readonly EnvVar[] = [
  { name: "PLINTH_ENV", path: "env", kind: "string", description: "development or production (production refuses unsafe settings)" },
  { name: "PLINTH_HOST", path: "host", kind: "string", description: "Interface to listen on" },
  { name: "PLINTH_PORT", path: "port", kind: "number", description: "TCP port to listen on" },
  { name: "PLINTH_DATA_DIR", path: "dataDir", kind: "string", description: "Directory for the embedded database, files and generated secrets" },
  { name: "PLINTH_PUBLIC_URL", path: "publicUrl", kind: "string", description: "URL clients use to reach this server (links in emails)" },
  { name: "PLINTH_TRUST_PROXY", path: "trustProxy", kind: "boolean", description: "Trust X-Forwarded-* headers from a load balancer" },
  { name: "PLINTH_DB_URL", path: "db.url", kind: "string", description: "PostgreSQL URL; unset runs an embedded server in <dataDir>/pg" },
  {
    name: "PLINTH_DB_POOL_MAX",
    path: "db.poolMax",
    kind: "number",
    description: "Maximum database connections per pool (the data API keeps a second pool of this size)",
  },
  { name: "PLINTH_PG_BIN", path: "db.pgBin", kind: "string", description: "Directory with initdb/pg_ctl/postgres for the embedded server" },
  { name: "PLINTH_PG_USER", path: "db.pgUser", kind: "string", description: "OS user the embedded server runs as when Plinth runs as root" },
  { name: "PLINTH_JWT_SECRET", path: "jwt.secret", kind: "string", description: "HS256 secret for access tokens and anon/service_role keys (32+ chars)" },
  { name: "PLINTH_JWT_EXPIRY", path: "jwt.expiry", kind: "number", description: "Access-token lifetime in seconds" },
  {
    name: "PLINTH_AUTH_SIGNING_ALG",
    path: "auth.signingAlg",
    kind: "string",
    description: "Algorithm of a new project's signing key: ES256, RS256, or HS256 (jwt.secret only)",
  },
  {
    name: "PLINTH_KEYS_MASTER_SECRET",
    path: "auth.keysMasterSecret",
    kind: "string",
    description: "Encrypts private signing keys at rest (32+ chars; required in production)",
  },
  {
    name: "PLINTH_AUTH_SIGNING_KEYS_PATH",
    path: "auth.signingKeysPath",
    kind: "string",
    description: "JWK set file to import signing keys from (Supabase CLI signing_keys_path)",
  },
  {
    name: "PLINTH_AUTH_AUTOCONFIRM",
    path: "auth.autoconfirm",
    kind: "boolean",
    description: "Confirm sign-ups without email/SMS (default: true in development; must be set in production)",
  },
  { name: "PLINTH_SMTP_HOST", path: "smtp.host", kind: "string", description: "SMTP server for auth emails" },
  { name: "PLINTH_SMTP_PORT", path: "smtp.port", kind: "number", description: "SMTP port" },
  { name: "PLINTH_SMTP_USER", path: "smtp.user", kind: "string", description: "SMTP user name" },
  { name: "PLINTH_SMTP_PASS", path: "smtp.pass", kind: "string", description: "SMTP password" },
  { name: "PLINTH_SMTP_FROM", path: "smtp.from", kind: "string", description: "Sender address of auth emails" },
  { name: "PLINTH_SMTP_SECURE", path: "smtp.secure", kind: "boolean", description: "Implicit TLS (port 465)" },
  { name: "PLINTH_SMS_PROVIDER", path: "sms.provider", kind: "string", description: "none, arkesel, twilio or webhook" },
  { name: "PLINTH_SMS_ARKESEL_URL", path: "sms.arkesel.url", kind: "string", description: "Arkesel API base URL" },
  { name: "PLINTH_SMS_ARKESEL_API_KEY", path: "sms.arkesel.apiKey", kind: "string", description: "Arkesel API key" },
  { name: "PLINTH_SMS_ARKESEL_SENDER", path: "sms.arkesel.sender", kind: "string", description: "Arkesel sender ID" },
  { name: "PLINTH_AUTH_SITE_URL", path: "auth.siteUrl", kind: "string", description: "The app's URL: default redirect of e-mail links" },
  { name: "PLINTH_AUTH_REDIRECT_URLS", path: "auth.redirectUrls", kind: "list", description: "Other allowed redirect URLs, comma-separated (prefix*)" },
  { name: "PLINTH_AUTH_ENABLE_SIGNUP", path: "auth.enableSignup", kind: "boolean", description: "Allow new sign-ups" },
  { name: "PLINTH_AUTH_ENABLE_ANONYMOUS", path: "auth.enableAnonymous", kind: "boolean", description: "Allow anonymous sign-ins" },
  { name: "PLINTH_AUTH_PASSWORD_MIN_LENGTH", path: "auth.password.minLength", kind: "number", description: "Minimum password length" },
  { name: "PLINTH_AUTH_OTP_EXPIRY", path: "auth.otp.expiry", kind: "number", description: "Seconds a one-time code stays valid" },
  {
    name: "PLINTH_AUTH_SECURE_EMAIL_CHANGE",
    path: "auth.secureEmailChange",
    kind: "boolean",
    description: "Confirm email changes from both the current and the new address",
  },
  {
    name: "PLINTH_AUTH_SECURE_PASSWORD_CHANGE",
    path: "auth.securePasswordChange",
    kind: "boolean",
    description: "Require a reauthentication nonce to change a password (sessions older than 24 h)",
  },
  { name: "PLINTH_SMS_TWILIO_ACCOUNT_SID", path: "sms.twilio.accountSid", kind: "string", description: "Twilio account SID" },
  { name: "PLINTH_SMS_TWILIO_AUTH_TOKEN", path: "sms.twilio.authToken", kind: "string", description: "Twilio auth token" },
  { name: "PLINTH_SMS_TWILIO_FROM", path: "sms.twilio.from", kind: "string", description: "Twilio sender number" },
  { name: "PLINTH_SMS_WEBHOOK_URL", path: "sms.webhook.url", kind: "string", description: "Generic SMS webhook URL" },
  { name: "PLINTH_SMS_WEBHOOK_SECRET", path: "sms.webhook.secret", kind: "string", description: "HMAC secret for the SMS webhook" },
  { name: "PLINTH_SMS_DEFAULT_COUNTRY", path: "sms.defaultCountry", kind: "string", description: "ISO country for local phone numbers (e.g. GH)" },
  { name: "PLINTH_CORS_ORIGINS", path: "cors.origins", kind: "list", description: "Allowed origins, comma-separated (* for any)" },
  { name: "PLINTH_CORS_CREDENTIALS", path: "cors.credentials", kind: "boolean", description: "Allow credentialed cross-origin requests" },
  { name: "PLINTH_BODY_LIMIT", path: "http.bodyLimit", kind: "number", description: "Largest request body in bytes" },
  { name: "PLINTH_SHUTDOWN_GRACE", path: "http.shutdownGrace", kind: "number", description: "Seconds a graceful shutdown waits for requests" },
  { name: "PLINTH_RATE_LIMIT_ENABLED", path: "rateLimit.enabled", kind: "boolean", description: "Enable rate limiting" },
  { name: "PLINTH_RATE_LIMIT_IP_CAPACITY", path: "rateLimit.perIp.capacity", kind: "number", description: "Burst size per client IP (0 disables)" },
  { name: "PLINTH_RATE_LIMIT_IP_PER_SECOND", path: "rateLimit.perIp.perSecond", kind: "number", description: "Refill rate per client IP" },
  { name: "PLINTH_RATE_LIMIT_USER_CAPACITY", path: "rateLimit.perUser.capacity", kind: "number", description: "Burst size per user (0 disables)" },
  { name: "PLINTH_RATE_LIMIT_USER_PER_SECOND", path: "rateLimit.perUser.perSecond", kind: "number", description: "Refill rate per user" },
  { name: "PLINTH_REST_SCHEMAS", path: "rest.schemas", kind: "list", description: "Schemas the REST API exposes, comma-separated" },
  { name: "PLINTH_REST_MAX_ROWS", path: "rest.maxRows", kind: "number", description: "Hard cap on rows one REST read returns" },
  {
    name: "PLINTH_REST_PLAN_ENABLED",
    path: "rest.planEnabled",
    kind: "boolean",
    description: "Answer Accept: application/vnd.pgrst.plan+json|text with EXPLAIN output",
  },
  {
    name: "PLINTH_REST_REQUEST_SETTINGS",
    path: "rest.requestSettings",
    kind: "string",
    description: "auto or always: when to set request.method/path/headers for SQL",
  },
  { name: "PLINTH_STORAGE_BACKEND", path: "storage.backend", kind: "string", description: "local or s3" },
  { name: "PLINTH_STORAGE_LOCAL_DIR", path: "storage.localDir", kind: "string", description: "Directory for object bytes (default <dataDir>/storage)" },
  { name: "PLINTH_STORAGE_FILE_SIZE_LIMIT", path: "storage.fileSizeLimit", kind: "number", description: "Largest object in bytes" },
  { name: "PLINTH_STORAGE_S3_ENDPOINT", path: "storage.s3.endpoint", kind: "string", description: "S3-compatible endpoint URL" },
  { name: "PLINTH_STORAGE_S3_BUCKET", path: "storage.s3.bucket", kind: "string", description: "S3 bucket holding object bytes" },
  { name: "PLINTH_STORAGE_S3_REGION", path: "storage.s3.region", kind: "string", description: "S3 region" },
  { name: "PLINTH_STORAGE_S3_ACCESS_KEY_ID", path: "storage.s3.accessKeyId", kind: "string", description: "S3 access key id" },
  { name: "PLINTH_STORAGE_S3_SECRET_ACCESS_KEY", path: "storage.s3.secretAccessKey", kind: "string", description: "S3 secret access key" },
  { name: "PLINTH_STORAGE_S3_FORCE_PATH_STYLE", path: "storage.s3.forcePathStyle", kind: "boolean", description: "Path-style S3 URLs" },
  { name: "PLINTH_STORAGE_IMAGE_ENABLED", path: "storage.imageTransformation.enabled", kind: "boolean", description: "Image transformations (/storage/v1/render/image)" },
  { name: "PLINTH_STORAGE_IMAGE_MAX_SOURCE_BYTES", path: "storage.imageTransformation.maxSourceBytes", kind: "number", description: "Largest source image rendered, in bytes" },
  { name: "PLINTH_STORAGE_IMAGE_MAX_SOURCE_PIXELS", path: "storage.imageTransformation.maxSourcePixels", kind: "number", description: "Largest source image rendered, in pixels" },
  { name: "PLINTH_STORAGE_IMAGE_MAX_DIMENSION", path: "storage.imageTransformation.maxDimension", kind: "number", description: "Output width/height clamp" },
  { name: "PLINTH_STORAGE_IMAGE_CACHE_BYTES", path: "storage.imageTransformation.cacheBytes", kind: "number", description: "Disk space for rendered variants" },
  { name: "PLINTH_STORAGE_IMAGE_CONCURRENCY", path: "storage.imageTransformation.concurrency", kind: "number", description: "Renders at once (0: one per core)" },
  {
    name: "PLINTH_REALTIME_MAX_SOCKET_BUFFER",
    path: "realtime.maxSocketBuffer",
    kind: "number",
    description: "Bytes buffered per slow socket before disconnect",
  },
  { name: "PLINTH_REALTIME_SLOT_NAME", path: "realtime.slotName", kind: "string", description: "Logical replication slot name" },
  {
    name: "PLINTH_ADMIN_SESSION_IDLE_TIMEOUT",
    path: "admin.sessionIdleTimeout",
    kind: "number",
    description: "Seconds without a request after which an admin session ends",
  },
  { name: "PLINTH_ADMIN_SESSION_LIFETIME", path: "admin.sessionLifetime", kind: "number", description: "Seconds after sign-in at which an admin session ends" },
  { name: "PLINTH_ADMIN_MAX_SESSIONS", path: "admin.maxSessions", kind: "number", description: "Concurrent sessions per admin (the oldest ends beyond it)" },
  {
    name: "PLINTH_ADMIN_REQUIRE_MFA",
    path: "admin.requireMfa",
    kind: "boolean",
    description: "Admins need a verified TOTP factor to sign in (default: true in production)",
  },
  { name: "PLINTH_AUTH_LOCKOUT_ENABLED", path: "auth.lockout.enabled", kind: "boolean", description: "Lock identifiers after repeated failed sign-ins" },
  { name: "PLINTH_AUTH_LOCKOUT_MAX_ATTEMPTS", path: "auth.lockout.maxAttempts", kind: "number", description: "Failures within the window before a lock" },
  { name: "PLINTH_AUTH_LOCKOUT_WINDOW", path: "auth.lockout.window", kind: "number", description: "Seconds over which failures are counted" },
  { name: "PLINTH_AUTH_LOCKOUT_MAX_LOCK", path: "auth.lockout.maxLock", kind: "number", description: "Longest lock in seconds (locks double from 60 s)" },
  { name: "PLINTH_SECURITY_ALERTS_WEBHOOK_URL", path: "security.alerts.webhookUrl", kind: "string", description: "Security alerts: webhook URL (Standard Webhooks signing)" },
  {
    name: "PLINTH_SECURITY_ALERTS_WEBHOOK_SECRET",
    path: "security.alerts.webhookSecret",
    kind: "string",
    description: "Security alerts: webhook signing secret (whsec_...)",
  },
  { name: "PLINTH_SECURITY_ALERTS_EMAIL", path: "security.alerts.email", kind: "string", description: "Security alerts: e-mail address (through smtp.*)" },
  {
    name: "PLINTH_SECURITY_ALERTS_MIN_SEVERITY",
    path: "security.alerts.minSeverity",
    kind: "string",
    description: "Security alerts: lowest severity that alerts (low, medium, high, critical)",
  },
  { name: "PLINTH_LOG_LEVEL", path: "log.level", kind: "string", description: "debug, info, warn, error or silent" },
  { name: "PLINTH_AUDIT_RETENTION_DAYS", path: "audit.retentionDays", kind: "number", description: "Days audit rows stay live before they are archived and removed (unset: forever)" },
  { name: "PLINTH_MIGRATIONS_DIR", path: "migrationsDir", kind: "string", description: "Directory of the project's up/down migrations" },
  ...AUTH_EXTENSION_ENV_VARS,
];

/** A parsed YAML mapping / settings object before validation. */
export type Tree = { [key: string]: unknown };

export function isTree(value: unknown): value is Tree {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export interface EnvResult {
  /** A copy of the input with the overrides applied (the input is not modified). */
  tree: Tree;
  /** Dotted setting path → name of the variable that set it. */
  setBy: Map<string, string>;
  /** One message per unusable variable, naming it, e.g. `PLINTH_PORT: expected a number, got "x"`. */
  errors: string[];
}

/**
 * Lay the PLINTH_* variables found in `env` over `base`. Empty (or blank) variables count as
 * unset, because `PLINTH_X=` is how shells and compose files commonly "unset" a variable.
 * Values are converted by kind here; ranges, enums and URLs are left to the schema.
 */
export function applyEnv(base: Tree, env: Record<string, string | undefined>): EnvResult {
  const tree = structuredClone(base);
  const setBy = new Map<string, string>();
  const errors: string[] = [];
  for (const v of ENV_VARS) {
    const text = env[v.name];
    if (text === undefined || text.trim() === "") continue;
    const parsed = parseEnvValue(v, text);
    if ("error" in parsed) {
      errors.push(`${v.name}: ${parsed.error}`);
      continue;
    }
    if (setPath(tree, v.path.split("."), parsed.value)) setBy.set(v.path, v.name);
  }
  return { tree, setBy, errors };
}

const TRUE_WORDS = ["true", "1", "yes", "on"];
const FALSE_WORDS = ["false", "0", "no", "off"];
// Strict on purpose: Number("") is 0 and Number(" 0x1f") is 31; a typo must not become a port.
const NUMBER_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function parseEnvValue(v: EnvVar, raw: string): { value: unknown } | { error: string } {
  const text = raw.trim();
  switch (v.kind) {
    case "string":
      return { value: raw }; // untrimmed: a secret may legitimately contain spaces
    case "number":
      return NUMBER_RE.test(text) ? { value: Number(text) } : { error: `expected a number, got ${JSON.stringify(raw)}` };
    case "boolean": {
      const word = text.toLowerCase();
      if (TRUE_WORDS.includes(word)) return { value: true };
      if (FALSE_WORDS.includes(word)) return { value: false };
      return { error: `expected true or false (or yes/no, on/off, 1/0), got ${JSON.stringify(raw)}` };
    }
    case "list":
      return {
        value: text
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
      };
  }
}

/**
 * Set `value` at `path`, creating missing objects on the way. If the file put a non-object where
 * an object belongs (e.g. `rateLimit: 5`), the override is skipped so that the schema reports the
 * file's mistake at its line instead of it being silently replaced. Returns whether it was set.
 */
function setPath(tree: Tree, path: string[], value: unknown): boolean {
  let node = tree;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === undefined) node[key] = {};
    else if (!isTree(next)) return false;
    node = node[key] as Tree;
  }
  node[path[path.length - 1]!] = value;
  return true;
}
