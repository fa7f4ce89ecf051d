// The one schema for every Plinth setting. The YAML file (plinth.yaml) has exactly this shape
// (camelCase keys); PLINTH_* environment variables override it (see env.ts for the mapping).
import { z } from "zod";

const port = z.coerce.number().int().min(0).max(65535);
const bool = z.union([z.boolean(), z.enum(["true", "false", "1", "0", "yes", "no", "on", "off"])]).transform(
  (v) => (typeof v === "boolean" ? v : ["true", "1", "yes", "on"].includes(v)),
);
const stringList = z.union([z.array(z.string()), z.string()]).transform((v) =>
  Array.isArray(v) ? v : v.split(",").map((s) => s.trim()).filter(Boolean),
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
        expiry: z.coerce.number().int().min(30).max(7 * 24 * 3600).default(3600),
      })
      .strict()
      .prefault({}),
    auth: z
      .object({
        /** Sign-ups are confirmed without an email/SMS round trip. */
        autoconfirm: bool.optional(),
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
        bodyLimit: z.coerce.number().int().min(1024).default(1024 * 1024),
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
    log: z
      .object({
        level: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
      })
      .strict()
      .prefault({}),
    migrationsDir: z.string().min(1).default("./plinth_migrations"),
  })
  .strict();

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
