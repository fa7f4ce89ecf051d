// Admin accounts and the rules of levels, through /admin/v1/admins: nobody raises anyone above their
// own level, only a system_admin touches system admins, nobody changes their own level, the last
// system_admin stays; and a change applies on the next request, on every node.
import { beforeAll, describe, expect, test } from "bun:test";
import { adminApp, PASSWORD, uniqueEmail } from "./support/admin.ts";

const t = await adminApp();
// A second node: another app on the same database.
const node2 = await adminApp({}, t.database);

let root: { id: string; email: string; token: string };
let boss: { id: string; email: string; token: string }; // an admin

const as = (token: string) => ({
  get: (path: string) => t.call("GET", path, undefined, { token }),
  post: (path: string, body: unknown) => t.call("POST", path, body, { token }),
  patch: (path: string, body: unknown) => t.call("PATCH", path, body, { token }),
  del: (path: string) => t.call("DELETE", path, undefined, { token }),
});

async function account(level: "system_admin" | "admin" | "moderator" | "viewer", tables?: string[]) {
  const email = uniqueEmail(level);
  const a = await t.makeAdmin(email, level, tables);
  return { id: a.id, email, token: await t.login(email) };
}

beforeAll(async () => {
  root = await account("system_admin");
  boss = await account("admin");
});

describe("creating admins", () => {
  test("a system_admin makes an existing user an admin of any level; the answer is the account", async () => {
    const email = uniqueEmail("plain");
    await t.call("POST", "/auth/v1/signup", { email, password: PASSWORD }, { apikey: t.keys.anon });
    const r = await as(root.token).post("/admins", { email, level: "moderator", tables: ["public.notes", "public.notes", "app.items"] });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      email,
      level: "moderator",
      tables: ["app.items", "public.notes"],
      created_by: root.id,
      created_via: "admin_session",
      mfa: false,
    });
    expect((await as(root.token).post("/admins", { email, level: "viewer" })).body.code).toBe("admin_exists");
  });

  test("with a password, a new user is created (confirmed) and can sign in; an existing user's password is refused", async () => {
    const email = uniqueEmail("fresh");
    const r = await as(root.token).post("/admins", { email, username: `u${Date.now().toString(36)}`, level: "viewer", password: PASSWORD });
    expect(r.status).toBe(201);
    expect(typeof (await t.login(email))).toBe("string");
    const again = await as(root.token).post("/admins", { email: root.email, level: "viewer", password: "whatever-1A" });
    expect(again.status).toBe(400);
    const weak = await as(root.token).post("/admins", { email: uniqueEmail("weak"), level: "viewer", password: "x" });
    expect(weak.status).toBe(422);
    expect((await as(root.token).post("/admins", { email: uniqueEmail("ghost"), level: "viewer" })).body.code).toBe("user_not_found");
  });

  test("an admin creates admins and below, never a system_admin", async () => {
    const r = await as(boss.token).post("/admins", { email: uniqueEmail("by-admin"), level: "admin", password: PASSWORD });
    expect(r.status).toBe(201);
    const sys = await as(boss.token).post("/admins", { email: uniqueEmail("by-admin-sys"), level: "system_admin", password: PASSWORD });
    expect(sys).toMatchObject({ status: 403, body: { code: "level_above_own" } });
  });

  test("tables belong to moderators and viewers; names are schema.table", async () => {
    const bad = await as(root.token).post("/admins", { email: uniqueEmail("t"), level: "admin", tables: ["public.x"], password: PASSWORD });
    expect(bad).toMatchObject({ status: 400, body: { code: "validation_failed" } });
    const badName = await as(root.token).post("/admins", { email: uniqueEmail("t"), level: "viewer", tables: ["x"], password: PASSWORD });
    expect(badName.status).toBe(400);
  });
});

