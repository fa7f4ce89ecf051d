// End users through /admin/v1/users: listing (search, paging, sort), one user with its sessions and
// factors, ban and unban (the ban is felt by /auth/v1/token), sign out (refresh tokens refused at
// once), reset password (the mail arrives in a real SMTP sink; 409 when nothing can deliver),
// create, invite and delete (admins only), the rule of levels for users that are admins, the last
// system_admin, the audit record of each call, and no secret in any answer.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { linkOf } from "./support/auth.ts";
import { totp } from "./support/auth-totp.ts";
import { adminApp, PASSWORD, uniqueEmail, type CallOptions, type Reply } from "./support/admin.ts";
import { startSmtpSink } from "./support/smtp-sink.ts";

const smtp = await startSmtpSink();
const t = await adminApp({ smtp: { host: "127.0.0.1", port: smtp.port } });
// A second node on the same database without any mail or SMS provider.
const noMail = await adminApp({}, t.database);
afterAll(() => smtp.stop());

type Level = "system_admin" | "admin" | "moderator" | "viewer";
const service: CallOptions = { token: t.keys.service_role, apikey: t.keys.anon };
const anon: CallOptions = { apikey: t.keys.anon };
const admins = {} as Record<Level, { id: string; email: string; opts: CallOptions }>;

/** Every /admin/v1/users answer, for the no-secrets check at the end. */
const answers: unknown[] = [];
async function api(opts: CallOptions, method: string, path: string, body?: unknown, app = t): Promise<Reply> {
  const r = await app.call(method, path, body, opts);
  answers.push(r.body);
  return r;
}

/** An end user with a password, confirmed, made through GoTrue's own admin API. */
async function endUser(fields: Record<string, unknown> = {}): Promise<{ id: string; email: string }> {
  const email = uniqueEmail("end");
  const r = await t.call("POST", "/auth/v1/admin/users", { email, password: PASSWORD, email_confirm: true, ...fields }, service);
  expect(r.status).toBe(200);
  return { id: r.body.id, email };
}

const signIn = (email: string, password = PASSWORD, headers: Record<string, string> = {}) =>
  t.call("POST", "/auth/v1/token?grant_type=password", { email, password }, { ...anon, headers });
const refresh = (token: string) => t.call("POST", "/auth/v1/token?grant_type=refresh_token", { refresh_token: token }, anon);

beforeAll(async () => {
  for (const level of ["system_admin", "admin", "moderator", "viewer"] as Level[]) {
    const email = uniqueEmail(level);
    const account = await t.makeAdmin(email, level, level === "moderator" || level === "viewer" ? ["public.notes"] : undefined);
    admins[level] = { id: account.id, email, opts: { token: await t.login(email) } };
  }
});

