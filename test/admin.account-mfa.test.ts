// An admin's own TOTP enrolment through the admin API (/account/mfa…), and the enrolment at sign-in
// where MFA is required (/auth/mfa/enroll…): real TOTP codes (test/support/auth-totp.ts), wrong and
// replayed codes, enrolling while enrolled, unenrolling with a fresh code, only ever one's own
// account, one audit record per call with no secret in it, and sign-in asking for the factor after.
import { describe, expect, test } from "bun:test";
import { totp } from "./support/auth-totp.ts";
import { adminApp, PASSWORD, uniqueEmail, type AdminApp } from "./support/admin.ts";

const t = await adminApp({ auth: { lockout: { maxAttempts: 50 } } });

/** A six-digit code that is none of the codes the window accepts now. */
function wrongCode(secret: string): string {
  const near = new Set([-1, 0, 1].map((o) => totp(secret, o)));
  for (let i = 0; ; i++) {
    const c = String(123456 + i * 7919).slice(-6);
    if (!near.has(c)) return c;
  }
}

/** Calls and checks that exactly one audit record of `action` was written for it. */
async function audited(app: AdminApp, action: string, method: string, path: string, body?: unknown, token?: string) {
  const [before] = await app.sql<{ n: number }[]>`select count(*)::int as n from plinth.audit_log where action = ${action}`;
  const r = await app.call(method, path, body, token ? { token } : {});
  const [after] = await app.sql<{ n: number }[]>`select count(*)::int as n from plinth.audit_log where action = ${action}`;
  expect(after!.n - before!.n).toBe(1);
  return r;
}

