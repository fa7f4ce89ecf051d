// The console's shell and sign-in against a real admin plane (ink-testing-library): signing in with
// a password and with TOTP after it, wrong passwords, `:` navigation with completion, `/` filter,
// `?` help, Esc back, q quit, screens by capability (a viewer sees a viewer's screens), an
// unreachable server, narrow terminals and resizes, NO_COLOR, remembered servers (never secrets).
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { render } from "ink-testing-library";
import { createElement } from "react";
import { AdminClient } from "../tui/api/client.ts";
import { ConsoleStore } from "../tui/lib/config-store.ts";
import { App } from "../tui/shell/App.tsx";
import { totp } from "./support/auth-totp.ts";
import { PASSWORD, uniqueEmail } from "./support/admin.ts";
import { KEY, consoleHarness, fitsWidth, resize, sleep } from "./support/tui.tsx";

const h = await consoleHarness();
const open: { unmount(): void }[] = [];
afterAll(() => open.forEach((c) => c.unmount()));

describe("signing in", () => {
  test("email and password, then the first screen this level may open; the server URL is remembered, nothing secret is written", async () => {
    const email = uniqueEmail("signin");
    await h.t.makeAdmin(email, "admin");
    const c = h.signInScreen();
    open.push(c);
    await c.waitFor("sign in");
    await c.press(email, KEY.enter);
    await c.waitFor("Password");
    await c.press(PASSWORD);
    expect(c.frame()).not.toContain(PASSWORD);
    expect(c.frame()).toContain("•".repeat(PASSWORD.length));
    await c.press(KEY.enter);
    const f = await c.waitFor("Overview");
    expect(f).toContain(`${email} (admin)`);
    await c.waitFor("req/s");
    const files = readdirSync(h.configDir);
    expect(files).toContain("console.json");
    const stored = files.map((f) => readFileSync(join(h.configDir, f), "utf8")).join("\n");
    expect(JSON.parse(readFileSync(join(h.configDir, "console.json"), "utf8"))).toEqual({ servers: ["http://localhost"] });
    expect(stored).not.toContain(PASSWORD);
    expect(stored).not.toContain("plinth_as_");
  });

  test("a wrong password shows the server's message and code and asks again", async () => {
    const email = uniqueEmail("wrong");
    await h.t.makeAdmin(email, "viewer");
    const c = h.signInScreen();
    open.push(c);
    await c.press(email, KEY.enter, "not-the-password", KEY.enter);
    const f = await c.waitFor("invalid_credentials");
    expect(f).toContain("Invalid login credentials (invalid_credentials 400)");
    expect(f).not.toMatch(/at .*\.ts:\d+/); // never a stack trace
    expect(f).toContain("Password");
  });

  test("an account with TOTP: password, then the code; a wrong code is refused", async () => {
    const email = uniqueEmail("mfa");
    await h.t.makeAdmin(email, "admin");
    const secret = await enrolTotp(email);
    const c = h.signInScreen();
    open.push(c);
    await c.press(email, KEY.enter, PASSWORD, KEY.enter);
    await c.waitFor("TOTP code or a recovery code");
    await c.press("000000", KEY.enter);
    await c.waitFor("mfa_verification_failed");
    await c.press(totp(secret, 1), KEY.enter); // the next step: the current one was used to verify
    await c.waitFor(`${email} (admin)`);
  });

  test("an unreachable server: the message says so, no stack trace", async () => {
    const store = new ConsoleStore(h.configDir);
    const r = render(createElement(App, { url: "http://127.0.0.1:1", store, onQuit: () => {} }));
    resize(r, 80, 24);
    for (const k of ["someone@example.com", KEY.enter, "pw", KEY.enter]) {
      r.stdin.write(k);
      await sleep(30);
    }
    const end = Date.now() + 5000;
    while (!(r.lastFrame() ?? "").includes("unreachable") && Date.now() < end) await sleep(25);
    expect(r.lastFrame()).toContain("Cannot reach http://127.0.0.1:1");
    expect(r.lastFrame()).toContain("(unreachable)");
    r.unmount();
  });
});

/** Enrols and verifies a TOTP factor for `email` through /auth/v1, as the README tells an admin to. */
async function enrolTotp(email: string): Promise<string> {
  const anon = { apikey: h.t.keys.anon };
  const s = await h.t.call("POST", "/auth/v1/token?grant_type=password", { email, password: PASSWORD }, anon);
  const f = await h.t.call("POST", "/auth/v1/factors", { factor_type: "totp" }, { ...anon, token: s.body.access_token });
  const ch = await h.t.call("POST", `/auth/v1/factors/${f.body.id}/challenge`, {}, { ...anon, token: s.body.access_token });
  const v = await h.t.call(
    "POST",
    `/auth/v1/factors/${f.body.id}/verify`,
    { challenge_id: ch.body.id, code: totp(f.body.totp.secret) },
    { ...anon, token: s.body.access_token },
  );
  expect(v.status).toBe(200);
  return f.body.totp.secret;
}