describe("listing", () => {
  test("search (case-insensitive substring of email, username or phone), paging and total", async () => {
    const tag = `srch${Date.now().toString(36)}`;
    const made: string[] = [];
    for (const i of [1, 2, 3]) {
      const r = await api(service, "POST", "/users", { email: `${tag}-${i}@example.com`, password: PASSWORD, email_confirm: true });
      expect(r.status).toBe(201);
      made.push(r.body.id);
    }
    const all = await api(admins.moderator.opts, "GET", `/users?search=${tag.toUpperCase()}`);
    expect(all.status).toBe(200);
    expect(all.body.total).toBe(3);
    expect(all.body.users.map((u: any) => u.id).sort()).toEqual([...made].sort());

    const page1 = await api(admins.moderator.opts, "GET", `/users?search=${tag}&limit=2&sort=email%20asc`);
    expect(page1.body.total).toBe(3);
    expect(page1.body.users.map((u: any) => u.email)).toEqual([`${tag}-1@example.com`, `${tag}-2@example.com`]);
    const page2 = await api(admins.moderator.opts, "GET", `/users?search=${tag}&limit=2&offset=2&sort=email%20asc`);
    expect(page2.body).toMatchObject({ total: 3, users: [{ email: `${tag}-3@example.com` }] });
    const past = await api(admins.moderator.opts, "GET", `/users?search=${tag}&limit=2&offset=10`);
    expect(past.body).toEqual({ users: [], total: 3 });
    const desc = await api(admins.moderator.opts, "GET", `/users?search=${tag}&sort=email%20desc`);
    expect(desc.body.users[0].email).toBe(`${tag}-3@example.com`);

    const name = `${tag}_name`;
    const byName = await api(service, "POST", "/users", { username: name, password: PASSWORD });
    expect(byName.status).toBe(201);
    expect((await api(admins.admin.opts, "GET", `/users?search=${name.toUpperCase()}`)).body.users.map((u: any) => u.id)).toEqual([byName.body.id]);
    const phone = `+23324${String(Date.now()).slice(-7)}`;
    const byPhone = await api(service, "POST", "/users", { phone, password: PASSWORD, phone_confirm: true });
    expect(byPhone.status).toBe(201);
    const found = await api(admins.admin.opts, "GET", `/users?search=${encodeURIComponent(phone.slice(4))}`);
    expect(found.body.users.map((u: any) => u.id)).toContain(byPhone.body.id);
  });

  test("each user's summary: exactly these fields, with the admin level", async () => {
    const r = await api(service, "GET", `/users?search=${encodeURIComponent(admins.moderator.email)}`);
    expect(r.body.total).toBe(1);
    const u = r.body.users[0];
    expect(Object.keys(u).sort()).toEqual(
      [
        "admin_level",
        "banned",
        "banned_until",
        "created_at",
        "email",
        "email_confirmed",
        "factor_count",
        "id",
        "is_anonymous",
        "last_sign_in_at",
        "phone",
        "phone_confirmed",
        "username",
      ].sort(),
    );
    expect(u).toMatchObject({
      id: admins.moderator.id,
      email: admins.moderator.email,
      admin_level: "moderator",
      email_confirmed: true,
      phone_confirmed: false,
      banned: false,
      banned_until: null,
      is_anonymous: false,
      factor_count: 0,
    });
    const plain = await endUser();
    expect((await api(service, "GET", `/users?search=${encodeURIComponent(plain.email)}`)).body.users[0].admin_level).toBeNull();
  });

  test("limit defaults to 50 and is capped at 1000; bad paging or sort is a 400 with a code", async () => {
    const base = await api(service, "GET", "/users");
    expect(base.body.users.length).toBe(Math.min(50, base.body.total));
    expect((await api(service, "GET", "/users?limit=5000")).status).toBe(200);
    for (const q of ["limit=0", "limit=x", "offset=-1", "offset=1.5", "sort=password", "sort=email%20sideways", `search=${"x".repeat(400)}`]) {
      const r = await api(service, "GET", `/users?${q}`);
      expect({ q, status: r.status, code: r.body.code }).toEqual({ q, status: 400, code: "validation_failed" });
    }
  });
});

