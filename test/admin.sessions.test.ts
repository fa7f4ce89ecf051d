// Admin sessions: the idle timeout, the absolute lifetime, the limit per admin (oldest ended), who
// sees and ends which sessions, logout and revocation refused at once on every node (two apps on
// one database), and the separation from end users' GoTrue sessions.
import { describe, expect, test } from "bun:test";
import { adminApp, PASSWORD, uniqueEmail, type AdminApp } from "./support/admin.ts";

const t = await adminApp();
const node2 = await adminApp({}, t.database);

async function admin(level: "system_admin" | "admin" | "viewer", app: AdminApp = t) {
  const email = uniqueEmail(level);
  const a = await app.makeAdmin(email, level);
  return { id: a.id, email };
}

const whoami = (token: string, app: AdminApp = t) => app.call("GET", "/auth/session", undefined, { token });

// The timeout tests move time by back-dating last_seen_at in the database. A node that served the
// session itself knows better (its cache saw the use: sessions/cache.ts, tested with a fake clock
// in admin.session-cache.test.ts), so these checks ask a node that has not seen the session yet.
const freshNode = (overrides = {}, database = t.database) => adminApp(overrides, database);

describe("signing in", () => {
  test("the answer: an opaque prefixed token, its absolute end (12 h by default), and the admin", async () => {
    const a = await admin("admin");
    const before = Date.now();
    const r = await t.call("POST", "/auth/login", { email: a.email, password: PASSWORD });
    expect(r.status).toBe(200);
    expect(Object.keys(r.body).sort()).toEqual(["admin", "expires_at", "session_token"]);
    expect(r.body.session_token).toMatch(/^plinth_as_[A-Za-z0-9_-]{43}$/);
    expect(r.body.admin).toEqual({ id: a.id, email: a.email, level: "admin", tables: [] });
    const ends = Date.parse(r.body.expires_at) - before;
    expect(ends).toBeGreaterThan(12 * 3600_000 - 60_000);
    expect(ends).toBeLessThan(12 * 3600_000 + 60_000);
    // Stored as a digest only.
    const rows = await t.sql`select encode(token_hash, 'hex') as h from plinth.admin_sessions where admin_id = ${a.id}`;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.h).not.toContain(r.body.session_token.slice(10, 30));
    const who = await whoami(r.body.session_token);
    expect(who.body).toMatchObject({ kind: "admin_session", admin: { id: a.id, email: a.email, level: "admin" }, level: "admin" });
  });
});

describe("timeouts", () => {
  test("idle: a session unused for longer than the idle timeout (30 min by default) is refused; use keeps it alive", async () => {
    const a = await admin("viewer");
    const token = await t.login(a.email);
    await t.sql`update plinth.admin_sessions set last_seen_at = now() - interval '29 minutes' where admin_id = ${a.id}`;
    expect((await whoami(token, await freshNode())).status).toBe(200); // and last_seen_at is now
    const [s] = await t.sql`select extract(epoch from now() - last_seen_at)::float8 as idle from plinth.admin_sessions where admin_id = ${a.id}`;
    expect(s!.idle).toBeLessThan(5);
    await t.sql`update plinth.admin_sessions set last_seen_at = now() - interval '31 minutes' where admin_id = ${a.id}`;
    expect(await whoami(token, await freshNode())).toMatchObject({ status: 401, body: { code: "admin_session_invalid" } });
  });

  test("last_seen_at is recorded at most every 15 s (most checks write nothing)", async () => {
    const a = await admin("viewer");
    const token = await t.login(a.email);
    await t.sql`update plinth.admin_sessions set last_seen_at = now() - interval '5 seconds' where admin_id = ${a.id}`;
    expect((await whoami(token, await freshNode())).status).toBe(200);
    const [fresh] = await t.sql`select extract(epoch from now() - last_seen_at)::float8 as idle from plinth.admin_sessions where admin_id = ${a.id}`;
    expect(fresh!.idle).toBeGreaterThanOrEqual(4.5);
    await t.sql`update plinth.admin_sessions set last_seen_at = now() - interval '20 seconds' where admin_id = ${a.id}`;
    expect((await whoami(token, await freshNode())).status).toBe(200);
    const [bumped] = await t.sql`select extract(epoch from now() - last_seen_at)::float8 as idle from plinth.admin_sessions where admin_id = ${a.id}`;
    expect(bumped!.idle).toBeLessThan(5);
  });

  test("absolute: past its lifetime a session is refused however active", async () => {
    const a = await admin("viewer");
    const token = await t.login(a.email);
    await t.sql`update plinth.admin_sessions set expires_at = now() - interval '1 second' where admin_id = ${a.id}`;
    expect((await whoami(token)).status).toBe(401);
  });

  test("both are configurable (admin.sessionIdleTimeout, admin.sessionLifetime)", async () => {
    const short = await adminApp({ admin: { sessionIdleTimeout: 60, sessionLifetime: 600 } });
    const a = await admin("viewer", short);
    const r = await short.call("POST", "/auth/login", { email: a.email, password: PASSWORD });
    const life = Date.parse(r.body.expires_at) - Date.now();
    expect(life).toBeGreaterThan(590_000);
    expect(life).toBeLessThan(610_000);
    const settings = { admin: { sessionIdleTimeout: 60, sessionLifetime: 600 } };
    await short.sql`update plinth.admin_sessions set last_seen_at = now() - interval '50 seconds'`;
    expect((await whoami(r.body.session_token, await freshNode(settings, short.database))).status).toBe(200);
    await short.sql`update plinth.admin_sessions set last_seen_at = now() - interval '61 seconds'`;
    expect((await whoami(r.body.session_token, await freshNode(settings, short.database))).status).toBe(401);
  });
});

