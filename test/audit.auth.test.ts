// The auth API's audit entries (src/auth/audit.ts): sign-ups, sign-ins and their failures, password
// changes and reset requests, MFA enrolment and removal, sign-outs and every /auth/v1/admin call —
// each one row with actor, action, target, outcome, address and time, chained like the rest, and
// never a password, token or code.
import { describe, expect, test } from "bun:test";
import { verifyAuditChain } from "../src/admin/audit/verify.ts";
import { adminApp, uniqueEmail } from "./support/admin.ts";

const t = await adminApp({ auth: { autoconfirm: true } } as never);
const PASSWORD = "Audit-user-pass-1";
const NEW_PASSWORD = "Audit-user-pass-2-changed";
const IP = "203.0.113.77";

const auth = (method: string, path: string, body?: unknown, opts: { token?: string; apikey?: string } = {}) =>
  t.call(method, `/auth/v1${path}`, body, { apikey: opts.apikey ?? t.keys.anon, token: opts.token ?? null, ip: IP });

async function last(action: string) {
  const [r] = await t.sql`select * from plinth.audit_log where action = ${action} order by id desc limit 1`;
  return r as any;
}
const count = async () => Number((await t.sql`select count(*) from plinth.audit_log`)[0]!.count);

describe("end users' flows", () => {
  const email = uniqueEmail("audited");
  let userId = "";
  let access = "";
  let refresh = "";

  test("sign-up: one entry naming the new account, the identifier and the address", async () => {
    const r = await auth("POST", "/signup", { email, password: PASSWORD });
    expect(r.status).toBe(200);
    userId = r.body.user?.id ?? r.body.id;
    const e = await last("end_user.signup");
    expect(e).toMatchObject({ outcome: "ok", actor_sub: userId, target: `email:${email}`, client_ip: IP, status: 200 });
    expect(e.at).toBeInstanceOf(Date);
  });

  test("password sign-in: success names the account; a failure names the identifier; one row each", async () => {
    const before = await count();
    const ok = await auth("POST", "/token?grant_type=password", { email, password: PASSWORD });
    expect(ok.status).toBe(200);
    access = ok.body.access_token;
    refresh = ok.body.refresh_token;
    expect(await count()).toBe(before + 1);
    expect(await last("end_user.signin.password")).toMatchObject({ outcome: "ok", actor_sub: userId, target: `email:${email}`, client_ip: IP });

    const bad = await auth("POST", "/token?grant_type=password", { email: email.toUpperCase(), password: "wrong-password" });
    expect(bad.status).toBe(400);
    expect(await last("end_user.signin.password")).toMatchObject({
      outcome: "denied",
      error_code: "invalid_credentials",
      actor_sub: null,
      target: `email:${email}`,
      client_ip: IP,
      status: 400,
    });
    await auth("POST", "/token?grant_type=password", { email: "nobody-here@example.com", password: "x" });
    expect(await last("end_user.signin.password")).toMatchObject({ outcome: "denied", target: "email:nobody-here@example.com" });
  });

  test("a code or link sign-in that fails is a denied end_user.verify.<type> entry naming the identifier", async () => {
    const r = await auth("POST", "/verify", { type: "email", email, token: "123456" });
    expect(r.status).toBe(403);
    expect(await last("end_user.verify.email")).toMatchObject({ outcome: "denied", error_code: "otp_expired", target: `email:${email}`, actor_sub: null });
    const all = await t.sql<{ j: string }[]>`select row_to_json(a)::text as j from plinth.audit_log a where action like 'end_user.verify.%'`;
    expect(all.some((x) => x.j.includes("123456"))).toBe(false);
  });

  test("MFA enrol and unenrol, flagged security-relevant when removed", async () => {
    const en = await auth("POST", "/factors", { factor_type: "totp", friendly_name: "phone" }, { token: access });
    expect(en.status).toBe(200);
    expect(await last("end_user.mfa.enroll")).toMatchObject({ outcome: "ok", actor_sub: userId, actor_role: "authenticated" });
    const un = await auth("DELETE", `/factors/${en.body.id}`, undefined, { token: access });
    expect(un.status).toBe(200);
    expect(await last("end_user.mfa.unenroll")).toMatchObject({ outcome: "ok", actor_sub: userId, security: true });
  });

  test("password change and reset request", async () => {
    const ch = await auth("PUT", "/user", { password: NEW_PASSWORD }, { token: access });
    expect(ch.status).toBe(200);
    expect(await last("end_user.password.change")).toMatchObject({ outcome: "ok", actor_sub: userId, security: true });
    await auth("POST", "/recover", { email });
    expect(await last("end_user.password.reset_request")).toMatchObject({ target: `email:${email}`, client_ip: IP });
  });

  test("sign-out (sessions revoked)", async () => {
    const r = await auth("POST", "/logout", undefined, { token: access });
    expect(r.status).toBe(204);
    expect(await last("end_user.logout")).toMatchObject({ outcome: "ok", actor_sub: userId });
  });

  test("no password, token or code ever reaches the log", async () => {
    const all = await t.sql<{ j: string }[]>`select row_to_json(a)::text as j from plinth.audit_log a`;
    const text = all.map((r) => r.j).join("\n");
    for (const secret of [PASSWORD, NEW_PASSWORD, "wrong-password", access, refresh, access.split(".")[2]!]) {
      expect(text.includes(secret)).toBe(false);
    }
  });
});

describe("the auth admin endpoints", () => {
  test("every /auth/v1/admin call is an entry, refused ones too", async () => {
    const email = uniqueEmail("by-admin");
    const created = await auth(
      "POST",
      "/admin/users",
      { email, password: PASSWORD, email_confirm: true },
      { token: t.keys.service_role, apikey: t.keys.service_role },
    );
    expect(created.status).toBe(200);
    expect(await last("auth_admin.users.create")).toMatchObject({
      outcome: "ok",
      actor_role: "service_role",
      actor_kind: "service_key",
      target: `email:${email}`,
      security: true,
    });
    await auth("GET", `/admin/users/${created.body.id}`, undefined, { token: t.keys.service_role, apikey: t.keys.service_role });
    expect(await last("auth_admin.users.get")).toMatchObject({ outcome: "ok", target: `user:${created.body.id}` });
    await auth("PUT", `/admin/users/${created.body.id}`, { ban_duration: "1h" }, { token: t.keys.service_role, apikey: t.keys.service_role });
    expect(await last("auth_admin.users.update")).toMatchObject({ outcome: "ok", target: `user:${created.body.id}` });
    await auth("GET", "/admin/users?page=1", undefined, { token: t.keys.service_role, apikey: t.keys.service_role });
    expect(await last("auth_admin.users.list")).toMatchObject({ outcome: "ok" });
    // An anon key is refused, and the refusal is on record.
    const refused = await auth("DELETE", `/admin/users/${created.body.id}`);
    expect(refused.status).toBe(403);
    expect(await last("auth_admin.users.delete")).toMatchObject({ outcome: "denied", actor_role: "anon", target: `user:${created.body.id}`, client_ip: IP });
    const gone = await auth("DELETE", `/admin/users/${created.body.id}`, {}, { token: t.keys.service_role, apikey: t.keys.service_role });
    expect(gone.status).toBe(200);
    expect(await last("auth_admin.users.delete")).toMatchObject({ outcome: "ok" });
  });

  test("the whole log still verifies", async () => {
    expect(await verifyAuditChain(t.sql)).toMatchObject({ ok: true });
  });
});