describe("one user", () => {
  test("with its live sessions and its factors, and nothing secret", async () => {
    const u = await endUser({ user_metadata: { full_name: "Ada" } });
    const s1 = await signIn(u.email, PASSWORD, { "user-agent": "phone-app/1.0" });
    expect(s1.status).toBe(200);
    await signIn(u.email, PASSWORD, { "user-agent": "laptop/2.0" });
    const f = await t.call("POST", "/auth/v1/factors", { factor_type: "totp", friendly_name: "my phone" }, { ...anon, token: s1.body.access_token });
    expect(f.status).toBe(200);
    const ch = await t.call("POST", `/auth/v1/factors/${f.body.id}/challenge`, {}, { ...anon, token: s1.body.access_token });
    const v = await t.call(
      "POST",
      `/auth/v1/factors/${f.body.id}/verify`,
      { challenge_id: ch.body.id, code: totp(f.body.totp.secret) },
      { ...anon, token: s1.body.access_token },
    );
    expect(v.status).toBe(200);
    await t.call("POST", "/auth/v1/factors", { factor_type: "totp", friendly_name: "spare" }, { ...anon, token: v.body.access_token });

    const r = await api(admins.moderator.opts, "GET", `/users/${u.id}`);
    expect(r.status).toBe(200);
    expect(r.body.user).toMatchObject({ id: u.id, email: u.email, factor_count: 1, providers: ["email"], user_metadata: { full_name: "Ada" } });
    // Verifying the factor ended the other aal1 session (GoTrue): one live session, at aal2.
    expect(r.body.sessions).toEqual([
      {
        id: expect.any(String),
        created_at: expect.any(String),
        updated_at: expect.any(String),
        refreshed_at: null,
        aal: "aal2",
        user_agent: "phone-app/1.0",
        ip: "127.0.0.1",
        not_after: null,
      },
    ]);
    expect(r.body.factors).toEqual([
      {
        id: f.body.id,
        factor_type: "totp",
        status: "verified",
        friendly_name: "my phone",
        created_at: expect.any(String),
        updated_at: expect.any(String),
        last_challenged_at: expect.any(String),
      },
      expect.objectContaining({ factor_type: "totp", status: "unverified", friendly_name: "spare" }),
    ]);
    expect(JSON.stringify(r.body)).not.toContain(f.body.totp.secret);
    await refresh(v.body.refresh_token);
    const after = await api(admins.viewer.opts, "GET", `/users/${u.id}`);
    expect(after.status).toBe(403);
    expect((await api(service, "GET", `/users/${u.id}`)).body.sessions[0].refreshed_at).toEqual(expect.any(String));
  });

  test("an unknown or malformed id is a 404 with a code, never a 500", async () => {
    for (const id of ["00000000-0000-4000-8000-00000000abcd", "not-a-uuid", "1", "'%20or%201=1--"]) {
      for (const [method, path, body] of [
        ["GET", `/users/${id}`, undefined],
        ["POST", `/users/${id}/ban`, { duration: "1h" }],
        ["POST", `/users/${id}/unban`, {}],
        ["POST", `/users/${id}/signout`, {}],
        ["POST", `/users/${id}/reset-password`, {}],
        ["DELETE", `/users/${id}`, undefined],
      ] as const) {
        const r = await api(service, method, path, body);
        expect({ method, path, status: r.status, code: r.body?.code }).toEqual({ method, path, status: 404, code: "user_not_found" });
      }
    }
  });
});

