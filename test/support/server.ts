// A whole Plinth server (gateway + every service) on a random port over a fresh test database, for
// tests that drive it over HTTP — including through the real @supabase/supabase-js client.
import { afterAll } from "bun:test";
import { apiKeys } from "../../src/lib/jwt.ts";
import type { ConfigInput } from "../../src/config/schema.ts";
import { createLogger } from "../../src/log.ts";
import { serve, type RunningServer } from "../../src/server.ts";
import { testConfig, TEST_SECRET } from "./app.ts";
import { freshDatabase, type TestDatabase } from "./db.ts";

export interface TestServer {
  url: string;
  keys: { anon: string; service_role: string };
  server: RunningServer;
  database: TestDatabase;
  secret: string;
}

/** Starts a server for the calling test file; it is stopped when the file's tests end. */
export async function startTestServer(overrides: ConfigInput = {}): Promise<TestServer> {
  const database = await freshDatabase({ autoDrop: false });
  const config = testConfig({
    port: 0,
    ...overrides,
    db: { url: database.url, ...(overrides.db ?? {}) },
    rateLimit: overrides.rateLimit ?? { enabled: false },
  });
  const server = await serve({
    config,
    jwtSecret: TEST_SECRET,
    log: createLogger(process.env.PLINTH_TEST_LOG ? "debug" : "silent"),
    banner: () => {},
  });
  // Stop first, then drop: the server's realtime replication slot must be gone before the database.
  afterAll(async () => {
    await server.stop();
    await database.drop();
  });
  return { url: server.url, keys: await apiKeys(TEST_SECRET), server, database, secret: TEST_SECRET };
}
