// Shared setup for the REST suites: a whole server over a fresh database loaded with the REST
// fixture, plus small HTTP helpers.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import postgres from "postgres";
import type { ConfigInput } from "../../src/config/schema.ts";
import { startTestServer, type TestServer } from "./server.ts";

export const REST_FIXTURE = readFileSync(resolve(import.meta.dir, "../fixtures/rest.sql"), "utf8");

/** Loads the fixture as the database owner before the server starts (so the first cache sees it). */
export async function startRestServer(overrides: ConfigInput = {}): Promise<TestServer & { admin: postgres.Sql }> {
  // rest.transaction-mode.test.ts reruns the REST suites with every request in a transaction.
  const mode = process.env.PLINTH_TEST_REST_SETTINGS;
  if (mode === "always" || mode === "auto") overrides = { ...overrides, rest: { ...(overrides.rest ?? {}), requestSettings: mode } };
  const srv = await startTestServer(overrides);
  const admin = postgres(srv.database.url, { max: 2, onnotice: () => {} });
  await admin.unsafe(REST_FIXTURE);
  // The fixture's DDL is announced; wait until the REST schema cache saw it.
  await waitFor(async () => (await fetch(`${srv.url}/rest/v1/books?limit=1`, { headers: { apikey: srv.keys.anon } })).status === 200);
  const { afterAll } = await import("bun:test");
  afterAll(() => admin.end({ timeout: 1 }));
  return { ...srv, admin };
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await Bun.sleep(20);
  }
}

export function restFetch(srv: TestServer, path: string, init: RequestInit & { key?: string; token?: string } = {}) {
  const headers = new Headers(init.headers);
  headers.set("apikey", init.key ?? srv.keys.anon);
  if (init.token) headers.set("authorization", `Bearer ${init.token}`);
  return fetch(`${srv.url}/rest/v1${path}`, { ...init, headers });
}

/**
 * The REST routes in-process (gateway + routes, no port) over `db`, with a statement observer: for
 * tests that look at the SQL (one statement per embed request, identifiers all from the cache).
 */
export async function restApp(
  database: { db: import("../../src/db/pool.ts").Database; url: string },
  onStatement: (s: import("../../src/rest/sql/statements.ts").Statement) => void,
) {
  const { createSchemaCache } = await import("../../src/schema-cache/live.ts");
  const { restRoutes } = await import("../../src/rest/routes.ts");
  const { createApp } = await import("../../src/app.ts");
  const { createLogger } = await import("../../src/log.ts");
  const { testConfig, TEST_SECRET } = await import("./app.ts");
  const { apiKeys } = await import("../../src/lib/jwt.ts");
  const log = createLogger("silent");
  const cache = await createSchemaCache({ sql: database.db.sql, schemas: ["public"], log });
  // The REST routes alone (with a statement hook) behind the real gateway and router.
  const rest = { name: "rest", routes: restRoutes({ db: database.db, cache, log, onStatement }) };
  const app = createApp({
    config: testConfig({ rateLimit: { enabled: false } }),
    db: database.db,
    log,
    jwtSecret: TEST_SECRET,
    databaseLabel: "test",
    services: [rest],
  });
  const gateway = app.gateway;
  const keys = await apiKeys(TEST_SECRET);
  const request = (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (!headers.has("apikey")) headers.set("apikey", keys.anon);
    return app.fetch(new Request(`http://localhost/rest/v1${path}`, { ...init, headers }), {
      requestIP: () => ({ address: "127.0.0.1", family: "IPv4", port: 1 }),
    });
  };
  return {
    cache,
    request,
    keys,
    close: () => {
      gateway.close();
      return cache.stop();
    },
  };
}
