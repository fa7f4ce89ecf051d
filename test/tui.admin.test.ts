// The console's admin screens against a real admin plane: overview (live numbers), users (search,
// ban, unban, sign out, delete), admins (promote and demote under the server's rules), sessions
// (revoke), policies (create, drop), logs (follow, level filter), audit (follow, verify, export),
// security and migrations (what this server offers, or "not available on this server").
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { PASSWORD, uniqueEmail } from "./support/admin.ts";
import { KEY, consoleHarness, sleep } from "./support/tui.tsx";

const h = await consoleHarness();
const open: { unmount(): void }[] = [];
afterAll(() => open.forEach((c) => c.unmount()));
const service = { token: h.t.keys.service_role, apikey: h.t.keys.service_role };

async function until(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await sleep(25);
  }
}

describe("overview", () => {
  test("version, services, per-area numbers, pool, database size; refreshed live", async () => {
    const c = await h.open({ screen: "overview" });
    open.push(c);
    const f = await c.waitFor("req/s");
    expect(f).toMatch(/Plinth \d+\.\d+/);
    expect(f).toContain("● auth");
    expect(f).toContain("● database");
    expect(f).toMatch(/db pool \d+\/\d+ in use/);
    expect(f).toMatch(/database up · [\d.]+ MB/);
    expect(f).toContain("replication idle");
    const total = () => Number(/admin\s+[\d.]+\s+\S+(?: ms)?\s+(\d+)/.exec(c.frame())?.[1] ?? 0);
    const before = total();
    for (let i = 0; i < 5; i++) await h.t.call("GET", "/tables", undefined, service);
    await until(async () => total() >= before + 5, 6000);
  });
});

describe("users", () => {
  test("search on the server, ban (for a duration), unban, sign out everywhere, delete after y", async () => {
    const email = uniqueEmail("enduser");
    const created = await h.t.call("POST", "/users", { email, password: PASSWORD, email_confirm: true }, service);
    expect(created.status).toBe(201);
    const id = created.body.id;
    const c = await h.open({ screen: "users" });
    open.push(c);
    await c.waitFor("user(s)");
    await c.press("/", email.slice(0, 12), KEY.enter);
    await c.waitFor(`matching "${email.slice(0, 12)}"`);
    await c.waitFor(email);
    await c.press("b");
    await c.waitFor(`Ban ${email}`);
    await c.press(KEY.enter);
    await c.waitFor(`Banned ${email} for 24h`);
    await c.waitFor("banned");
    expect((await h.t.sql`select banned_until > now() as b from auth.users where id = ${id}`)[0]!.b).toBe(true);
    await c.press("u");
    await c.waitFor(`Unbanned ${email}`);
    expect((await h.t.sql`select banned_until from auth.users where id = ${id}`)[0]!.banned_until).toBeNull();
    await c.press("o");
    await c.waitFor(`Signed ${email} out everywhere`);
    await c.press(KEY.enter);
    await c.waitFor("MFA factors (0)");
    await c.press(KEY.esc);
    await c.waitFor(`matching "${email.slice(0, 12)}"`); // back keeps the list's filter
    await c.press("x");
    await c.waitFor(`Delete user ${email}?`);
    await c.press("y");
    await c.waitFor(`Deleted ${email}`);
    expect((await h.t.sql`select count(*)::int as n from auth.users where id = ${id}`)[0]!.n).toBe(0);
  });

  test("a moderator sees users but no create, invite or delete keys", async () => {
    const c = await h.open({ level: "moderator", screen: "users" });
    open.push(c);
    await c.waitFor("user(s)");
    expect(c.frame()).toContain("b/u ban/unban");
    expect(c.frame()).not.toContain("x delete");
  });
});

describe("admins and sessions", () => {
  test("promote and demote one level; the server's rules refuse what they refuse (own level)", async () => {
    const email = uniqueEmail("promoted");
    await h.t.makeAdmin(email, "viewer");
    const c = await h.open({ level: "admin", screen: "admins" });
    open.push(c);
    await c.waitFor("admin(s)");
    await c.press("/", email, KEY.enter);
    await c.waitFor("1 admin(s)");
    await c.press("+");
    await c.waitFor(`${email} is now moderator`);
    await c.waitFor(/moderator/);
    await c.press("-");
    await c.waitFor(`${email} is now viewer`);
    // Its own level: refused by the server, with the code.
    await c.press(KEY.esc, "/", c.email, KEY.enter);
    await c.waitFor("1 admin(s)");
    await c.press("+");
    await c.waitFor(/own_level|level_above_own/);
  });

  test("revoke another session after y: refused at once by the server", async () => {
    const c = await h.open({ screen: "sessions" });
    open.push(c);
    const other = await h.t.login(c.email);
    await c.press("r", "/", c.email, KEY.enter);
    await c.waitFor("2 session(s)");
    // The selection starts on the newest (the other one, not the current, marked *).
    const lines = c
      .frame()
      .split("\n")
      .filter((l) => l.includes(c.email));
    const target = lines.findIndex((l) => !l.trimStart().startsWith("*"));
    for (let i = 0; i < target; i++) await c.press(KEY.down);
    await c.press("x");
    await c.waitFor("Revoke the session of");
    await c.press("y");
    await c.waitFor("Revoked session");
    await c.waitFor("1 session(s)");
    expect((await h.t.call("GET", "/auth/session", undefined, { token: other })).status).toBe(401);
  });
});