describe("ban, unban, sign out", () => {
  test("a banned user cannot sign in nor refresh; unbanned, it signs in again", async () => {
    const u = await endUser();
    const before = await signIn(u.email);
    expect(before.status).toBe(200);
    const r = await api(admins.moderator.opts, "POST", `/users/${u.id}/ban`, { duration: "24h" });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: u.id, banned: true });
    const until = Date.parse(r.body.banned_until) - Date.now();
    expect(until).toBeGreaterThan(23.9 * 3600_000);
    expect(until).toBeLessThanOrEqual(24 * 3600_000);
    expect((await signIn(u.email)).body.code).toBe("user_banned");
    expect((await refresh(before.body.refresh_token)).status).toBe(400);

    const un = await api(admins.moderator.opts, "POST", `/users/${u.id}/unban`, {});
    expect(un.body).toMatchObject({ banned: false, banned_until: null });
    expect((await signIn(u.email)).status).toBe(200);

    // "none" is GoTrue's way to lift a ban, too; anything that is no Go duration is refused.
    await api(service, "POST", `/users/${u.id}/ban`, { duration: "1h30m" });
    expect((await api(service, "POST", `/users/${u.id}/ban`, { duration: "none" })).body.banned).toBe(false);
    for (const duration of ["forever", "24", "-1h", ""]) {
      const bad = await api(service, "POST", `/users/${u.id}/ban`, { duration });
      expect({ duration, status: bad.status, code: bad.body.code }).toEqual({ duration, status: 400, code: "validation_failed" });
    }
    expect((await api(service, "POST", `/users/${u.id}/ban`, {})).status).toBe(400);
    expect((await api(service, "POST", `/users/${u.id}/ban`, ["1h"])).body.code).toBe("validation_failed");
  });

  test("sign out ends every session: the refresh tokens are refused at once", async () => {
    const u = await endUser();
    const a = await signIn(u.email);
    const b = await signIn(u.email);
    const r = await api(admins.moderator.opts, "POST", `/users/${u.id}/signout`, {});
    expect(r).toMatchObject({ status: 200, body: { sessions_ended: 2 } });
    for (const s of [a, b]) expect((await refresh(s.body.refresh_token)).body.code).toBe("refresh_token_not_found");
    expect((await api(service, "GET", `/users/${u.id}`)).body.sessions).toEqual([]);
    // The user itself can sign in again.
    expect((await signIn(u.email)).status).toBe(200);
    // Without a body at all, too.
    expect((await api(service, "POST", `/users/${u.id}/signout`)).body).toEqual({ sessions_ended: 1 });
  });
});

describe("reset password", () => {
  test("sends the recovery mail; its link signs the user in", async () => {
    const u = await endUser();
    const r = await api(admins.moderator.opts, "POST", `/users/${u.id}/reset-password`, {});
    expect(r).toMatchObject({ status: 200, body: { channel: "email", to: u.email } });
    const mail = await smtp.waitFor((m) => m.to.includes(u.email));
    expect(mail.subject).toBe("Reset your password");
    const link = linkOf(mail);
    expect(link.searchParams.get("type")).toBe("recovery");
    const v = await t.call("POST", "/auth/v1/verify", { type: "recovery", token_hash: link.searchParams.get("token") }, anon);
    expect(v.status).toBe(200);
    expect(v.body.user.id).toBe(u.id);
  });

  test("409 with a code when nothing can reach the user", async () => {
    const u = await endUser();
    const r = await api({ token: t.keys.service_role, apikey: t.keys.anon }, "POST", `/users/${u.id}/reset-password`, {}, noMail);
    expect(r).toMatchObject({ status: 409, body: { code: "delivery_not_configured" } });
    const phoneOnly = await api(service, "POST", "/users", { phone: `+23324${String(Date.now() + 1).slice(-7)}`, password: PASSWORD });
    expect((await api(service, "POST", `/users/${phoneOnly.body.id}/reset-password`, {})).body.code).toBe("delivery_not_configured");
    const nameOnly = await api(service, "POST", "/users", { username: `n${Date.now().toString(36)}`, password: PASSWORD });
    const none = await api(service, "POST", `/users/${nameOnly.body.id}/reset-password`, {});
    expect(none).toMatchObject({ status: 409, body: { code: "no_recovery_address" } });
  });
});