describe("enrolment by a signed-in admin", () => {
  test("a viewer enrols its own factor; wrong, replayed and foreign codes are refused; sign-in then asks for it; unenrol needs a fresh code", async () => {
    const email = uniqueEmail("mfa-viewer");
    const me = await t.makeAdmin(email, "viewer");
    const token = await t.login(email);
    expect((await audited(t, "account.mfa.get", "GET", "/account/mfa", undefined, token)).body).toMatchObject({ enrolled: false, recovery_codes_left: 0 });

    const e = await audited(t, "account.mfa.enroll", "POST", "/account/mfa/enroll", {}, token);
    expect(e.status).toBe(200);
    const { factor_id, secret, otpauth_uri } = e.body;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(otpauth_uri).toBe(`otpauth://totp/Plinth:${encodeURIComponent(email)}?secret=${secret}&issuer=Plinth`);
    // At rest: encrypted, bound to the factor; nowhere in the audit log.
    const [row] = await t.sql<{ secret: string; status: string }[]>`select secret, status::text from auth.mfa_factors where id = ${factor_id}`;
    expect(row!.status).toBe("unverified");
    expect(row!.secret.startsWith("v1:")).toBe(true);
    expect(row!.secret).not.toContain(secret);
    const [leak] = await t.sql<{ n: number }[]>`select count(*)::int as n from plinth.audit_log where audit_log::text like ${`%${secret}%`}`;
    expect(leak!.n).toBe(0);

    // Only one's own account: no field names another.
    expect((await t.call("POST", "/account/mfa/verify", { factor_id, code: totp(secret), user_id: me.id }, { token })).status).toBe(400);
    // Another admin's pending factor is not found through this account.
    const otherEmail = uniqueEmail("mfa-other");
    await t.makeAdmin(otherEmail, "admin");
    const otherToken = await t.login(otherEmail);
    expect((await t.call("POST", "/account/mfa/verify", { factor_id, code: totp(secret) }, { token: otherToken })).status).toBe(404);

    const wrong = await audited(t, "account.mfa.verify", "POST", "/account/mfa/verify", { factor_id, code: wrongCode(secret) }, token);
    expect(wrong.status).toBe(400);
    expect(wrong.body.code).toBe("mfa_verification_failed");
    expect((await t.call("POST", "/account/mfa/verify", { factor_id, code: "12345x" }, { token })).body.code).toBe("mfa_verification_failed");
    expect((await t.call("POST", "/account/mfa/verify", { factor_id: "not-a-uuid", code: totp(secret) }, { token })).status).toBe(404);

    const v = await audited(t, "account.mfa.verify", "POST", "/account/mfa/verify", { factor_id, code: totp(secret, -1) }, token);
    expect(v.status).toBe(200);
    expect(v.body.recovery_codes).toHaveLength(10);
    for (const c of v.body.recovery_codes) expect(c).toMatch(/^[a-z2-9]{4}-[a-z2-9]{4}$/);
    const [codes] = await t.sql<{ n: number; plain: number }[]>`
      select count(*)::int as n, count(*) filter (where code_hash = any(${v.body.recovery_codes}))::int as plain from auth.mfa_recovery_codes where user_id = ${me.id}`;
    expect(codes).toEqual({ n: 10, plain: 0 });
    expect((await t.call("GET", "/account/mfa", undefined, { token })).body).toMatchObject({ enrolled: true, factor_id, recovery_codes_left: 10 });
    expect((await t.call("GET", "/admins/" + me.id, undefined, { token: otherToken })).body.mfa).toBe(true);

    // Verifying again, or enrolling while enrolled: refused.
    expect((await t.call("POST", "/account/mfa/verify", { factor_id, code: totp(secret) }, { token })).body.code).toBe("mfa_already_enrolled");
    const again = await audited(t, "account.mfa.enroll", "POST", "/account/mfa/enroll", {}, token);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("mfa_already_enrolled");

    // Sign-in now needs the factor; the code used to enrol is spent (replay), the next one works.
    const l = await t.call("POST", "/auth/login", { email, password: PASSWORD });
    expect(l.body.mfa_required).toBe(true);
    expect((await t.call("POST", "/auth/mfa", { challenge_token: l.body.challenge_token, code: totp(secret, -1) })).body.code).toBe("mfa_verification_failed");
    const m = await t.call("POST", "/auth/mfa", { challenge_token: l.body.challenge_token, code: totp(secret, 0) });
    expect(m.status).toBe(200);

    // Unenrol: a replayed code is refused, a fresh one (or a recovery code) removes factor and codes.
    expect((await t.call("DELETE", "/account/mfa", { code: totp(secret, 0) }, { token })).body.code).toBe("mfa_verification_failed");
    expect((await t.call("DELETE", "/account/mfa", {}, { token })).status).toBe(400);
    const u = await audited(t, "account.mfa.unenroll", "DELETE", "/account/mfa", { code: totp(secret, 1) }, token);
    expect(u.status).toBe(204);
    const [left] = await t.sql<{ f: number; c: number }[]>`
      select (select count(*)::int from auth.mfa_factors where user_id = ${me.id}) as f, (select count(*)::int from auth.mfa_recovery_codes where user_id = ${me.id}) as c`;
    expect(left).toEqual({ f: 0, c: 0 });
    const [ev] = await t.sql<{ n: number }[]>`select count(*)::int as n from plinth.security_events where kind = 'mfa_disabled' and user_id = ${me.id}`;
    expect(ev!.n).toBe(1);
    expect((await t.call("DELETE", "/account/mfa", { code: totp(secret, 1) }, { token })).body.code).toBe("mfa_not_enrolled");
    expect((await t.call("POST", "/auth/login", { email, password: PASSWORD })).body.session_token).toBeString();
  });

  test("a service key has no account to enrol; no session, no enrolment", async () => {
    const r = await t.call("POST", "/account/mfa/enroll", {}, { token: t.keys.service_role, apikey: t.keys.service_role });
    expect(r.status).toBe(400);
    expect((await t.call("POST", "/account/mfa/enroll", {})).status).toBe(401);
  });
});

