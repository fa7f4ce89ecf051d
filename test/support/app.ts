// Builds the gateway + routes in-process against a real test database, without opening a port.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configSchema, type Config, type ConfigInput } from "../../src/config/schema.ts";
import { signJwt } from "../../src/lib/jwt.ts";
import { createApp } from "../../src/app.ts";
import { createLogger } from "../../src/log.ts";
import type { Database } from "../../src/db/pool.ts";

export const TEST_SECRET = "test-secret-that-is-at-least-32-characters-long";

/** One scratch data dir per test run, so no test writes ./plinth_data into the checkout. */
const TEST_RUN_DATA_DIR = mkdtempSync(join(tmpdir(), "plinth-test-run-"));
chmodSync(TEST_RUN_DATA_DIR, 0o755);
process.on("exit", () => rmSync(TEST_RUN_DATA_DIR, { recursive: true, force: true }));

export function testConfig(overrides: ConfigInput = {}): Config {
  return configSchema.parse({ dataDir: TEST_RUN_DATA_DIR, ...overrides });
}

export function tokenFor(claims: Record<string, unknown>, secret = TEST_SECRET, ttl = 3600): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return signJwt({ iat: now, exp: now + ttl, ...claims }, secret);
}

/** The app with no services (gateway + system routes), in-process: requests never touch a port. */
export function buildApp(db: Database, overrides: ConfigInput = {}) {
  const config = testConfig(overrides);
  const lines: Record<string, unknown>[] = [];
  const log = createLogger("info", (line) => lines.push(JSON.parse(line)));
  const app = createApp({ config, db, log, jwtSecret: TEST_SECRET, databaseLabel: "test", services: [] });
  const request = (path: string, init: RequestInit = {}) =>
    app.fetch(new Request(`http://localhost${path}`, init), { requestIP: () => ({ address: "127.0.0.1", family: "IPv4", port: 1 }) });
  return { config, gateway: app.gateway, request, logs: lines, metrics: app.metrics };
}