describe("create, invite, delete", () => {
  test("an admin creates a user that can sign in; a duplicate is refused with GoTrue's code", async () => {
    const email = uniqueEmail("made");
    const r = await api(admins.admin.opts, "POST", "/users", { email, password: PASSWORD, email_confirm: true, user_metadata: { plan: "pro" } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ email, email_confirmed: true, admin_level: null });
    expect((await signIn(email)).status).toBe(200);
    expect((await api(admins.admin.opts, "POST", "/users", { email, password: PASSWORD })).body.code).toBe("email_exists");
    expect((await api(admins.admin.opts, "POST", "/users", { email: uniqueEmail("weak"), password: "x" })).body.code).toBe("weak_password");
    expect((await api(admins.admin.opts, "POST", "/users", { email: uniqueEmail("x"), role: "service_role" })).status).toBe(400);
  });

  test("an admin invites by email: the invitation arrives", async () => {
    const email = uniqueEmail("invited");
    const r = await api(admins.system_admin.opts, "POST", "/users/invite", { email, data: { team: "ops" } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ email, email_confirmed: false });
    const mail = await smtp.waitFor((m) => m.to.includes(email));
    expect(mail.subject).toBe("You have been invited");
    const elsewhere = await api(service, "POST", "/users/invite", { email: uniqueEmail("nomail") }, noMail);
    expect(elsewhere).toMatchObject({ status: 409, body: { code: "delivery_not_configured" } });
  });

  test("an admin deletes a user: gone, its sessions with it", async () => {
    const u = await endUser();
    const s = await signIn(u.email);
    expect((await api(admins.admin.opts, "DELETE", `/users/${u.id}`)).status).toBe(204);
    expect((await api(service, "GET", `/users/${u.id}`)).status).toBe(404);
    expect((await refresh(s.body.refresh_token)).status).toBe(400);
    expect((await api(admins.admin.opts, "DELETE", `/users/${u.id}`)).status).toBe(404);
  });

  test("a moderator may not create, invite or delete", async () => {
    const u = await endUser();
    for (const [method, path, body] of [
      ["POST", "/users", { email: uniqueEmail("m"), password: PASSWORD }],
      ["POST", "/users/invite", { email: uniqueEmail("m") }],
      ["DELETE", `/users/${u.id}`, undefined],
    ] as const) {
      const r = await api(admins.moderator.opts, method, path, body);
      expect({ path, status: r.status, code: r.body.code }).toEqual({ path, status: 403, code: "forbidden" });
    }
    expect((await api(service, "GET", `/users/${u.id}`)).status).toBe(200);
  });
});

