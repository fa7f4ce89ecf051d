// Security events (plinth.security_events): each kind this part of the suite raises, raised by the
// real flow that sees it, and GET /admin/v1/security/events with its filters and cursor paging.
import { describe, expect, test } from "bun:test";
import { raiseSecurityEvent } from "../src/admin/security/events.ts";
import { issueEmergencyCode } from "../src/admin/signin/emergency.ts";
import { adminApp, PASSWORD } from "./support/admin.ts";
import { totp } from "./support/auth-totp.ts";
import { uniqueEmail } from "./support/auth.ts";

const t = await adminApp({ auth: { refreshReuseInterval: 0 }, security: { alerts: { pollInterval: 600 } } });
const PW = "Correct-horse-1";
const svc = { token: t.keys.service_role };

const auth = (path: string, body: unknown, opts: { bearer?: string; ip?: string; ua?: string } = {}) =>
  t.call("POST", `/auth/v1${path}`, body, { apikey: t.keys.anon, token: opts.bearer, ip: opts.ip, headers: opts.ua ? { "user-agent": opts.ua } : {} });

async function signUp(email = uniqueEmail("events")) {
  const r = await auth("/signup", { email, password: PW }, { ua: "Browser/1" });
  expect(r.status).toBe(200);
  return { id: r.body.user.id as string, email, access: r.body.access_token as string, refresh: r.body.refresh_token as string };
}

const eventsOf = (userId: string, kind: string) => t.sql`select * from plinth.security_events where user_id = ${userId} and kind = ${kind} order by id`;

describe("raised by the flows", () => {
  test("refresh-token reuse (a stolen token) ends the family and raises refresh_token_reuse", async () => {
    const u = await signUp();
    const first = await auth("/token?grant_type=refresh_token", { refresh_token: u.refresh }, { ip: "203.0.113.5", ua: "Thief/1" });
    expect(first.status).toBe(200);
    await Bun.sleep(1100);
    const reuse = await auth("/token?grant_type=refresh_token", { refresh_token: u.refresh }, { ip: "203.0.113.5", ua: "Thief/1" });
    expect(reuse.body.error_code).toBe("refresh_token_already_used");
    const [ev] = await eventsOf(u.id, "refresh_token_reuse");
    expect(ev).toMatchObject({ severity: "high", address: "203.0.113.5", user_agent: "Thief/1" });
    expect(ev!.details).toMatchObject({ session_ended: true });
    expect(JSON.stringify(ev)).not.toContain(u.refresh);
  });

  test("new_device: a sign-in from a user agent or address not seen for the user; never for the first one or a known one", async () => {
    const u = await signUp();
    const signIn = (ip: string, ua: string) => auth("/token?grant_type=password", { email: u.email, password: PW }, { ip, ua });
    expect((await signIn("198.51.100.1", "Browser/1")).status).toBe(200);
    expect(await eventsOf(u.id, "new_device")).toHaveLength(0);
    expect((await signIn("198.51.100.1", "Browser/1")).status).toBe(200);
    expect(await eventsOf(u.id, "new_device")).toHaveLength(0);
    expect((await signIn("198.51.100.1", "Phone/7")).status).toBe(200);
    expect((await signIn("203.0.113.77", "Phone/7")).status).toBe(200);
    expect((await signIn("203.0.113.77", "Phone/7")).status).toBe(200);
    const events = await eventsOf(u.id, "new_device");
    expect(events.map((e) => [e.severity, e.details])).toEqual([
      ["low", { new_user_agent: true, new_address: false }],
      ["low", { new_user_agent: false, new_address: true }],
    ]);
    // Digests only: the table of known devices does not keep the user agent itself.
    const known = await t.sql`select kind, digest from plinth.auth_known_devices where user_id = ${u.id}`;
    expect(JSON.stringify(known)).not.toContain("Phone/7");
  });

  test("mfa_disabled when a verified factor is removed, by the user or by an admin", async () => {
    const u = await signUp();
    const enrolVerified = async () => {
      const f = await auth("/factors", { factor_type: "totp", friendly_name: `f${Math.random()}` }, { bearer: u.access });
      const ch = await auth(`/factors/${f.body.id}/challenge`, {}, { bearer: u.access });
      const v = await auth(`/factors/${f.body.id}/verify`, { challenge_id: ch.body.id, code: totp(f.body.totp.secret) }, { bearer: u.access });
      expect(v.status).toBe(200);
      return { id: f.body.id as string, aal2: v.body.access_token as string };
    };
    const f1 = await enrolVerified();
    const del = await t.call("DELETE", `/auth/v1/factors/${f1.id}`, undefined, { apikey: t.keys.anon, token: f1.aal2 });
    expect(del.status).toBe(200);
    const f2 = await enrolVerified();
    const adminDel = await t.call("DELETE", `/auth/v1/admin/users/${u.id}/factors/${f2.id}`, undefined, { apikey: t.keys.anon, ...svc });
    expect(adminDel.status).toBe(200);
    // An unverified factor going away is no news.
    const f3 = await auth("/factors", { factor_type: "totp", friendly_name: "never verified" }, { bearer: f2.aal2 });
    await t.call("DELETE", `/auth/v1/admin/users/${u.id}/factors/${f3.body.id}`, undefined, { apikey: t.keys.anon, ...svc });
    const events = await eventsOf(u.id, "mfa_disabled");
    expect(events.map((e) => [e.details.factor_id, e.details.by])).toEqual([
      [f1.id, "user"],
      [f2.id, "admin"],
    ]);
  });

  test("admin_level_changed for a new admin, a level change, a table change and a removal, naming the actor", async () => {
    // Another system_admin, so that demoting this one below is allowed (never the last one).
    await t.makeAdmin(uniqueEmail("keeper"), "system_admin");
    const email = uniqueEmail("promoted");
    await t.makeAdmin(email, "viewer", ["public.a"]);
    const [user] = await t.sql`select id from auth.users where email = ${email}`;
    const id = user!.id as string;
    expect((await t.call("PATCH", `/admins/${id}`, { level: "moderator" }, svc)).status).toBe(200);
    expect((await t.call("PATCH", `/admins/${id}`, { tables: ["public.a", "public.b"] }, svc)).status).toBe(200);
    expect((await t.call("PATCH", `/admins/${id}`, { level: "moderator" }, svc)).status).toBe(200); // no change: no event
    expect((await t.call("PATCH", `/admins/${id}`, { level: "system_admin" }, svc)).status).toBe(200);
    expect((await t.call("DELETE", `/admins/${id}`, undefined, svc)).status).toBeLessThan(300);
    const events = await eventsOf(id, "admin_level_changed");
    expect(events.map((e) => [e.severity, e.details.from, e.details.to])).toEqual([
      ["high", null, "viewer"],
      ["high", "viewer", "moderator"],
      ["high", "moderator", "moderator"],
      ["critical", "moderator", "system_admin"],
      ["high", "system_admin", null],
    ]);
    expect(events[2]!.details).toMatchObject({ tables_from: ["public.a"], tables_to: ["public.a", "public.b"] });
    expect(events[0]!.details.actor).toMatchObject({ kind: "cli", os_user: "test" });
    expect(events[1]!.details.actor).toMatchObject({ kind: "service_key" });
  });

  test("emergency_access when a code is redeemed (not when it fails)", async () => {
    const issued = await issueEmergencyCode(t.sql, { ttlSeconds: 900, reason: "lost every phone", osUser: "ops" });
    expect((await t.call("POST", "/auth/emergency", { code: "plinth_ae_wrong" }, { ip: "192.0.2.9" })).status).toBe(400);
    const r = await t.call("POST", "/auth/emergency", { code: issued.code }, { ip: "192.0.2.9", headers: { "user-agent": "ops-laptop" } });
    expect(r.status).toBe(200);
    const events = await t.sql`select * from plinth.security_events where kind = 'emergency_access'`;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ severity: "high", address: "192.0.2.9", user_agent: "ops-laptop" });
    expect(events[0]!.details).toMatchObject({ code_id: issued.id, reason: "lost every phone" });
    expect(JSON.stringify(events[0])).not.toContain(issued.code);
  });
});

