// `plinth admin …` and `plinth emergency-access` as an operator runs them: subprocesses of
// `bun src/main.ts` against a fresh test database (PLINTH_DB_URL), checked through the admin API of
// an app on the same database. Exit codes 0/1/2, one-line reasons on stderr, --json shapes.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { adminApp, PASSWORD, uniqueEmail } from "./support/admin.ts";

const MAIN = resolve(import.meta.dir, "../src/main.ts");
// Each command is a process of its own that connects and migrates: about half a second apiece.
setDefaultTimeout(60_000);
const t = await adminApp();
const cwd = mkdtempSync(join(tmpdir(), "plinth-admin-cli-"));
chmodSync(cwd, 0o755);

function plinth(args: string[], stdin?: string) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PLINTH_") && k !== "SUDO_USER"));
  const p = Bun.spawnSync([process.execPath, MAIN, ...args], {
    cwd,
    env: { ...clean, PLINTH_DB_URL: t.database.url, PLINTH_DATA_DIR: join(cwd, "data"), PLINTH_LOG_LEVEL: "warn" },
    stdin: stdin === undefined ? "ignore" : Buffer.from(stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

const oneLine = (s: string) => s.trim().split("\n").length === 1;
/** The OS user running the tests, as `id` names it. */
const me = Bun.spawnSync(["id", "-un"]).stdout.toString().trim();

describe("plinth admin create-system-admin", () => {
  test("creates the user with a generated password, printed once; it signs in with it", async () => {
    const email = uniqueEmail("first");
    const r = plinth(["admin", "create-system-admin", "--email", email, "--username", "first_admin", "--json"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const body = JSON.parse(r.out);
    expect(body).toMatchObject({ email, username: "first_admin", level: "system_admin", tables: [], created_user: true });
    expect(body.password.length).toBeGreaterThanOrEqual(24);
    const s = await t.call("POST", "/auth/login", { username: "first_admin", password: body.password });
    expect(s.status).toBe(200);
    expect(s.body.admin).toMatchObject({ email, level: "system_admin" });
    // Text output says the password is shown once.
    const text = plinth(["admin", "create-system-admin", "--email", uniqueEmail("text")]);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/Password \(shown once.*\): \S{24,}/);
  });

  test("--password-stdin: no password printed; an existing user is raised (its password set from stdin)", async () => {
    const email = uniqueEmail("stdin");
    const r = plinth(["admin", "create-system-admin", "--email", email, "--password-stdin", "--json"], `${PASSWORD}\n`);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).password).toBeUndefined();
    expect(r.out).not.toContain(PASSWORD);
    expect((await t.call("POST", "/auth/login", { email, password: PASSWORD })).status).toBe(200);

    const userEmail = uniqueEmail("existing");
    await t.call("POST", "/auth/v1/signup", { email: userEmail, password: PASSWORD }, { apikey: t.keys.anon });
    const raised = plinth(["admin", "create-system-admin", "--email", userEmail, "--json"]);
    expect(raised.code).toBe(0);
    expect(JSON.parse(raised.out)).toMatchObject({ level: "system_admin", created_user: false });
    expect(JSON.parse(raised.out).password).toBeUndefined(); // it keeps its own
    expect((await t.call("POST", "/auth/login", { email: userEmail, password: PASSWORD })).status).toBe(200);
  });

  test("usage errors exit 2 with a one-line reason; a weak stdin password fails with exit 1", () => {
    for (const args of [["admin", "create-system-admin"], ["admin", "create-system-admin", "--email", "not-an-email"], ["admin", "frobnicate"], ["admin"]]) {
      const r = plinth(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.err.startsWith("plinth: ")).toBe(true);
    }
    const empty = plinth(["admin", "create-system-admin", "--email", uniqueEmail("e"), "--password-stdin"], "");
    expect(empty.code).toBe(2);
    const weak = plinth(["admin", "create-system-admin", "--email", uniqueEmail("weak"), "--password-stdin"], "abc\n");
    expect(weak.code).toBe(1);
    expect(oneLine(weak.err)).toBe(true);
  });
});

describe("plinth admin promote | demote | list", () => {
  test("promote by email, username or id; tables; demote one level, to a level, or --remove", async () => {
    const email = uniqueEmail("promoted");
    const signup = await t.call("POST", "/auth/v1/signup", { email, password: PASSWORD, username: `pr_${Date.now().toString(36)}` }, { apikey: t.keys.anon });
    const id = signup.body.user?.id ?? signup.body.id;
    const p = plinth(["admin", "promote", email, "--level", "viewer", "--tables", "public.a, public.b", "--json"]);
    expect(p.code).toBe(0);
    expect(JSON.parse(p.out)).toEqual({ id, email, username: expect.any(String), level: "viewer", tables: ["public.a", "public.b"] });
    const up = plinth(["admin", "promote", id, "--level", "admin", "--json"]);
    expect(JSON.parse(up.out)).toMatchObject({ level: "admin", tables: [] });
    const down = plinth(["admin", "promote", id, "--level", "viewer"]);
    expect(down.code).toBe(1);
    expect(oneLine(down.err)).toBe(true);
    expect(JSON.parse(plinth(["admin", "demote", email, "--json"]).out).level).toBe("moderator");
    expect(JSON.parse(plinth(["admin", "demote", email, "--level", "viewer", "--json"]).out).level).toBe("viewer");
    const bottom = plinth(["admin", "demote", email]);
    expect(bottom.code).toBe(1);
    expect(bottom.err).toContain("--remove");
    const removed = plinth(["admin", "demote", email, "--remove"]);
    expect(removed.code).toBe(0);
    expect(removed.out).toContain("no longer an admin");
    expect((await t.call("GET", `/admins/${id}`, undefined, { token: t.keys.service_role })).status).toBe(404);
  });

  test("the rules hold: the last system_admin cannot be demoted (exit 1, one line)", async () => {
    const solo = await adminApp();
    const env = (args: string[]) => {
      const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PLINTH_")));
      const p = Bun.spawnSync([process.execPath, MAIN, ...args], { cwd, env: { ...clean, PLINTH_DB_URL: solo.database.url }, stdout: "pipe", stderr: "pipe" });
      return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
    };
    const email = uniqueEmail("last");
    expect(env(["admin", "create-system-admin", "--email", email]).code).toBe(0);
    const r = env(["admin", "demote", email, "--remove"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("last_system_admin");
    expect(oneLine(r.err)).toBe(true);
    expect(env(["admin", "demote", email, "--level", "admin"]).code).toBe(1);
  });

  test("list --json: an array of {id, email, username, level, tables}; bad usage exits 2", async () => {
    const r = plinth(["admin", "list", "--json"]);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.out);
    expect(list.length).toBeGreaterThan(0);
    for (const a of list) expect(Object.keys(a).sort()).toEqual(["email", "id", "level", "tables", "username"]);
    const text = plinth(["admin", "list"]);
    expect(text.out).toContain("system_admin");
    expect(plinth(["admin", "promote", "someone@example.com", "--level", "emperor"]).code).toBe(2);
    expect(plinth(["admin", "promote", "--level", "viewer"]).code).toBe(2);
    expect(plinth(["admin", "demote", "x@example.com", "--level", "viewer", "--remove"]).code).toBe(2);
    expect(plinth(["admin", "promote", uniqueEmail("ghost"), "--level", "viewer"]).code).toBe(1);
  });

  test("CLI actions are audited as the CLI with the OS user who ran them", async () => {
    plinth(["admin", "list", "--json"]);
    const [row] = await t.sql`select actor_kind, actor_role, os_user, admin_level from plinth.audit_log where action = 'admins.list' order by id desc limit 1`;
    expect(row).toMatchObject({ actor_kind: "cli", actor_role: "cli", os_user: me, admin_level: "system_admin" });
  });
});

describe("plinth emergency-access", () => {
  test("--json prints {code, expires_at}; the code signs in once within the TTL; audited with the reason", async () => {
    const r = plinth(["emergency-access", "--reason", "every admin locked out", "--ttl", "10m", "--json"]);
    expect(r.code).toBe(0);
    const body = JSON.parse(r.out);
    expect(Object.keys(body).sort()).toEqual(["code", "expires_at"]);
    const ttl = Date.parse(body.expires_at) - Date.now();
    expect(ttl).toBeGreaterThan(9 * 60_000);
    expect(ttl).toBeLessThanOrEqual(10 * 60_000);
    const s = await t.call("POST", "/auth/emergency", { code: body.code });
    expect(s.status).toBe(200);
    expect(s.body.admin.level).toBe("system_admin");
    expect((await t.call("POST", "/auth/emergency", { code: body.code })).status).toBe(400);
    const [issued] =
      await t.sql`select actor_kind, os_user, security, reason from plinth.audit_log where action = 'emergency_access.issue' order by id desc limit 1`;
    expect(issued).toMatchObject({ actor_kind: "cli", os_user: me, security: true, reason: "every admin locked out" });
  });

  test("text output shows the code and how to use it; --reason is required; --ttl is checked", () => {
    const r = plinth(["emergency-access", "--reason", "drill"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/plinth_ae_\S{43}/);
    expect(r.out).toContain("/admin/v1/auth/emergency");
    for (const args of [
      ["emergency-access"],
      ["emergency-access", "--reason", " "],
      ["emergency-access", "--reason", "x", "--ttl", "soon"],
      ["emergency-access", "--reason", "x", "--ttl", "48h"],
    ]) {
      const bad = plinth(args);
      expect({ args, code: bad.code }).toEqual({ args, code: 2 });
    }
  });
});