describe("who may do what", () => {
  test("a viewer is refused everything with 403", async () => {
    const u = await endUser();
    for (const [method, path, body] of [
      ["GET", "/users", undefined],
      ["GET", `/users/${u.id}`, undefined],
      ["POST", `/users/${u.id}/ban`, { duration: "1h" }],
      ["POST", `/users/${u.id}/unban`, {}],
      ["POST", `/users/${u.id}/signout`, {}],
      ["POST", `/users/${u.id}/reset-password`, {}],
      ["POST", "/users", { email: uniqueEmail("v"), password: PASSWORD }],
      ["POST", "/users/invite", { email: uniqueEmail("v") }],
      ["DELETE", `/users/${u.id}`, undefined],
    ] as const) {
      const r = await api(admins.viewer.opts, method, path, body);
      expect({ method, path, status: r.status, code: r.body.code }).toEqual({ method, path, status: 403, code: "forbidden" });
    }
    expect((await api(service, "GET", `/users/${u.id}`)).body.user.banned).toBe(false);
  });

  test("nobody acts on an admin at or above their own level; a level below is fair game", async () => {
    const refused = async (who: Level, method: string, path: string, body?: unknown) => {
      const r = await api(admins[who].opts, method, path, body);
      expect({ who, path, status: r.status, code: r.body?.code }).toEqual({ who, path, status: 403, code: "level_not_below_own" });
    };
    // A moderator: not an admin, not another moderator, not itself.
    await refused("moderator", "POST", `/users/${admins.admin.id}/ban`, { duration: "1h" });
    await refused("moderator", "POST", `/users/${admins.admin.id}/signout`, {});
    await refused("moderator", "POST", `/users/${admins.admin.id}/reset-password`, {});
    await refused("moderator", "POST", `/users/${admins.admin.id}/unban`, {});
    await refused("moderator", "POST", `/users/${admins.moderator.id}/ban`, { duration: "1h" });
    // An admin: not a system_admin, not itself.
    await refused("admin", "POST", `/users/${admins.system_admin.id}/signout`, {});
    await refused("admin", "DELETE", `/users/${admins.system_admin.id}`);
    await refused("admin", "DELETE", `/users/${admins.admin.id}`);
    // A system_admin: not another system_admin.
    const other = await t.makeAdmin(uniqueEmail("sys2"), "system_admin");
    await refused("system_admin", "POST", `/users/${other.id}/ban`, { duration: "1h" });
    await refused("system_admin", "DELETE", `/users/${other.id}`);
    expect((await api(service, "GET", `/users/${admins.admin.id}`)).body.user.banned).toBe(false);

    // Below: a moderator signs out a viewer; an admin resets a moderator.
    expect((await api(admins.moderator.opts, "POST", `/users/${admins.viewer.id}/signout`, {})).status).toBe(200);
    expect((await api(admins.admin.opts, "POST", `/users/${admins.moderator.id}/reset-password`, {})).status).toBe(200);
    await smtp.waitFor((m) => m.to.includes(admins.moderator.email));
    // The machine's identity stands above every account.
    expect((await api(service, "DELETE", `/users/${other.id}`)).status).toBe(204);
  });

  test("the last system_admin cannot be deleted: a clean 409", async () => {
    const [count] = await t.sql<{ n: number }[]>`select count(*)::int as n from plinth.admins where level = 'system_admin'`;
    expect(count!.n).toBe(1);
    const r = await api(service, "DELETE", `/users/${admins.system_admin.id}`);
    expect(r).toMatchObject({ status: 409, body: { code: "last_system_admin" } });
    expect((await api(service, "GET", `/users/${admins.system_admin.id}`)).body.user.admin_level).toBe("system_admin");
  });

  test("the audit log names the target user and the admin who acted", async () => {
    const u = await endUser();
    await api(admins.moderator.opts, "POST", `/users/${u.id}/ban`, { duration: "2h" });
    await api(admins.moderator.opts, "POST", `/users/${admins.admin.id}/ban`, { duration: "2h" });
    await api(admins.viewer.opts, "GET", `/users/${u.id}`);
    const made = await api(admins.admin.opts, "POST", "/users", { email: uniqueEmail("audited"), password: PASSWORD });
    const log = (await t.call("GET", "/audit?limit=50", undefined, service)).body as any[];
    const find = (action: string, target: string) => log.find((e) => e.action === action && e.target === target);
    expect(find("users.ban", `user:${u.id}`)).toMatchObject({
      outcome: "ok",
      status: 200,
      actor: { kind: "admin_session", admin: { id: admins.moderator.id, email: admins.moderator.email }, level: "moderator" },
    });
    expect(find("users.ban", `user:${admins.admin.id}`)).toMatchObject({ outcome: "denied", status: 403, error_code: "level_not_below_own" });
    // Refused before the handler ran (the viewer lacks users:read): still recorded with its target.
    expect(log.find((e) => e.action === "users.get" && e.actor.level === "viewer")).toMatchObject({ outcome: "denied", status: 403, target: `user:${u.id}` });
    expect(find("users.create", `user:${made.body.id}`)).toMatchObject({ outcome: "ok", status: 201, actor: { level: "admin" } });
  });
});

test("no answer carries a password hash, a token or a secret", () => {
  expect(answers.length).toBeGreaterThan(50);
  const forbidden =
    /^(encrypted_password|password|password_hash|secret|token|token_hash|access_token|refresh_token|recovery_token|confirmation_token|code_hash)$/;
  const walk = (v: unknown, path: string): void => {
    if (typeof v === "string") expect({ path, hash: /^\$(argon2|2[aby]\$)/.test(v) }).toEqual({ path, hash: false });
    if (!v || typeof v !== "object") return;
    for (const [k, child] of Object.entries(v)) {
      expect({ path, key: k, forbidden: forbidden.test(k) }).toEqual({ path, key: k, forbidden: false });
      walk(child, `${path}.${k}`);
    }
  };
  answers.forEach((a, i) => walk(a, `#${i}`));
});