describe("GET /admin/v1/security/events", () => {
  test("filters by kind, severity, min_severity, user and time, newest first, with cursor paging", async () => {
    const user = (await signUp()).id;
    const start = new Date();
    const ids: number[] = [];
    for (let i = 0; i < 25; i++) {
      const id = await raiseSecurityEvent(t.sql, {
        kind: i % 5 === 0 ? "policy_changed" : "key_created",
        severity: i % 5 === 0 ? "critical" : "low",
        userId: i % 2 ? user : null,
        details: { n: i },
      });
      ids.push(id!);
    }
    const list = (q: string) => t.call("GET", `/security/events?${q}`, undefined, svc);
    // Paging: 10, 10, 5, then no cursor; no event twice, none missed.
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await list(`since=${encodeURIComponent(start.toISOString())}&limit=10${cursor ? `&cursor=${cursor}` : ""}`);
      expect(r.status).toBe(200);
      seen.push(...r.body.events.map((e: any) => Number(e.id)));
      cursor = r.body.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());

    const critical = await list(`severity=critical&since=${encodeURIComponent(start.toISOString())}`);
    expect(critical.body.events.map((e: any) => e.details.n)).toEqual([20, 15, 10, 5, 0]);
    const high = await list(`min_severity=high&kind=policy_changed,key_created&since=${encodeURIComponent(start.toISOString())}`);
    expect(high.body.events).toHaveLength(5);
    const mine = await list(`user=${user}&kind=key_created`);
    expect(mine.body.events.every((e: any) => e.user_id === user && e.kind === "key_created")).toBe(true);
    expect(mine.body.events).toHaveLength(10);
    const none = await list(`until=${encodeURIComponent(start.toISOString())}&kind=key_created`);
    expect(none.body.events).toHaveLength(0);
    expect(critical.body.events[0]).toMatchObject({ id: expect.any(String), at: expect.any(String), kind: "policy_changed", severity: "critical" });
  });

  test("bad filters are 400 validation_failed, never 500; only security:read may list", async () => {
    for (const q of [
      "kind=nope",
      "severity=urgent",
      "min_severity=x",
      "user=not-a-uuid",
      "since=yesterday",
      "until=2026-13-45",
      "cursor=-1",
      "cursor=abc",
      "limit=0",
      "limit=1e9",
      "kind=lockout'--",
    ]) {
      const r = await t.call("GET", `/security/events?${q}`, undefined, svc);
      expect({ q, status: r.status, code: r.body.code }).toEqual({ q, status: 400, code: "validation_failed" });
    }
    const huge = await t.call("GET", "/security/events?limit=100000", undefined, svc);
    expect(huge.status).toBe(200);
    const modEmail = uniqueEmail("mod");
    await t.makeAdmin(modEmail, "moderator", []);
    expect((await t.call("GET", "/security/events", undefined, { token: await t.login(modEmail, PASSWORD) })).status).toBe(403);
    expect((await t.call("GET", "/security/events", undefined, { apikey: t.keys.anon })).status).toBe(401);
  });
});