describe("concurrent sessions", () => {
  test("at most 5 per admin by default: the sixth sign-in ends the oldest", async () => {
    const a = await admin("viewer");
    const tokens: string[] = [];
    for (let i = 0; i < 6; i++) tokens.push(await t.login(a.email));
    expect((await whoami(tokens[0]!)).status).toBe(401);
    for (const tok of tokens.slice(1)) expect((await whoami(tok)).status).toBe(200);
    const list = await t.call("GET", "/sessions", undefined, { token: tokens[5] });
    expect(list.body).toHaveLength(5);
  });

  test("the limit is configurable (admin.maxSessions), and holds for sign-ins at the same moment", async () => {
    const two = await adminApp({ admin: { maxSessions: 2 } });
    const a = await admin("viewer", two);
    await Promise.all(Array.from({ length: 6 }, () => two.login(a.email)));
    const [n] = await two.sql`select count(*)::int as n from plinth.admin_sessions where admin_id = ${a.id}`;
    expect(n!.n).toBe(2);
  });
});

describe("seeing and ending sessions", () => {
  test("GET /sessions: one's own, each with id, admin id and email, created and last-seen times, address", async () => {
    const a = await admin("admin");
    const mine = await t.login(a.email, PASSWORD, { ip: "203.0.113.7", headers: { "user-agent": "plinth-tui/1" } });
    const other = await admin("viewer");
    await t.login(other.email);
    const r = await t.call("GET", "/sessions", undefined, { token: mine });
    expect(r.status).toBe(200);
    expect(r.body).toHaveLength(1);
    expect(r.body[0]).toMatchObject({
      id: expect.any(String),
      admin_id: a.id,
      email: a.email,
      level: "admin",
      method: "password",
      created_at: expect.any(String),
      last_seen_at: expect.any(String),
      expires_at: expect.any(String),
      ip: "203.0.113.7",
      user_agent: "plinth-tui/1",
      current: true,
    });
  });

  test("a system_admin sees and ends everyone's; an admin cannot end another's (404)", async () => {
    const root = await admin("system_admin");
    const rootToken = await t.login(root.email);
    const a = await admin("admin");
    const aToken = await t.login(a.email);
    const v = await admin("viewer");
    const vToken = await t.login(v.email);
    const all = (await t.call("GET", "/sessions", undefined, { token: rootToken })).body;
    const vSession = all.find((s: any) => s.admin_id === v.id);
    expect(vSession).toBeDefined();
    expect(all.some((s: any) => s.admin_id === a.id)).toBe(true);
    expect((await t.call("DELETE", `/sessions/${vSession.id}`, undefined, { token: aToken })).status).toBe(404);
    expect((await whoami(vToken)).status).toBe(200);
    // Revoked on node 2, refused at once on both nodes.
    expect((await node2.call("DELETE", `/sessions/${vSession.id}`, undefined, { token: rootToken })).status).toBe(204);
    expect((await whoami(vToken)).status).toBe(401);
    expect((await whoami(vToken, node2)).status).toBe(401);
    // The service_role key sees them all too.
    const byKey = await t.call("GET", "/sessions", undefined, { token: t.keys.service_role });
    expect(byKey.body.some((s: any) => s.admin_id === a.id)).toBe(true);
  });

  test("an admin ends its own other sessions", async () => {
    const a = await admin("viewer");
    const one = await t.login(a.email);
    const two = await t.login(a.email);
    const list = (await t.call("GET", "/sessions", undefined, { token: one })).body;
    const twoId = list.find((s: any) => !s.current).id;
    expect((await t.call("DELETE", `/sessions/${twoId}`, undefined, { token: one })).status).toBe(204);
    expect((await whoami(two)).status).toBe(401);
    expect((await whoami(one)).status).toBe(200);
  });

  test("logout ends the session at once on every node; the service_role key has none to end", async () => {
    const a = await admin("viewer");
    const token = await t.login(a.email);
    expect((await whoami(token, node2)).status).toBe(200);
    expect((await node2.call("POST", "/auth/logout", undefined, { token })).status).toBe(204);
    expect((await whoami(token)).status).toBe(401);
    expect((await whoami(token, node2)).status).toBe(401);
    const byKey = await t.call("POST", "/auth/logout", undefined, { token: t.keys.service_role });
    expect(byKey.status).toBe(400);
  });
});

describe("separate from end users' sessions", () => {
  test("an admin session token is no JWT anywhere else; an admin's GoTrue token is no admin identity", async () => {
    const a = await admin("admin");
    const token = await t.login(a.email);
    const user = await t.call("GET", "/auth/v1/user", undefined, { token, apikey: t.keys.anon });
    expect(user.status).toBe(401);
    const gotrue = await t.call("POST", "/auth/v1/token?grant_type=password", { email: a.email, password: PASSWORD }, { apikey: t.keys.anon });
    expect(gotrue.status).toBe(200);
    const asUser = await t.call("GET", "/schemas", undefined, { token: gotrue.body.access_token, apikey: t.keys.anon });
    expect(asUser).toMatchObject({ status: 403, body: { code: "forbidden" } });
    // A made-up token of the right shape is refused by the admin API, not waved through.
    const fake = `plinth_as_${"A".repeat(43)}`;
    expect(await t.call("GET", "/schemas", undefined, { token: fake })).toMatchObject({ status: 401, body: { code: "admin_session_invalid" } });
  });
});
