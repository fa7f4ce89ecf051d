// Public API of the configuration module.
export { configSchema, type Config, type ConfigInput } from "./schema.ts";
export { ENV_VARS, applyEnv, type EnvKind, type EnvVar, type EnvResult } from "./env.ts";
export { ConfigError, DEFAULT_CONFIG_FILE, loadConfig, type LoadOptions, type LoadedConfig } from "./load.ts";
export { DEMO_JWT_SECRET, MIN_JWT_SECRET_LENGTH, effectiveAutoconfirm, unsafeSettings } from "./production.ts";
export { JWT_SECRET_FILE, resolveJwtSecret } from "./secrets.ts";
export { formatConfig, maskDbUrl, maskSecret, maskedConfig } from "./print.ts";