describe("policies", () => {
  test("create a policy through the form, see it, drop it after y", async () => {
    await h.t.sql`create table public.notes (id int primary key, owner uuid)`;
    const c = await h.open({ screen: "policies" });
    open.push(c);
    await c.waitFor("polic");
    await c.press("n");
    await c.waitFor("Create a policy");
    await c.press("public.notes", KEY.enter, "owner_reads", KEY.enter, KEY.enter, KEY.enter, "owner = auth.uid()", KEY.enter, KEY.enter);
    await c.waitFor("Policy owner_reads created");
    await c.press("/", "owner_reads", KEY.enter);
    await c.waitFor(/public\.notes\s+owner_reads\s+select/);
    await c.press(KEY.enter);
    await c.waitFor("(owner = auth.uid())");
    await c.press(KEY.esc);
    await c.press("x");
    await c.waitFor("Drop policy owner_reads");
    await c.press("y");
    await c.waitFor("Dropped owner_reads");
    expect((await h.t.sql`select count(*)::int as n from pg_policies where policyname = 'owner_reads'`)[0]!.n).toBe(0);
  });
});

describe("logs and audit", () => {
  test("logs follow new lines; l raises the level filter", async () => {
    const c = await h.open({ screen: "logs" });
    open.push(c);
    await c.waitFor("following");
    await h.t.call("GET", "/schemas?x=marker", undefined, service);
    await c.waitFor("GET /admin/v1/schemas 200");
    await c.press("l"); // info → warn and above
    await c.waitFor("level ≥warn");
    await until(async () => !c.frame().includes("GET /admin/v1/schemas"));
  });

  test("audit: follow shows new entries as they happen; Enter shows one in full", async () => {
    const c = await h.open({ screen: "audit" });
    open.push(c);
    await c.waitFor("entries");
    await c.press("f");
    await c.waitFor("following");
    await h.t.call("POST", "/policies", {}, service); // audited: a refused create
    await c.waitFor(/policies\.create/, 6000);
    await c.press(KEY.enter);
    await c.waitFor(/#\d+ · /);
  });

  test("audit verify and export: the server's answer, or 'not available on this server'", async () => {
    const probe = await h.t.call("GET", "/audit/verify", undefined, service);
    const cwd = process.cwd();
    const dir = `${h.configDir}/export`;
    require("node:fs").mkdirSync(dir, { recursive: true });
    process.chdir(dir);
    try {
      const c = await h.open({ screen: "audit" });
      open.push(c);
      await c.waitFor("entries");
      await c.press("v");
      if (probe.status === 404) await c.waitFor("Verifying is not available on this server");
      else await c.waitFor(/Audit chain (intact|BROKEN)/);
      await c.press("e");
      const exported = await h.t.call("GET", "/audit/export", undefined, service).catch(() => ({ status: 500 }));
      if (exported.status === 404) await c.waitFor("Export is not available on this server");
      else {
        await c.waitFor(/Exported \d+ entries to /);
        const files = readdirSync(dir).filter((f) => f.startsWith("plinth-audit-"));
        expect(files.length).toBe(1);
        expect(readFileSync(`${dir}/${files[0]}`, "utf8").length).toBeGreaterThan(0);
      }
    } finally {
      process.chdir(cwd);
      if (existsSync(dir)) rmSync(dir, { recursive: true });
    }
  });
});

describe("security and migrations", () => {
  test("each shows what this server offers, or says it is not available", async () => {
    for (const [screen, path] of [
      ["security", "/security/events"],
      ["migrations", "/migrations"],
    ] as const) {
      const probe = await h.t.call("GET", path, undefined, service);
      const c = await h.open({ screen });
      open.push(c);
      if (probe.status === 404) await c.waitFor("Not available on this server");
      else if (screen === "migrations") await c.waitFor(/\d+ applied · \d+ pending/);
      else await c.waitFor(/events · \d+/);
      c.unmount();
    }
  });
});
