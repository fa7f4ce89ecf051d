// The one schema for every Plinth setting. The YAML file (plinth.yaml) has exactly this shape
// (camelCase keys); PLINTH_* environment variables override it (see env.ts for the mapping).
import { z } from "zod";
import { externalSchema, hookSchema, ldapSchema, pluginsSchema } from "./auth-extensions.ts";

const port = z.coerce.number().int().min(0).max(65535);
const bool = z
  .union([z.boolean(), z.enum(["true", "false", "1", "0", "yes", "no", "on", "off"])])
  .transform((v) => (typeof v === "boolean" ? v : ["true", "1", "yes", "on"].includes(v)));
const stringList = z.union([z.array(z.string()), z.string()]).transform((v) =>
  Array.isArray(v)
    ? v
    : v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
);

/** A token bucket: `capacity` requests at once, refilled at `perSecond`. 0 capacity disables it. */
const bucket = z
  .object({
    capacity: z.coerce.number().int().min(0),
    perSecond: z.coerce.number().min(0),
  })
  .strict();

export const configSchema = z
  .object({
    env: z.enum(["development", "production"]).default("development"),
    host: z.string().min(1).default("127.0.0.1"),
    port: port.default(8787),
    dataDir: z.string().min(1).default("./plinth_data"),
    /** Public URL of this server as clients reach it (used in links, e.g. behind a load balancer). */
    publicUrl: z.string().url().optional(),
    /** Trust X-Forwarded-For / X-Forwarded-Proto from the load balancer in front. */
    trustProxy: bool.default(false),
    db: z
      .object({
        /** Absent: Plinth runs its own embedded PostgreSQL in <dataDir>/pg. */
        url: z.string().min(1).optional(),
        poolMax: z.coerce.number().int().min(1).max(1000).default(10),
        /** Directory holding initdb/pg_ctl/postgres for the embedded server (overrides discovery). */
        pgBin: z.string().min(1).optional(),
        /** OS user the embedded server runs as when Plinth runs as root. */
        pgUser: z.string().min(1).default("plinth"),
      })
      .strict()
      .prefault({}),
    jwt: z
      .object({
        secret: z.string().min(1).optional(),
        /** Access-token lifetime in seconds. */
        expiry: z.coerce
          .number()
          .int()
          .min(30)
          .max(7 * 24 * 3600)
          .default(3600),
      })
      .strict()
      .prefault({}),
    auth: z
      .object({
        /** Sign-ups are confirmed without an email/SMS round trip. */
        autoconfirm: bool.optional(),
        /** The app's URL: default redirect target of e-mail links. */
        siteUrl: z.string().url().default("http://localhost:3000"),
        /** Other allowed redirect targets (exact URLs, or prefixes ending in `*`). */
        redirectUrls: stringList.default([]),
        enableSignup: bool.default(true),
        enableAnonymous: bool.default(false),
        password: z
          .object({
            minLength: z.coerce.number().int().min(6).max(256).default(8),
            /** Character classes every password must contain. */
            require: z.array(z.enum(["lower", "upper", "digit", "symbol"])).default([]),
          })
          .strict()
          .prefault({}),
        otp: z
          .object({
            /** Seconds a one-time code or link token stays valid. */
            expiry: z.coerce.number().int().min(30).max(86400).default(600),
            length: z.coerce.number().int().min(6).max(10).default(6),
            /** Wrong codes allowed per issued code before it is burnt. */
            maxAttempts: z.coerce.number().int().min(1).max(100).default(5),
          })
          .strict()
          .prefault({}),
        /**
         * An email change is confirmed from both the current and the new address (GoTrue's secure
         * email change); off, the new address alone confirms it.
         */
        secureEmailChange: bool.default(true),
        /**
         * A password change needs a nonce from GET /reauthenticate, unless the session was signed
         * in within the last 24 hours (GoTrue's secure password change).
         */
        securePasswordChange: bool.default(false),
        /** Seconds within which a reused refresh token returns the current one instead of revoking. */
        refreshReuseInterval: z.coerce.number().int().min(0).max(3600).default(10),
        /**
         * Signing keys (src/keys/): the algorithm of the key a project without an asymmetric key gets at
         * start (ES256, written by `plinth init`; RS256); HS256 keeps signing with jwt.secret alone.
         */
        signingAlg: z.enum(["ES256", "RS256", "HS256"]).default("HS256"),
        /** Encrypts private signing keys at rest (derived from jwt.secret when unset; required in production). */
        keysMasterSecret: z.string().min(32).optional(),
        /** A JWK set file to import signing keys from (the Supabase CLI's signing_keys_path). */
        signingKeysPath: z.string().min(1).optional(),
        /**
         * Brute-force protection (src/auth/lockout.ts): failed attempts per identifier (whether or not
         * an account exists) lock it for baseLock seconds, doubling with each further lock up to
         * maxLock; burstThreshold failures from one address within the window raise failure_burst.
         */
        lockout: z
          .object({
            enabled: bool.default(true),
            maxAttempts: z.coerce.number().int().min(1).max(1000).default(5),
            /** Seconds over which failures are counted. */
            window: z.coerce.number().int().min(1).max(86400).default(900),
            /** Seconds of the first lock. */
            baseLock: z.coerce.number().int().min(1).max(86400).default(60),
            maxLock: z.coerce
              .number()
              .int()
              .min(1)
              .max(30 * 86400)
              .default(3600),
            burstThreshold: z.coerce.number().int().min(2).max(1_000_000).default(20),
          })
          .strict()
          .prefault({}),
        /** Per-IP buckets for the sensitive endpoints, and per-recipient buckets for sends. */
        rateLimits: z
          .object({
            token: bucket.default({ capacity: 30, perSecond: 0.5 }),
            otp: bucket.default({ capacity: 10, perSecond: 0.05 }),
            verify: bucket.default({ capacity: 30, perSecond: 0.5 }),
            recover: bucket.default({ capacity: 10, perSecond: 0.05 }),
            /** Mails to one address. */
            emailSend: bucket.default({ capacity: 5, perSecond: 1 / 60 }),
            /** SMS to one number. */
            smsSend: bucket.default({ capacity: 5, perSecond: 1 / 60 }),
          })
          .strict()
          .prefault({}),
        /** Mail templates: files (HTML and text) and subjects overriding the built-in ones. */
        templates: z
          .partialRecord(
            z.enum(["confirmation", "magicLink", "recovery", "invite", "emailChange"]),
            z.object({ subject: z.string().optional(), html: z.string().optional(), text: z.string().optional() }).strict(),
          )
          .default({}),
        /** SMS text; {{code}} is replaced by the one-time code. */
        smsTemplate: z.string().min(1).default("Your code is {{code}}"),
        /** OAuth/OIDC providers, LDAP and auth hooks (auth-extensions.ts). */
        external: externalSchema,
        ldap: ldapSchema,
        hook: hookSchema,
      })
      .strict()
      .prefault({}),
    smtp: z
      .object({
        host: z.string().min(1).optional(),
        port: port.default(587),
        user: z.string().optional(),
        pass: z.string().optional(),
        from: z.string().optional(),
        /** Implicit TLS (port 465). STARTTLS is used when the server offers it otherwise. */
        secure: bool.default(false),
      })
      .strict()
      .prefault({}),
    sms: z
      .object({
        provider: z.enum(["none", "arkesel", "twilio", "webhook"]).default("none"),
        arkesel: z
          .object({
            url: z.string().url().default("https://sms.arkesel.com"),
            apiKey: z.string().optional(),
            sender: z.string().optional(),
          })
          .strict()
          .prefault({}),
        twilio: z
          .object({
            url: z.string().url().default("https://api.twilio.com"),
            accountSid: z.string().optional(),
            authToken: z.string().optional(),
            from: z.string().optional(),
          })
          .strict()
          .prefault({}),
        /** Generic provider: POST {to, message} as JSON, signed with an HMAC of the body. */
        webhook: z
          .object({
            url: z.string().url().optional(),
            secret: z.string().optional(),
          })
          .strict()
          .prefault({}),
        /** ISO country for numbers written without a country code (e.g. "GH"). */
        defaultCountry: z.string().length(2).optional(),
      })
      .strict()
      .prefault({}),
    cors: z
      .object({
        origins: stringList.default(["*"]),
        credentials: bool.default(false),
      })
      .strict()
      .prefault({}),
    http: z
      .object({
        /** Largest request body accepted, in bytes (storage uploads have their own limit). */
        bodyLimit: z.coerce
          .number()
          .int()
          .min(1024)
          .default(1024 * 1024),
        /** Seconds a graceful shutdown waits for in-flight requests. */
        shutdownGrace: z.coerce.number().min(0).default(10),
      })
      .strict()
      .prefault({}),
    rateLimit: z
      .object({
        enabled: bool.default(true),
        perIp: bucket.default({ capacity: 300, perSecond: 50 }),
        perUser: bucket.default({ capacity: 300, perSecond: 50 }),
      })
      .strict()
      .prefault({}),
    rest: z
      .object({
        /** Schemas the REST API exposes (Accept-Profile / Content-Profile pick one; the first is the default). */
        schemas: stringList.default(["public"]),
        /** Hard cap on rows a single read returns (unset: no cap, as PostgREST's db-max-rows). */
        maxRows: z.coerce.number().int().min(1).optional(),
        /** Answer `Accept: application/vnd.pgrst.plan+json|text` with the query's EXPLAIN (PostgREST's db-plan-enabled). */
        planEnabled: bool.default(false),
        /**
         * When to set request.method, request.path and request.headers for SQL (PostgREST sets them
         * on every request). `auto`: only while some function, policy, view, default or check in the
         * database mentions `request.` (other than request.jwt) — otherwise a request that is one
         * statement runs as one statement, without a transaction of its own. `always`: every request
         * is a transaction that sets them (for SQL that builds the setting's name at run time).
         */
        requestSettings: z.enum(["auto", "always"]).default("auto"),
      })
      .strict()
      .prefault({}),
    storage: z
      .object({
        backend: z.enum(["local", "s3"]).default("local"),
        /** Directory for object bytes with the local backend (default <dataDir>/storage). */
        localDir: z.string().min(1).optional(),
        /** Largest object accepted, in bytes, whatever the bucket says (default 50 GiB). */
        fileSizeLimit: z.coerce
          .number()
          .int()
          .min(1)
          .default(50 * 1024 ** 3),
        s3: z
          .object({
            endpoint: z.string().url().optional(),
            bucket: z.string().min(1).optional(),
            region: z.string().min(1).default("us-east-1"),
            accessKeyId: z.string().optional(),
            secretAccessKey: z.string().optional(),
            /** Path-style addressing (http://host/bucket/key), needed by most self-hosted S3 servers. */
            forcePathStyle: bool.default(true),
          })
          .strict()
          .prefault({}),
        /** Image transformations under /storage/v1/render/image (sharp/libvips). */
        imageTransformation: z
          .object({
            enabled: bool.default(true),
            /** Largest source object rendered, in bytes (Supabase's hosted limit: 25 MB). */
            maxSourceBytes: z.coerce.number().int().min(1).default(25 * 1024 * 1024),
            /** Largest source resolution, in pixels (width × height). */
            maxSourcePixels: z.coerce.number().int().min(1).default(50_000_000),
            /** Output width and height are clamped to this (Supabase's default 2000). */
            maxDimension: z.coerce.number().int().min(1).max(16384).default(2000),
            /** Bytes of rendered variants kept on disk (<dataDir>/cache/render); the oldest go first. */
            cacheBytes: z.coerce.number().int().min(0).default(512 * 1024 * 1024),
            /** Renders running at once (0: one per CPU core); more wait, and past 32 waiting get 429. */
            concurrency: z.coerce.number().int().min(0).default(0),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    realtime: z
      .object({
        /** Largest number of bytes buffered for one slow socket before it is disconnected. */
        maxSocketBuffer: z.coerce
          .number()
          .int()
          .min(1024)
          .default(4 * 1024 * 1024),
        /** Prefix of each node's temporary logical replication slot (<prefix>_<node id>). */
        slotName: z
          .string()
          .regex(/^[a-z0-9_]{1,63}$/)
          .default("plinth_realtime"),
      })
      .strict()
      .prefault({}),
    /** Admin accounts' sign-in and sessions on /admin/v1 (the service_role key is not affected). */
    admin: z
      .object({
        /** Seconds without a request after which an admin session ends. */
        sessionIdleTimeout: z.coerce
          .number()
          .int()
          .min(60)
          .max(7 * 24 * 3600)
          .default(30 * 60),
        /** Seconds after sign-in at which an admin session ends, however active. */
        sessionLifetime: z.coerce
          .number()
          .int()
          .min(60)
          .max(30 * 24 * 3600)
          .default(12 * 3600),
        /** Concurrent sessions per admin; signing in beyond it ends the oldest. */
        maxSessions: z.coerce.number().int().min(1).max(100).default(5),
        /**
         * Admins must have a verified TOTP factor to sign in (default: on in production, off in
         * development).
         */
        requireMfa: bool.optional(),
      })
      .strict()
      .prefault({}),
    /** Security events' alerts (src/admin/security/alerts.ts): a signed webhook and/or an e-mail through smtp.*. */
    security: z
      .object({
        alerts: z
          .object({
            webhookUrl: z.string().url().optional(),
            /** Standard Webhooks secret: "whsec_" + base64 of the key. */
            webhookSecret: z
              .string()
              .regex(/^whsec_[A-Za-z0-9+/]{16,}={0,2}$/, 'must be "whsec_" followed by the base64 of a key of 12 bytes or more')
              .optional(),
            email: z.string().email().optional(),
            /** Events below this severity are stored but raise no alert. */
            minSeverity: z.enum(["low", "medium", "high", "critical"]).default("high"),
            /** Seconds before the first retry of a failed delivery; doubles per attempt, at most an hour. */
            retryBase: z.coerce.number().min(0.05).max(3600).default(5),
            /** Deliveries tried per alert and target before it is given up (and logged). */
            maxAttempts: z.coerce.number().int().min(1).max(100).default(12),
            /** Seconds between two looks at the outbox. */
            pollInterval: z.coerce.number().min(0.05).max(600).default(2),
          })
          .strict()
          .refine((a) => !a.webhookUrl || a.webhookSecret, { message: "security.alerts.webhookSecret is required with webhookUrl", path: ["webhookSecret"] })
          .prefault({}),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
      })
      .strict()
      .prefault({}),
    /** The audit log (src/admin/audit/): how long rows stay in the database before they are archived and removed. */
    audit: z
      .object({
        /** Days a row stays live; older rows are archived (gzip NDJSON) then removed. Unset: kept forever. */
        retentionDays: z.coerce.number().int().min(1).max(36_500).optional(),
      })
      .strict()
      .prefault({}),
    migrationsDir: z.string().min(1).default("./plinth_migrations"),
    /** Plugin modules (src/plugins/). */
    plugins: pluginsSchema,
  })
  .strict();

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