describe("enrolment at sign-in where MFA is required", () => {
  test("the password earns an enrolment token; enrol, verify, get a session and recovery codes; then sign-in asks for the code", async () => {
    const strict = await adminApp({ admin: { requireMfa: true }, auth: { lockout: { maxAttempts: 50 } } }, t.database);
    const email = uniqueEmail("forced");
    await strict.makeAdmin(email, "admin");
    const l = await strict.call("POST", "/auth/login", { email, password: PASSWORD });
    expect(l.status).toBe(403);
    expect(l.body.code).toBe("mfa_enrollment_required");
    const token = l.body.details.enrollment_token as string;
    expect(token).toMatch(/^plinth_/);
    // A wrong password earns nothing.
    const bad = await strict.call("POST", "/auth/login", { email, password: "Wrong-password-1" });
    expect(bad.body.code).toBe("invalid_credentials");
    expect(bad.body.details).toBeUndefined();
    // The token is no sign-in challenge while nothing is enrolled.
    expect((await strict.call("POST", "/auth/mfa", { challenge_token: token, code: "123456" })).status).toBe(400);
    // Forged tokens.
    expect((await strict.call("POST", "/auth/mfa/enroll", { enrollment_token: "plinth_ac_forged" })).body.code).toBe("invalid_challenge");
    expect((await strict.call("POST", "/auth/mfa/enroll", { enrollment_token: 42 })).status).toBe(400);

    const e = await audited(strict, "auth.mfa_enroll", "POST", "/auth/mfa/enroll", { enrollment_token: token });
    expect(e.status).toBe(200);
    const { factor_id, secret } = e.body;
    const w = await strict.call("POST", "/auth/mfa/enroll/verify", { enrollment_token: token, factor_id, code: wrongCode(secret) });
    expect(w.body.code).toBe("mfa_verification_failed");
    const v = await audited(strict, "auth.mfa_enroll_verify", "POST", "/auth/mfa/enroll/verify", {
      enrollment_token: token,
      factor_id,
      code: totp(secret, -1),
    });
    expect(v.status).toBe(200);
    expect(v.body.session_token).toMatch(/^plinth_as_/);
    expect(v.body.recovery_codes).toHaveLength(10);
    expect(v.body.admin).toMatchObject({ email, level: "admin" });
    const [rec] = await strict.sql<{ admin_email: string; outcome: string; security: boolean }[]>`
      select admin_email, outcome, security from plinth.audit_log where action = 'auth.mfa_enroll_verify' order by id desc limit 1`;
    expect(rec).toEqual({ admin_email: email, outcome: "ok", security: true });
    expect((await strict.call("GET", "/auth/session", undefined, { token: v.body.session_token })).status).toBe(200);
    // Spent: the token enrols nothing more.
    expect((await strict.call("POST", "/auth/mfa/enroll", { enrollment_token: token })).body.code).toBe("invalid_challenge");
    expect((await strict.call("POST", "/auth/mfa/enroll/verify", { enrollment_token: token, factor_id, code: totp(secret, 0) })).body.code).toBe(
      "invalid_challenge",
    );
    // The next sign-in is the ordinary challenge.
    const c = await strict.call("POST", "/auth/login", { email, password: PASSWORD });
    expect(c.body.mfa_required).toBe(true);
    expect((await strict.call("POST", "/auth/mfa", { challenge_token: c.body.challenge_token, code: totp(secret, 0) })).status).toBe(200);
  });

  test("a token burns after five wrong codes", async () => {
    const strict = await adminApp({ admin: { requireMfa: true }, auth: { lockout: { maxAttempts: 50 } } }, t.database);
    const email = uniqueEmail("forced-burn");
    await strict.makeAdmin(email, "viewer");
    const token = (await strict.call("POST", "/auth/login", { email, password: PASSWORD })).body.details.enrollment_token;
    const { factor_id, secret } = (await strict.call("POST", "/auth/mfa/enroll", { enrollment_token: token })).body;
    for (let i = 0; i < 5; i++) {
      expect((await strict.call("POST", "/auth/mfa/enroll/verify", { enrollment_token: token, factor_id, code: wrongCode(secret) })).body.code).toBe(
        "mfa_verification_failed",
      );
    }
    expect((await strict.call("POST", "/auth/mfa/enroll/verify", { enrollment_token: token, factor_id, code: totp(secret) })).body.code).toBe(
      "invalid_challenge",
    );
  });
});
