// Plugins: the example plugin (examples/plugins/signup-webhook.ts) loaded from a plugins directory
// sees a sign-up and delivers a signed webhook; its route under /plugins/v1/<name>/; a before-sign-up
// hook refuses; a throwing hook is contained and counted; a hook past its timeout under the
// "reject" policy answers 503; dependency order of init/start and reverse stop; a plugin that throws
// on start stops start-up naming it; and the compiled binary loads the example plugin from its data
// dir and sees a sign-up.
import { afterAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { copyFileSync, chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { testConfig } from "./support/app.ts";
import { client, uniqueEmail } from "./support/auth.ts";
import { compiledBinary } from "./support/binary.ts";
import { freshDatabase } from "./support/db.ts";
import { startTestServer } from "./support/server.ts";
import { createLogger } from "../src/log.ts";
import { PluginHost, loadPlugins } from "../src/plugins/host.ts";

const ROOT = resolve(import.meta.dir, "..");
const EXAMPLE = join(ROOT, "examples/plugins/signup-webhook.ts");
const KEY = Buffer.from("signup-webhook-test-key!").toString("base64");
const hooks: { body: any; verified: boolean }[] = [];
const sink = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(req) {
    const body = await req.text();
    const want = createHmac("sha256", Buffer.from(KEY, "base64"))
      .update(`${req.headers.get("webhook-id")}.${req.headers.get("webhook-timestamp")}.${body}`)
      .digest("base64");
    hooks.push({ body: JSON.parse(body), verified: req.headers.get("webhook-signature") === `v1,${want}` });
    return new Response("ok");
  },
});
const scratch = mkdtempSync(join(tmpdir(), "plinth-plugins-"));
chmodSync(scratch, 0o755);
afterAll(() => {
  sink.stop(true);
  rmSync(scratch, { recursive: true, force: true });
});
const waitHook = async (email: string) => {
  for (let i = 0; i < 200; i++) {
    const h = hooks.find((x) => x.body.data?.email === email);
    if (h) return h;
    await Bun.sleep(25);
  }
  throw new Error(`no webhook for ${email}`);
};

function pluginDir(name: string, files: Record<string, string>): string {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  return dir;
}

const exampleDir = join(scratch, "example");
mkdirSync(exampleDir);
copyFileSync(EXAMPLE, join(exampleDir, "signup-webhook.ts"));
const gateDir = pluginDir("gate", {
  "gate.ts": `export default { name: "gate", version: "0.1.0",
    hooks: {
      "auth.before_sign_up": (p) => p.email?.endsWith("@blocked.test") ? { reject: "Sign-ups from blocked.test are closed" } : undefined,
    } };`,
  "thrower.ts": `export default { name: "thrower", version: "0.1.0",
    hooks: { "auth.before_sign_up": () => { if (globalThis.__throw) throw new Error("kaboom"); } } };`,
  "slow.ts": `export default { name: "slow", version: "0.1.0",
    hooks: { "auth.before_sign_up": { policy: "reject", timeout: 100, handler: async () => { if (globalThis.__slow) await Bun.sleep(1000); } } } };`,
});

const srv = await startTestServer({
  auth: { autoconfirm: true },
  plugins: { dir: exampleDir, config: { "signup-webhook": { url: `http://127.0.0.1:${sink.port}/hook`, secret: `whsec_${KEY}` } } },
});
const gated = await startTestServer({ auth: { autoconfirm: true }, plugins: { dir: gateDir } });

describe("the example plugin (signup-webhook)", () => {
  test("sees a sign-up and delivers a signed webhook; its route answers under /plugins/v1/signup-webhook/", async () => {
    const email = uniqueEmail("plug");
    const r = await client(srv.url, srv.keys.anon).auth.signUp({ email, password: "correct horse 1" });
    expect(r.error).toBeNull();
    const h = await waitHook(email);
    expect(h.verified).toBe(true);
    expect(h.body).toMatchObject({ type: "user.created", data: { id: r.data.user!.id, email } });
    const stats = await fetch(`${srv.url}/plugins/v1/signup-webhook/stats`);
    expect(await stats.json()).toMatchObject({ sent: expect.any(Number), failed: 0 });
    expect((await fetch(`${srv.url}/plugins/v1/nobody/x`)).status).toBe(404);
  });
});

describe("hooks", () => {
  test("a before-sign-up hook refuses; a throwing hook is contained; a timed-out 'reject' hook answers 503", async () => {
    const sb = client(gated.url, gated.keys.anon);
    const blocked = await sb.auth.signUp({ email: `x.${Date.now()}@blocked.test`, password: "correct horse 1" });
    expect(blocked.error?.status).toBe(403);
    expect(blocked.error?.code).toBe("plugin_refused");
    expect(blocked.error?.message).toBe("Sign-ups from blocked.test are closed");

    (globalThis as any).__throw = true;
    const ok = await sb.auth.signUp({ email: uniqueEmail("thrown"), password: "correct horse 1" });
    expect(ok.error).toBeNull();
    (globalThis as any).__throw = false;

    (globalThis as any).__slow = true;
    const started = Date.now();
    const slow = await fetch(`${gated.url}/auth/v1/signup`, {
      method: "POST",
      headers: { apikey: gated.keys.anon, "content-type": "application/json" },
      body: JSON.stringify({ email: uniqueEmail("slow"), password: "correct horse 1" }),
    });
    expect(slow.status).toBe(503);
    expect(((await slow.json()) as any).code).toBe("plugin_hook_failed");
    expect(Date.now() - started).toBeLessThan(900);
    (globalThis as any).__slow = false;
  });
});

