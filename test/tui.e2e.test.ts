// The console end to end: the compiled binary (built here, like test/binary.test.ts) driven in
// tmux with send-keys and capture-pane against a real `plinth serve`: first screen time, sign-in,
// every screen, a row edited, SQL run, a dangerous statement refused then confirmed, a session
// revoked, the audit log followed, a clean quit (the alternate screen gives the shell back as it
// was), and TERM=screen-256color with --key. Needs tmux: installed if missing, else the suite says
// loudly that it skipped.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freshDatabase } from "./support/db.ts";

const ROOT = resolve(import.meta.dir, "..");
const dir = mkdtempSync(join(tmpdir(), "plinth-tui-e2e-"));
chmodSync(dir, 0o755);
const bin = join(dir, "plinth");
const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PLINTH_") && k !== "CI" && k !== "NO_COLOR"));
const secret = "tui-e2e-secret-tui-e2e-secret-tui-e2e";
const email = "e2e-root@example.com";
const password = "E2e-console-password-1";
const port = 20000 + Math.floor(Math.random() * 20000);
const url = `http://127.0.0.1:${port}`;
const session = `plinth-e2e-${process.pid}`;

function haveTmux(): boolean {
  if (Bun.spawnSync(["which", "tmux"]).exitCode === 0) return true;
  Bun.spawnSync(["apt-get", "install", "-y", "tmux"], { stdout: "ignore", stderr: "ignore" });
  return Bun.spawnSync(["which", "tmux"]).exitCode === 0;
}
const TMUX = haveTmux();
if (!TMUX) console.warn("\n*** tui.e2e: tmux is not installed and could not be installed: the end-to-end console tests are SKIPPED ***\n");

let server: ReturnType<typeof Bun.spawn> | null = null;
let dropDb: () => Promise<void> = async () => {};
let serviceKey = "";
const tmux = (...args: string[]) => Bun.spawnSync(["tmux", ...args], { stdout: "pipe", stderr: "pipe" });
const screen = () => tmux("capture-pane", "-p", "-t", session).stdout.toString();
const keys = (...k: string[]) => tmux("send-keys", "-t", session, ...k);
const type = (text: string) => tmux("send-keys", "-t", session, "-l", text);

