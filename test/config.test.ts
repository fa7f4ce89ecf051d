// Configuration: defaults, plinth.yaml, PLINTH_* env, error messages, production rules, dev secret,
// masking. Pure: temp directories only, no database.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConfigError,
  DEMO_JWT_SECRET,
  ENV_VARS,
  configSchema,
  effectiveAutoconfirm,
  formatConfig,
  loadConfig,
  maskedConfig,
  resolveJwtSecret,
  unsafeSettings,
  type LoadedConfig,
} from "../src/config/index.ts";

const root = mkdtempSync(join(tmpdir(), "plinth-config-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let dirCount = 0;
/** A fresh directory, optionally holding a plinth.yaml with `yaml` as its text. */
function project(yaml?: string): string {
  const dir = join(root, `p${++dirCount}`);
  mkdirSync(dir);
  if (yaml !== undefined) writeFileSync(join(dir, "plinth.yaml"), yaml);
  return dir;
}

/** The ConfigError message `fn` throws (fails the test if it throws something else, or nothing). */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as ConfigError).message;
    expect(message).not.toContain("    at "); // no stack trace in the human text
    return message;
  }
  throw new Error("expected a ConfigError");
}

const SAFE_SECRET = "k3J9x-Qm2vT8wZr4Lp7Yc1Nb6Hd0Fs5Ga";

describe("loading", () => {
  test("defaults with no file and no env", () => {
    const dir = project();
    const { config, file, explicit } = loadConfig({ cwd: dir, env: {} });
    expect(file).toBeNull();
    expect(explicit.size).toBe(0);
    expect(config.env).toBe("development");
    expect(config.host).toBe("127.0.0.1");
    expect(config.port).toBe(8787);
    expect(config.db.url).toBeUndefined();
    expect(config.cors.origins).toEqual(["*"]);
    expect(config.rateLimit.perIp).toEqual({ capacity: 300, perSecond: 50 });
    // relative paths are resolved against cwd
    expect(config.dataDir).toBe(join(dir, "plinth_data"));
    expect(config.migrationsDir).toBe(join(dir, "plinth_migrations"));
    expect(config.auth.autoconfirm).toBeUndefined();
    expect(effectiveAutoconfirm(config)).toBe(true);
  });

  test("the schema's defaults parse to themselves (the merge relies on it)", () => {
    const defaults = configSchema.parse({});
    expect(configSchema.parse(defaults)).toEqual(defaults);
  });

  test("reads <cwd>/plinth.yaml; objects merge with defaults; explicit lists what was set", () => {
    const dir = project(
      [
        "port: 9000",
        "dataDir: ./data",
        "db:",
        "  pgBin: /opt/pg/bin",
        "rateLimit:",
        "  perIp:",
        "    capacity: 5",
        "smtp:   # all children commented out",
        "#  host: x",
        "",
      ].join("\n"),
    );
    const loaded = loadConfig({ cwd: dir, env: {} });
    expect(loaded.file).toBe(join(dir, "plinth.yaml"));
    expect(loaded.config.port).toBe(9000);
    expect(loaded.config.dataDir).toBe(join(dir, "data"));
    expect(loaded.config.db.pgBin).toBe("/opt/pg/bin");
    expect(loaded.config.rateLimit.perIp).toEqual({ capacity: 5, perSecond: 50 });
    expect(loaded.config.smtp.port).toBe(587);
    expect([...loaded.explicit].sort()).toEqual(["dataDir", "db.pgBin", "port", "rateLimit.perIp.capacity"]);
  });

  test("an explicitly named file, relative to cwd", () => {
    const dir = project();
    writeFileSync(join(dir, "other.yaml"), "host: 0.0.0.0\ncors:\n  origins: [https://a.example, https://b.example]\n");
    const { config, file } = loadConfig({ cwd: dir, file: "other.yaml", env: {} });
    expect(file).toBe(join(dir, "other.yaml"));
    expect(config.host).toBe("0.0.0.0");
    expect(config.cors.origins).toEqual(["https://a.example", "https://b.example"]);
  });

  test("an empty file is fine", () => {
    expect(loadConfig({ cwd: project("# nothing yet\n"), env: {} }).config.port).toBe(8787);
  });

  test("env overrides the file; empty env vars count as unset", () => {
    const dir = project("port: 9000\nhost: 10.0.0.1\nlog:\n  level: warn\n");
    const { config, explicit } = loadConfig({
      cwd: dir,
      env: {
        PLINTH_PORT: "9100",
        PLINTH_HOST: "",
        PLINTH_AUTH_AUTOCONFIRM: "no",
        PLINTH_CORS_ORIGINS: "https://a.example, https://b.example",
        PLINTH_RATE_LIMIT_USER_PER_SECOND: "2.5",
        PLINTH_SMS_ARKESEL_API_KEY: "key",
        PLINTH_DB_URL: "postgres://u:p@db:5432/app",
      },
    });
    expect(config.port).toBe(9100);
    expect(config.host).toBe("10.0.0.1");
    expect(config.log.level).toBe("warn");
    expect(config.auth.autoconfirm).toBe(false);
    expect(config.cors.origins).toEqual(["https://a.example", "https://b.example"]);
    expect(config.rateLimit.perUser).toEqual({ capacity: 300, perSecond: 2.5 });
    expect(config.sms.arkesel.apiKey).toBe("key");
    expect(config.db.url).toBe("postgres://u:p@db:5432/app");
    expect(explicit.has("auth.autoconfirm")).toBe(true);
    expect(explicit.has("host")).toBe(true); // from the file
  });

  test("every env var in the table points at a real setting", () => {
    const env: Record<string, string> = {};
    for (const v of ENV_VARS) env[v.name] = v.kind === "number" ? "1024" : v.kind === "boolean" ? "true" : "x";
    const message = errorOf(() => loadConfig({ cwd: project(), env }));
    // Only value errors (enums, URLs) — never "unknown setting", which would mean a wrong path.
    expect(message).not.toContain("unknown setting");
    expect(message).toContain("PLINTH_ENV:");
    expect(message).toContain("PLINTH_PUBLIC_URL:");
  });
});