describe("the shell", () => {
  test(": opens command mode with completion; Enter goes there; an unknown name is refused with the list", async () => {
    const c = await h.open({ screen: "overview" });
    open.push(c);
    await c.waitFor("req/s");
    await c.press(":", "ta");
    expect(c.frame()).toContain(":ta");
    expect(c.frame()).toContain("tables");
    await c.press(KEY.tab);
    expect(c.frame()).toContain(":tables");
    await c.press(KEY.enter);
    await c.waitFor("schema public");
    await c.press(":", "nonsense", KEY.enter);
    await c.waitFor('No screen named "nonsense"');
    // Every top screen is reachable by name.
    for (const name of ["users", "admins", "sessions", "audit", "policies", "logs", "overview", "security", "migrations", "sql"]) {
      await c.press(`:${name}\r`);
      await c.waitFor(new RegExp(`^ ${name}`, "i"));
    }
    // The SQL editor takes every key until Esc leaves it.
    await c.press(":users");
    expect(c.frame()).toContain("│1 :users");
    await c.press(KEY.esc, ":users\r");
    await c.waitFor(/^ Users/);
  });

  test("? shows the help and any key closes it; q quits from a top screen, not from a detail screen", async () => {
    await h.t.sql`create table if not exists public.shell_notes (id bigint primary key, body text)`;
    const c = await h.open({ screen: "tables" });
    open.push(c);
    await c.waitFor("shell_notes");
    await c.press("?");
    await c.waitFor("Ctrl+C");
    expect(c.frame()).toContain("quit from anywhere");
    await c.press("x");
    await c.waitFor("schema public");
    await c.press("/", "shell_n", KEY.enter);
    await c.waitFor("filter: shell_n");
    await c.press(KEY.enter); // open the rows of the only table shown
    await c.waitFor("public.shell_notes");
    await c.press("q");
    expect(c.quitted()).toBe(false);
    await c.press(KEY.esc);
    await c.waitFor("schema public");
    await c.press("q");
    expect(c.quitted()).toBe(true);
  });

  test("a viewer sees a viewer's screens: no overview, sql, users, admins or logs; :sql is refused", async () => {
    const c = await h.open({ level: "viewer", tables: [] });
    open.push(c);
    await c.waitFor(/^ Tables/);
    await c.press(":");
    await sleep(30);
    const f = c.frame();
    expect(f).toContain("tables");
    expect(f).not.toContain("sql");
    expect(f).not.toContain("overview");
    await c.press("sql", KEY.enter);
    await c.waitFor("may not open sql");
  });

  test("narrow terminals and resizes: nothing runs past the edge at 40×12, 80×24, 120×40", async () => {
    const c = await h.open({ screen: "sessions", cols: 40, rows: 12 });
    open.push(c);
    await c.waitFor("session(s)");
    expect(fitsWidth(c.frame(), 40)).toBe(true);
    expect(c.frame().split("\n").length).toBeLessThanOrEqual(12);
    c.resize(120, 40);
    await sleep(100);
    expect(fitsWidth(c.frame(), 120)).toBe(true);
    expect(c.frame()).toContain("revoke");
    c.resize(80, 24);
    await sleep(100);
    expect(fitsWidth(c.frame(), 80)).toBe(true);
    expect(c.frame().split("\n").length).toBeLessThanOrEqual(24);
  });

  test("NO_COLOR: no colour escapes at all", async () => {
    const before = process.env.NO_COLOR;
    process.env.NO_COLOR = "1";
    try {
      const c = await h.open({ screen: "audit" });
      open.push(c);
      await c.waitFor("entries");
      // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for SGR colour codes.
      expect(c.frame()).not.toMatch(/\u001b\[(3\d|9\d|38;)/);
    } finally {
      if (before === undefined) delete process.env.NO_COLOR;
      else process.env.NO_COLOR = before;
    }
  });

  test("a session revoked elsewhere: the next call shows admin_session_invalid, not a crash", async () => {
    const c = await h.open({ screen: "admins" });
    open.push(c);
    await c.waitFor("admin(s)");
    const service = { token: h.t.keys.service_role, apikey: h.t.keys.service_role };
    const all = await h.t.call("GET", "/sessions", undefined, service);
    for (const s of all.body.filter((x: { email: string }) => x.email === c.email)) {
      expect((await h.t.call("DELETE", `/sessions/${s.id}`, undefined, service)).status).toBe(204);
    }
    await c.press(":users\r");
    await c.waitFor("admin_session_invalid");
  });
});

describe("the client", () => {
  test("errors carry the server's code; a 404 endpoint is recognisable", async () => {
    const client = h.makeClient("http://localhost").withToken(h.t.keys.service_role, true);
    await expect(client.get("/no/such/endpoint")).rejects.toMatchObject({ status: 404, code: "not_found" });
    const bad = new AdminClient({ url: "localhost:1", timeoutMs: 500 });
    await expect(bad.health()).rejects.toMatchObject({ code: "unreachable" });
  });
});
