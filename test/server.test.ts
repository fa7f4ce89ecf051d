// The whole server over a real socket: banner, health, body limits, and a graceful shutdown that
// drains in-flight requests and refuses new ones.
import { expect, test } from "bun:test";
import { Elysia } from "elysia";
import { freshDatabase } from "./support/db.ts";
import { testConfig, TEST_SECRET } from "./support/app.ts";
import { apiKeys } from "../src/lib/jwt.ts";
import { createLogger } from "../src/log.ts";
import { serve } from "../src/server.ts";

const { url: dbUrl } = await freshDatabase();
const keys = await apiKeys(TEST_SECRET);

async function start(overrides = {}) {
  const config = testConfig({ port: 0, db: { url: dbUrl }, http: { shutdownGrace: 5 }, ...overrides });
  let banner = "";
  // Outside the API prefixes (the data API's requests go straight to its handler, not the router).
  const slow = new Elysia().get("/slow", async () => {
    await Bun.sleep(400);
    return { done: true };
  });
  const server = await serve({
    config,
    jwtSecret: TEST_SECRET,
    log: createLogger("silent"),
    banner: (t) => (banner += t),
    extraRoutes: [slow],
  });
  return { server, banner };
}

test("banner names the URL, database and both keys; /health answers over TCP", async () => {
  const { server, banner } = await start();
  expect(banner).toContain(server.url);
  expect(banner).toContain(keys.anon);
  expect(banner).toContain(keys.service_role);
  const res = await fetch(`${server.url}/health`);
  expect(res.status).toBe(200);
  expect(((await res.json()) as { status: string }).status).toBe("ok");
  await server.stop();
});

test("production banner does not print the service_role key", async () => {
  const { server, banner } = await start({ env: "production", auth: { autoconfirm: false } });
  expect(banner).toContain(keys.anon);
  expect(banner).not.toContain(keys.service_role);
  await server.stop();
});

test("an oversize body over TCP gets 413 JSON", async () => {
  const { server } = await start({ http: { bodyLimit: 2048 } });
  const res = await fetch(`${server.url}/rest/v1/slow`, { method: "POST", body: "x".repeat(5000), headers: { apikey: keys.anon } });
  expect(res.status).toBe(413);
  expect(((await res.json()) as { code: string }).code).toBe("payload_too_large");
  await server.stop();
});

test("graceful shutdown drains in-flight requests, then refuses new connections", async () => {
  const { server } = await start();
  const inFlight = fetch(`${server.url}/slow`, { headers: { apikey: keys.anon } });
  await Bun.sleep(100);
  const stopped = server.stop();
  const res = await inFlight;
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ done: true });
  await stopped;
  await expect(fetch(`${server.url}/health`)).rejects.toThrow();
});

test("a half-configured SMS provider stops serve before any database work (nothing migrated)", async () => {
  const empty = await freshDatabase({ migrated: false });
  const config = testConfig({ port: 0, db: { url: empty.url }, sms: { provider: "arkesel", arkesel: { apiKey: "k" } } });
  let error: unknown;
  try {
    const server = await serve({ config, jwtSecret: TEST_SECRET, log: createLogger("silent"), banner: () => {} });
    await server.stop();
  } catch (err) {
    error = err;
  }
  expect((error as Error | undefined)?.name).toBe("ConfigError");
  expect((error as Error).message).toContain("sms.arkesel.sender");
  const { default: postgres } = await import("postgres");
  const probe = postgres(empty.url, { max: 1, onnotice: () => {} });
  const [row] = await probe`select count(*)::int as n from pg_namespace where nspname in ('auth', 'plinth', 'storage')`;
  await probe.end();
  await empty.drop();
  expect(row!.n).toBe(0);
});