describe("errors", () => {
  test("an explicitly named file that does not exist", () => {
    const message = errorOf(() => loadConfig({ cwd: project(), file: "missing.yaml", env: {} }));
    expect(message).toContain("missing.yaml");
    expect(message).toContain("not found");
  });

  test("YAML syntax error names file:line:col", () => {
    const dir = project("port: 1\nhost: a: b\n");
    expect(errorOf(() => loadConfig({ cwd: dir, env: {} }))).toMatch(/^plinth\.yaml:2:\d+: /);
  });

  test("a file that is not a mapping", () => {
    const message = errorOf(() => loadConfig({ cwd: project("- port\n- host\n"), env: {} }));
    expect(message).toContain("plinth.yaml:1:");
    expect(message).toContain("found a list");
  });

  test("invalid values name file, line and field; all issues are reported", () => {
    const dir = project(["host: x", "port: abc", "db:", "  poolMax: 0", "auth:", "  autoconfirm: maybe", ""].join("\n"));
    const message = errorOf(() => loadConfig({ cwd: dir, env: {} }));
    const lines = message.split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe('plinth.yaml:2: port: Invalid input: expected number, got "abc"');
    expect(lines[1]).toStartWith("plinth.yaml:4: db.poolMax: ");
    expect(lines[2]).toStartWith("plinth.yaml:6: auth.autoconfirm: ");
  });

  test("unknown keys are named at their own line, with a suggestion", () => {
    const dir = project(["port: 1", "db:", "  pool_max: 3", "nonsense: true", ""].join("\n"));
    const message = errorOf(() => loadConfig({ cwd: dir, env: {} }));
    expect(message).toContain('plinth.yaml:3: db.pool_max: unknown setting (did you mean "poolMax"?)');
    expect(message).toContain("plinth.yaml:4: nonsense: unknown setting");
  });

  test("env errors name the variable", () => {
    const dir = project();
    const message = errorOf(() =>
      loadConfig({ cwd: dir, env: { PLINTH_PORT: "eighty", PLINTH_TRUST_PROXY: "sure", PLINTH_LOG_LEVEL: "loud", PLINTH_SMTP_PORT: "70000" } }),
    );
    expect(message).toContain('PLINTH_PORT: expected a number, got "eighty"');
    expect(message).toContain("PLINTH_TRUST_PROXY: expected true or false");
    expect(message).toContain("PLINTH_LOG_LEVEL: ");
    expect(message).toContain("PLINTH_SMTP_PORT: Too big");
  });

  test("an env value replaces a bad file value at the same setting", () => {
    const dir = project("port: abc\n");
    expect(loadConfig({ cwd: dir, env: { PLINTH_PORT: "8080" } }).config.port).toBe(8080);
  });
});