describe("the rules", () => {
  test("nobody changes their own level, nor removes themselves", async () => {
    expect((await as(root.token).patch(`/admins/${root.id}`, { level: "admin" })).body.code).toBe("own_level");
    expect((await as(boss.token).patch(`/admins/${boss.id}`, { level: "viewer" })).body.code).toBe("own_level");
    expect((await as(boss.token).del(`/admins/${boss.id}`)).body.code).toBe("own_level");
  });

  test("only a system_admin promotes to, demotes or removes a system_admin", async () => {
    const other = await account("system_admin");
    const m = await account("moderator", ["public.notes"]);
    expect((await as(boss.token).patch(`/admins/${m.id}`, { level: "system_admin" })).body.code).toBe("level_above_own");
    expect((await as(boss.token).patch(`/admins/${other.id}`, { level: "admin" })).body.code).toBe("system_admin_only");
    expect((await as(boss.token).patch(`/admins/${other.id}`, { tables: [] })).status).toBe(403);
    expect((await as(boss.token).del(`/admins/${other.id}`)).body.code).toBe("system_admin_only");
    const r = await as(root.token).patch(`/admins/${other.id}`, { level: "admin" });
    expect(r).toMatchObject({ status: 200, body: { level: "admin", tables: [] } });
    expect((await as(root.token).patch(`/admins/${m.id}`, { level: "system_admin" })).body.level).toBe("system_admin");
  });

  test("an admin manages admins and those below: levels, tables, removal", async () => {
    const v = await account("viewer", ["public.notes"]);
    const r = await as(boss.token).patch(`/admins/${v.id}`, { level: "moderator" });
    expect(r.body).toMatchObject({ level: "moderator", tables: ["public.notes"] }); // tables kept
    expect((await as(boss.token).patch(`/admins/${v.id}`, { tables: ["public.a", "public.b"] })).body.tables).toEqual(["public.a", "public.b"]);
    expect((await as(boss.token).patch(`/admins/${v.id}`, { level: "admin" })).body).toMatchObject({ level: "admin", tables: [] });
    expect((await as(boss.token).del(`/admins/${v.id}`)).status).toBe(204);
    expect((await as(boss.token).get(`/admins/${v.id}`)).body.code).toBe("admin_not_found");
  });

  test("the last system_admin cannot be demoted or removed, not even with the service_role key", async () => {
    // A database of its own, so the count of system admins is known.
    const solo = await adminApp();
    const only = await solo.makeAdmin(uniqueEmail("only"), "system_admin");
    const key = { token: solo.keys.service_role };
    expect((await solo.call("PATCH", `/admins/${only.id}`, { level: "admin" }, key)).body.code).toBe("last_system_admin");
    expect((await solo.call("DELETE", `/admins/${only.id}`, undefined, key)).body.code).toBe("last_system_admin");
    // With a second, either can go (not both): the key demotes one, then the other is the last.
    const second = await solo.makeAdmin(uniqueEmail("second"), "system_admin");
    expect((await solo.call("PATCH", `/admins/${second.id}`, { level: "admin" }, key)).status).toBe(200);
    expect((await solo.call("DELETE", `/admins/${only.id}`, undefined, key)).body.code).toBe("last_system_admin");
    // The database keeps the rule whatever path the change takes (deleting the user cascades here).
    await expect(solo.sql`delete from auth.users where id = ${only.id}`).rejects.toThrow(/last system_admin/);
    await expect(solo.sql`update plinth.admins set level = 'viewer' where user_id = ${only.id}`).rejects.toThrow(/last system_admin/);
    // Two demotions at once of the last two: one wins, one is refused.
    const third = await solo.makeAdmin(uniqueEmail("third"), "system_admin");
    const [a, b] = await Promise.all([
      solo.call("PATCH", `/admins/${only.id}`, { level: "admin" }, key),
      solo.call("PATCH", `/admins/${third.id}`, { level: "admin" }, key),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const [n] = await solo.sql`select count(*)::int as n from plinth.admins where level = 'system_admin'`;
    expect(n!.n).toBe(1);
  });
});

describe("changes apply on the next request, on every node", () => {
  test("promotion, demotion and removal change what an open session may do", async () => {
    const m = await account("moderator", ["public.notes"]);
    const onNode2 = (path: string) => node2.call("GET", path, undefined, { token: m.token });
    expect((await as(m.token).get("/admins")).status).toBe(403);
    expect((await onNode2("/admins")).status).toBe(403);
    expect((await node2.call("PATCH", `/admins/${m.id}`, { level: "admin" }, { token: root.token })).status).toBe(200);
    expect((await as(m.token).get("/admins")).status).toBe(200);
    expect((await onNode2("/admins")).status).toBe(200);
    expect((await as(root.token).patch(`/admins/${m.id}`, { level: "viewer" })).status).toBe(200);
    expect((await onNode2("/admins")).status).toBe(403);
    const who = await onNode2("/auth/session");
    expect(who.body).toMatchObject({ kind: "admin_session", admin: { id: m.id, level: "viewer", tables: [] } });
    expect((await as(root.token).del(`/admins/${m.id}`)).status).toBe(204);
    expect((await as(m.token).get("/auth/session")).body.code).toBe("admin_session_invalid");
    expect((await onNode2("/auth/session")).status).toBe(401);
  });

  test("a banned user's admin session is refused", async () => {
    const v = await account("viewer");
    await t.sql`update auth.users set banned_until = now() + interval '1 hour' where id = ${v.id}`;
    expect((await as(v.token).get("/auth/session")).status).toBe(401);
    expect((await t.call("POST", "/auth/login", { email: v.email, password: PASSWORD })).body.code).toBe("invalid_credentials");
  });
});

describe("listing and audit", () => {
  test("GET /admins lists every admin with its level and tables; the service_role key may too", async () => {
    const r = await t.call("GET", "/admins", undefined, { token: t.keys.service_role });
    expect(r.status).toBe(200);
    expect(r.body.find((a: any) => a.id === root.id)).toMatchObject({ email: root.email, level: "system_admin", tables: [] });
    const levels = r.body.map((a: any) => a.level);
    expect(levels).toEqual(
      [...levels].sort(
        (x: string, y: string) => ["system_admin", "admin", "moderator", "viewer"].indexOf(x) - ["system_admin", "admin", "moderator", "viewer"].indexOf(y),
      ),
    );
  });

  test("each call's audit record names the admin (id, email), its level and session; the key is named as such", async () => {
    const v = await account("viewer");
    await as(boss.token).patch(`/admins/${v.id}`, { level: "moderator" });
    await t.call("GET", "/admins", undefined, { token: t.keys.service_role });
    const audit = (await t.call("GET", "/audit?limit=20", undefined, { token: t.keys.service_role })).body;
    const change = audit.find((a: any) => a.action === "admins.update" && a.target === `admin:${v.id}`);
    const sessionId = change.actor.session_id;
    expect(change).toMatchObject({
      outcome: "ok",
      actor: {
        role: "admin",
        kind: "admin_session",
        sub: boss.id,
        admin: { id: boss.id, email: boss.email, level: "admin" },
        level: "admin",
        session_id: expect.any(String),
      },
    });
    const [s] = await t.sql`select id from plinth.admin_sessions where id = ${sessionId}`;
    expect(s).toBeDefined();
    const byKey = audit.find((a: any) => a.action === "admins.list");
    expect(byKey.actor).toMatchObject({ role: "service_role", kind: "service_key", admin: null, session_id: null });
  });
});