async function waitFor(text: string | RegExp, timeoutMs = 8000): Promise<string> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = screen();
    if (typeof text === "string" ? s.includes(text) : text.test(s)) {
      await Bun.sleep(150); // the new component's key handler is registered after its frame
      return s;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${String(text)}; screen:\n${s}`);
    await Bun.sleep(20);
  }
}

function startConsole(args: string[], env: Record<string, string>, size = { x: 80, y: 24 }) {
  tmux("kill-session", "-t", session);
  const envs = Object.entries({ PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, XDG_CONFIG_HOME: join(dir, "config"), CI: "false", ...env })
    .map(([k, v]) => `${k}='${v}'`)
    .join(" ");
  const cmd = `env -i ${envs} ${bin} ${args.join(" ")}; echo EXIT=$?; sleep 60`;
  const started = performance.now();
  const r = tmux("new-session", "-d", "-s", session, "-x", String(size.x), "-y", String(size.y), cmd);
  if (r.exitCode !== 0) throw new Error(`tmux: ${r.stderr.toString()}`);
  return started;
}

beforeAll(async () => {
  if (!TMUX) return;
  const build = Bun.spawnSync([process.execPath, "run", "build"], {
    cwd: ROOT,
    env: { ...process.env, PLINTH_BUILD_OUT: bin, PLINTH_BUILD_NO_PG: "1" },
    stdout: "pipe",
    stderr: "pipe",
  });
  if (build.exitCode !== 0) throw new Error(`build failed: ${build.stderr.toString()}`);
  // Dropped by our own afterAll (an afterAll registered inside beforeAll would run at once).
  const db = await freshDatabase({ autoDrop: false });
  dropDb = db.drop;
  const env = {
    ...clean,
    PLINTH_DB_URL: db.url,
    PLINTH_JWT_SECRET: secret,
    PLINTH_PORT: String(port),
    PLINTH_LOG_LEVEL: "warn",
    PLINTH_DATA_DIR: join(dir, "data"),
  };
  const made = Bun.spawnSync([bin, "admin", "create-system-admin", "--email", email, "--password-stdin"], {
    cwd: dir,
    env,
    stdin: Buffer.from(password),
    stdout: "pipe",
    stderr: "pipe",
  });
  if (made.exitCode !== 0) throw new Error(`create-system-admin: ${made.stderr.toString()}`);
  serviceKey = JSON.parse(Bun.spawnSync([bin, "keys", "--json"], { cwd: dir, env }).stdout.toString()).service_role;
  server = Bun.spawn([bin, "serve"], { cwd: dir, env, stdout: process.env.PLINTH_TEST_LOG ? "inherit" : "ignore", stderr: "pipe" });
  let up = false;
  for (let i = 0; i < 400 && !up; i++) {
    up =
      (await fetch(`${url}/health`).then(
        (r) => r.status,
        () => 0,
      )) === 200;
    if (!up) await Bun.sleep(50);
  }
  if (!up) {
    server.kill();
    throw new Error(`serve did not start: ${await new Response(server.stderr as ReadableStream).text()}`);
  }
  const sql = (query: string) =>
    fetch(`${url}/admin/v1/sql`, { method: "POST", headers: { apikey: serviceKey, "content-type": "application/json" }, body: JSON.stringify({ query }) });
  await sql("create table public.items (id bigint generated by default as identity primary key, name text not null, meta jsonb)");
  await sql("insert into public.items (name, meta) select 'item ' || g, jsonb_build_object('n', g) from generate_series(1, 10000) g");
  await sql("create table public.scratch (id int)");
  await sql("insert into public.scratch select generate_series(1, 7)");
}, 120_000);

afterAll(async () => {
  if (TMUX) tmux("kill-session", "-t", session);
  server?.kill("SIGTERM");
  await server?.exited;
  if (process.env.PLINTH_TEST_LOG && server?.stderr) console.log(await new Response(server.stderr as ReadableStream).text());
  await dropDb();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!TMUX)("plinth tui in tmux (compiled binary, real server)", () => {
  test("sign in, every screen, edit a row, SQL, a dangerous statement refused then confirmed, revoke a session, follow the audit log, quit cleanly", async () => {
    const started = startConsole(["tui", "--url", url], { TERM: "xterm-256color" });
    await waitFor("sign in");
    const firstScreenMs = performance.now() - started;
    console.log(`tui.e2e: sign-in screen after ${firstScreenMs.toFixed(0)} ms`);
    type(email);
    keys("Enter");
    await waitFor("Password");
    type(password);
    keys("Enter");
    await waitFor(/req\/s/);
    // Every top screen by name.
    for (const name of ["tables", "users", "admins", "sessions", "security", "audit", "policies", "migrations", "logs", "overview"]) {
      type(`:${name}`);
      keys("Enter");
      await waitFor(new RegExp(`^ ${name}`, "im"));
    }
    // Edit a row: tables → items → the name of row 1.
    type(":tables");
    keys("Enter");
    await waitFor("items");
    type("/items");
    keys("Enter");
    await waitFor("filter: items");
    keys("Enter");
    await waitFor("row 1 of 10,000");
    keys("PageDown");
    keys("PageDown");
    await waitFor(/row \d\d of 10,000/);
    keys("Home");
    keys("Right");
    keys("e");
    await waitFor("Edit name");
    keys("C-u");
    type("edited in tmux");
    keys("Enter");
    await waitFor("Saved name of row 1");
    const row = await fetch(`${url}/admin/v1/tables/public/items/rows/1`, { headers: { apikey: serviceKey } }).then((r) => r.json());
    expect(row.name).toBe("edited in tmux");
    // ESC and the next key in one read would be Alt+key: wait for Esc to land.
    keys("Escape");
    await waitFor("schema public");
    // SQL: run, then a dangerous statement refused, then confirmed.
    type(":sql");
    keys("Enter");
    await waitFor("F5/Ctrl+R run");
    type("select count(*) as n from public.scratch");
    keys("F5");
    await waitFor("SELECT · 1 row(s)");
    expect(screen()).toMatch(/\n\s*7\s/);
    keys("C-l");
    type("delete from public.scratch");
    keys("C-r");
    await waitFor("impact: 7 row(s)");
    keys("n");
    await waitFor("Not run.");
    keys("F5");
    await waitFor("Dangerous statement");
    keys("y");
    await waitFor("DELETE · 7 row(s)");
    keys("Escape");
    await waitFor("Enter/i edit");
    // Revoke another session of this admin.
    const other = await fetch(`${url}/admin/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password }),
    }).then((r) => r.json());
    type(":sessions");
    keys("Enter");
    await waitFor("2 session(s)");
    const lines = screen()
      .split("\n")
      .filter((l) => l.includes(email.slice(0, 20)));
    const target = lines.findIndex((l) => !l.trimStart().startsWith("*"));
    for (let i = 0; i < target; i++) keys("Down");
    keys("x");
    await waitFor("Revoke the session");
    keys("y");
    await waitFor("1 session(s)");
    const who = await fetch(`${url}/admin/v1/auth/session`, { headers: { authorization: `Bearer ${other.session_token}` } });
    expect(who.status).toBe(401);
    // Follow the audit log: an API call elsewhere shows up.
    type(":audit");
    keys("Enter");
    await waitFor("entries");
    keys("f");
    await waitFor("following");
    await fetch(`${url}/admin/v1/policies`, { method: "POST", headers: { apikey: serviceKey, "content-type": "application/json" }, body: "{}" });
    await waitFor("policies.create");
    // Quit: the shell gets its screen back, nothing of the console left on it.
    keys("q");
    const after = await waitFor("EXIT=0");
    expect(after.replace(/EXIT=0/, "").trim()).toBe("");
  }, 60_000);

  test("TERM=screen-256color, --key from PLINTH_SERVICE_KEY, 60x20, Ctrl+C quits cleanly", async () => {
    const started = startConsole(["tui", "--url", url, "--key"], { TERM: "screen-256color", PLINTH_SERVICE_KEY: serviceKey }, { x: 60, y: 20 });
    await waitFor(/req\/s/);
    console.log(`tui.e2e: overview (signed in with --key) after ${(performance.now() - started).toFixed(0)} ms`);
    expect(screen()).toContain("service_role key");
    for (const line of screen().split("\n")) expect([...line].length).toBeLessThanOrEqual(60);
    tmux("resize-window", "-t", session, "-x", "100", "-y", "30");
    await waitFor(/\n.*websockets/);
    keys("C-c");
    const after = await waitFor(/EXIT=\d+/);
    expect(after).toContain("EXIT=0");
    expect(after.replace(/EXIT=0/, "").trim()).toBe("");
  }, 30_000);
});
