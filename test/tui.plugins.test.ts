// The console's plugins screen against a real admin plane with plugins loaded from a plugins
// directory (the plugin service, auth and admin in-process over a fresh database): each plugin's
// version, state, hooks with their policies, call and failure counts after a real failing hook,
// its mounted routes; a viewer (no stats:read) is not offered the screen.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { grantAdmin } from "../src/admin/accounts/accounts.ts";
import { cliActor, type AdminLevel } from "../src/admin/authorize.ts";
import { createAdminService } from "../src/admin/service.ts";
import { createApp } from "../src/app.ts";
import { createAuthService } from "../src/auth/service.ts";
import { apiKeys } from "../src/lib/jwt.ts";
import { createLogger } from "../src/log.ts";
import { attachPlugins } from "../src/plugins/auth-events.ts";
import { createPluginService } from "../src/plugins/service.ts";
import { PASSWORD, uniqueEmail, type AdminApp } from "./support/admin.ts";
import { testConfig, TEST_SECRET } from "./support/app.ts";
import { freshDatabase } from "./support/db.ts";
import { consoleHarness } from "./support/tui.tsx";

const scratch = mkdtempSync(join(tmpdir(), "plinth-tui-plugins-"));
chmodSync(scratch, 0o755);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const dir = join(scratch, "plugins");
mkdirSync(dir);
writeFileSync(
  join(dir, "gatekeeper.ts"),
  `export default { name: "gatekeeper", version: "2.0.1",
    hooks: { "auth.before_sign_up": { policy: "reject", timeout: 200, handler: (p) => { if (p.email?.startsWith("boom")) throw new Error("x"); } } },
    routes: () => new Response("hi") };`,
);

async function pluginAdminApp(): Promise<AdminApp> {
  const database = await freshDatabase();
  const config = testConfig({ rateLimit: { enabled: false }, plugins: { dir }, db: { url: database.url } });
  const log = createLogger("silent");
  const ctx = { config, db: database.db, log, jwtSecret: TEST_SECRET, dbUrl: database.url };
  const plugins = await createPluginService(ctx);
  const auth = await createAuthService(ctx);
  attachPlugins(auth.context, plugins.host);
  const app = createApp({
    config,
    db: database.db,
    log,
    jwtSecret: TEST_SECRET,
    services: [plugins, auth, await createAdminService(ctx)],
    databaseLabel: "test",
  });
  afterAll(() => app.stop());
  const keys = await apiKeys(TEST_SECRET);
  const sql = database.db.sql;
  const call = async (method: string, path: string, body?: unknown, opts: { token?: string; apikey?: string } = {}) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.apikey) headers.apikey = opts.apikey;
    const res = await app.fetch(new Request(`http://localhost${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }), {
      requestIP: () => ({ address: "127.0.0.1", family: "IPv4", port: 1 }),
    } as never);
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
  };
  const makeAdmin = async (email: string, level: AdminLevel) =>
    (await grantAdmin(sql, config, cliActor("test"), { user: { email }, level, password: PASSWORD, existingPassword: "set", expect: "any" })).account;
  const login = async (email: string) => (await call("POST", "/admin/v1/auth/login", { email, password: PASSWORD })).body.session_token as string;
  return { app, config, database, sql, keys, call, makeAdmin, login } as unknown as AdminApp;
}

const t = await pluginAdminApp();
const h = await consoleHarness(t);
const open: { unmount(): void }[] = [];
afterAll(() => open.forEach((c) => c.unmount()));

describe("plugins screen", () => {
  test("shows each plugin's version, state, hooks with policy, calls and failures, and routes", async () => {
    // One sign-up through the failing hook (policy reject: 503) and one that passes.
    const refused = await t.call("POST", "/auth/v1/signup", { email: `boom-${Date.now()}@example.com`, password: "correct horse 1" }, { apikey: t.keys.anon });
    expect(refused.status).toBe(503);
    const ok = await t.call("POST", "/auth/v1/signup", { email: uniqueEmail("fine"), password: "correct horse 1" }, { apikey: t.keys.anon });
    expect(ok.status).toBe(200);

    const c = await h.open({ screen: "plugins", cols: 160, rows: 20 });
    open.push(c);
    const f = await c.waitFor("gatekeeper");
    expect(f).toContain("1 plugin(s)");
    const line = f.split("\n").find((l) => l.includes("gatekeeper"))!;
    expect(line).toContain("2.0.1");
    expect(line).toContain("started");
    expect(line).toContain("auth.before_sign_up(reject)");
    expect(line).toContain("/plugins/v1/gatekeeper/");
    expect(line).toMatch(/\b2\s+1\b/); // two calls, one failure
    // r refreshes from the server: a second failure shows.
    await t.call("POST", "/auth/v1/signup", { email: `boom-2-${Date.now()}@example.com`, password: "correct horse 1" }, { apikey: t.keys.anon });
    await c.press("r");
    const g = await c.waitFor(/gatekeeper.*\b3\s+2\b/);
    expect(g).toContain("gatekeeper");
  });

  test("a viewer (no stats:read) is not offered the screen", async () => {
    const c = await h.open({ level: "viewer", screen: "plugins", cols: 120, rows: 20 });
    open.push(c);
    await Bun.sleep(300);
    expect(c.frame()).not.toContain("gatekeeper");
  });
});