describe("production rules", () => {
  function load(env: Record<string, string>, yaml?: string): LoadedConfig {
    return loadConfig({ cwd: project(yaml), env: { PLINTH_ENV: "production", ...env } });
  }
  const safe = { PLINTH_JWT_SECRET: SAFE_SECRET, PLINTH_AUTH_AUTOCONFIRM: "false" };

  test("all safe: nothing reported (0.0.0.0 without publicUrl is fine)", () => {
    const loaded = load({ ...safe, PLINTH_HOST: "0.0.0.0", PLINTH_CORS_CREDENTIALS: "true", PLINTH_CORS_ORIGINS: "https://app.example" });
    expect(unsafeSettings(loaded)).toEqual([]);
    expect(effectiveAutoconfirm(loaded.config)).toBe(false);
  });

  test("missing JWT secret", () => {
    const problems = unsafeSettings(load({ PLINTH_AUTH_AUTOCONFIRM: "false" }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("PLINTH_JWT_SECRET");
  });

  test("short JWT secret", () => {
    const problems = unsafeSettings(load({ ...safe, PLINTH_JWT_SECRET: "too-short" }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("at least 32");
  });

  test("demo JWT secret", () => {
    const problems = unsafeSettings(load({ ...safe, PLINTH_JWT_SECRET: DEMO_JWT_SECRET }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("demo secret");
  });

  test("autoconfirm not set explicitly; either explicit value passes", () => {
    const problems = unsafeSettings(load({ PLINTH_JWT_SECRET: SAFE_SECRET }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("PLINTH_AUTH_AUTOCONFIRM");
    expect(unsafeSettings(load({ PLINTH_JWT_SECRET: SAFE_SECRET }, "auth:\n  autoconfirm: true\n"))).toEqual([]);
    expect(unsafeSettings(load({ PLINTH_JWT_SECRET: SAFE_SECRET, PLINTH_AUTH_AUTOCONFIRM: "true" }))).toEqual([]);
  });

  test('CORS "*" with credentials', () => {
    const problems = unsafeSettings(load({ ...safe, PLINTH_CORS_CREDENTIALS: "true" }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("PLINTH_CORS_ORIGINS");
  });

  test("development reports nothing", () => {
    const loaded = loadConfig({ cwd: project(), env: { PLINTH_CORS_CREDENTIALS: "true", PLINTH_JWT_SECRET: "x" } });
    expect(unsafeSettings(loaded)).toEqual([]);
  });
});

describe("JWT secret", () => {
  test("configured secret is used as is", () => {
    const { config } = loadConfig({ cwd: project(), env: { PLINTH_JWT_SECRET: SAFE_SECRET } });
    expect(resolveJwtSecret(config, config.dataDir)).toBe(SAFE_SECRET);
  });

  test("development: generated once, kept with mode 0600, reused", () => {
    const { config } = loadConfig({ cwd: project(), env: {} });
    const first = resolveJwtSecret(config, config.dataDir);
    expect(first).toMatch(/^[A-Za-z0-9_-]{64}$/); // 48 bytes, base64url
    const file = join(config.dataDir, "jwt_secret");
    expect(readFileSync(file, "utf8").trim()).toBe(first);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(resolveJwtSecret(config, config.dataDir)).toBe(first);
  });

  test("production without a secret is an error", () => {
    const { config } = loadConfig({ cwd: project(), env: { PLINTH_ENV: "production" } });
    expect(errorOf(() => resolveJwtSecret(config, config.dataDir))).toContain("PLINTH_JWT_SECRET");
  });
});

describe("printing", () => {
  test("secrets are masked, never printed whole", () => {
    const secrets = { jwt: SAFE_SECRET, smtp: "smtp-password-123", sms: "arkesel-api-key-abcdef", db: "db-pass-xyz" };
    const { config } = loadConfig({
      cwd: project(),
      env: {
        PLINTH_JWT_SECRET: secrets.jwt,
        PLINTH_SMTP_PASS: secrets.smtp,
        PLINTH_SMS_ARKESEL_API_KEY: secrets.sms,
        PLINTH_DB_URL: `postgres://plinth:${secrets.db}@db.internal:5432/app?sslmode=require`,
      },
    });
    const text = formatConfig(config);
    const masked = JSON.stringify(maskedConfig(config));
    for (const secret of Object.values(secrets)) {
      expect(text).not.toContain(secret);
      expect(masked).not.toContain(secret);
    }
    expect(text).toContain("postgres://plinth:****@db.internal:5432/app?sslmode=require");
    expect(text).toContain("port: 8787");
    expect(config.jwt.secret).toBe(SAFE_SECRET); // the original is untouched
  });
});