describe("data.change costs nothing for nobody", () => {
  test("plugins that do not hook data.change start no replication stream (no slot, no walsender)", async () => {
    const sql = gated.database.db.sql;
    await sql.unsafe(`create table public.quiet (id int primary key); alter publication supabase_realtime add table public.quiet;
      insert into public.quiet values (1);`);
    await Bun.sleep(100);
    const [r] = await sql`select count(*)::int as n from pg_replication_slots where database = current_database()`;
    expect(r!.n).toBe(0);
  });
});

describe("lifecycle", () => {
  test("init and start in dependency order, stop in reverse; failures counted", async () => {
    const dir = pluginDir("order", {
      "a.ts": `const t = (globalThis.__order ??= []); export default { name: "a", version: "1", dependsOn: ["b"],
        init: () => t.push("init a"), start: () => t.push("start a"), stop: () => t.push("stop a") };`,
      "b.ts": `const t = (globalThis.__order ??= []); export default { name: "b", version: "1",
        init: (ctx) => { t.push("init b"); if (ctx.name !== "b") throw new Error("ctx"); }, start: () => t.push("start b"), stop: () => t.push("stop b"),
        hooks: { "auth.after_sign_in": () => { throw new Error("x"); } } };`,
    });
    const config = testConfig({ plugins: { dir } });
    const host = new PluginHost(await loadPlugins(config), config, null, createLogger("silent"));
    await host.start();
    await host.runHooks("auth.after_sign_in", {});
    expect(host.stats().find((s) => s.name === "b")).toMatchObject({ hookCalls: 1, hookFailures: 1, state: "started" });
    await host.stop();
    expect((globalThis as any).__order).toEqual(["init b", "init a", "start b", "start a", "stop a", "stop b"]);
  });

  test("a plugin that throws on start stops start-up, naming it; a missing dependency too", async () => {
    const bad = pluginDir("bad", { "boom.ts": `export default { name: "boom", version: "1", start() { throw new Error("cannot reach the mothership"); } };` });
    await expect(startTestServer({ plugins: { dir: bad } })).rejects.toThrow("plugin boom: start failed: cannot reach the mothership");
    const orphan = pluginDir("orphan", { "o.ts": `export default { name: "orphan", version: "1", dependsOn: ["ghost"] };` });
    await expect(loadPlugins(testConfig({ plugins: { dir: orphan } }))).rejects.toThrow("plugin orphan: depends on ghost");
  });
});

describe("compiled binary", () => {
  test("loads the example plugin from its data dir and sees a sign-up", async () => {
    const dir = join(scratch, "bin");
    mkdirSync(join(dir, "data", "plugins"), { recursive: true });
    const bin = await compiledBinary();
    copyFileSync(EXAMPLE, join(dir, "data", "plugins", "signup-webhook.ts"));
    const { url } = await freshDatabase();
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PLINTH_")));
    const env = {
      ...clean,
      PLINTH_DB_URL: url,
      PLINTH_DATA_DIR: join(dir, "data"),
      PLINTH_JWT_SECRET: "binary-plugin-secret-binary-plugin-secret",
      PLINTH_AUTH_AUTOCONFIRM: "true",
      PLINTH_LOG_LEVEL: "warn",
      SIGNUP_WEBHOOK_URL: `http://127.0.0.1:${sink.port}/hook`,
      SIGNUP_WEBHOOK_SECRET: `whsec_${KEY}`,
    };
    const list = Bun.spawnSync([bin, "plugins", "list"], { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
    expect(list.exitCode).toBe(0);
    expect(list.stdout.toString()).toContain("signup-webhook");
    const port = 20000 + Math.floor(Math.random() * 20000);
    const proc = Bun.spawn([bin, "serve"], { cwd: dir, env: { ...env, PLINTH_PORT: String(port) }, stdout: "pipe", stderr: "pipe" });
    try {
      let up = false;
      for (let i = 0; i < 600 && !up; i++) {
        up = await fetch(`http://127.0.0.1:${port}/health`).then(
          (r) => r.status === 200,
          () => false,
        );
        if (!up) await Bun.sleep(50);
      }
      expect(up).toBe(true);
      const keys = JSON.parse(Bun.spawnSync([bin, "keys", "--json"], { cwd: dir, env, stdout: "pipe" }).stdout.toString());
      const email = uniqueEmail("binary");
      const r = await client(`http://127.0.0.1:${port}`, keys.anon).auth.signUp({ email, password: "correct horse 1" });
      expect(r.error).toBeNull();
      const h = await waitHook(email);
      expect(h.verified).toBe(true);
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
    }
  }, 180_000);
});
