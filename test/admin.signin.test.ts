// Admin sign-in: password (by email or username), the same answer and similar time whoever the
// account is, TOTP and recovery codes (the factors the user enrolled through /auth/v1), single-use
// short-lived challenges, production refusing admins without MFA, the per-address limit, and
// emergency-access codes (one use, expiry, audited as security-relevant).
import { beforeAll, describe, expect, test } from "bun:test";
import { issueEmergencyCode } from "../src/admin/signin/emergency.ts";
import { totp } from "./support/auth-totp.ts";
import { adminApp, PASSWORD, uniqueEmail, type AdminApp } from "./support/admin.ts";

// Several tests here make more than five failed attempts on one identifier on purpose (timing,
// burning a challenge); the lockout that would stop them is tested in security.lockout.test.ts.
const t = await adminApp({ auth: { lockout: { maxAttempts: 50 } } });

/** Enrolls and verifies a TOTP factor for `email` through /auth/v1, and makes recovery codes. */
async function enrollTotp(app: AdminApp, email: string): Promise<{ secret: string; codes: string[] }> {
  const anon = { apikey: app.keys.anon };
  const s = await app.call("POST", "/auth/v1/token?grant_type=password", { email, password: PASSWORD }, anon);
  expect(s.status).toBe(200);
  const f = await app.call("POST", "/auth/v1/factors", { factor_type: "totp" }, { ...anon, token: s.body.access_token });
  expect(f.status).toBe(200);
  const ch = await app.call("POST", `/auth/v1/factors/${f.body.id}/challenge`, {}, { ...anon, token: s.body.access_token });
  const v = await app.call(
    "POST",
    `/auth/v1/factors/${f.body.id}/verify`,
    { challenge_id: ch.body.id, code: totp(f.body.totp.secret) },
    { ...anon, token: s.body.access_token },
  );
  expect(v.status).toBe(200);
  const rc = await app.call("POST", "/auth/v1/factors/recovery_codes", {}, { ...anon, token: v.body.access_token });
  expect(rc.status).toBe(200);
  return { secret: f.body.totp.secret, codes: rc.body.codes };
}

describe("password sign-in", () => {
  test("by email or by username", async () => {
    const email = uniqueEmail("login");
    const a = await t.makeAdmin(email, "moderator", ["public.notes"]);
    const username = `adm_${Date.now().toString(36)}`;
    await t.sql`update auth.users set username = ${username} where id = ${a.id}`;
    const byEmail = await t.call("POST", "/auth/login", { email: email.toUpperCase(), password: PASSWORD });
    expect(byEmail.body.admin).toEqual({ id: a.id, email, level: "moderator", tables: ["public.notes"] });
    const byName = await t.call("POST", "/auth/login", { username, password: PASSWORD });
    expect(byName.status).toBe(200);
    expect((await t.call("POST", "/auth/login", { email, username, password: PASSWORD })).status).toBe(400);
    expect((await t.call("POST", "/auth/login", { email })).status).toBe(400);
  });

  test("unknown account, wrong password, a user who is no admin: the same answer, in similar time", async () => {
    const adminEmail = uniqueEmail("timing-admin");
    await t.makeAdmin(adminEmail, "viewer");
    const plainEmail = uniqueEmail("timing-user");
    await t.call("POST", "/auth/v1/signup", { email: plainEmail, password: PASSWORD }, { apikey: t.keys.anon });
    const tries = {
      unknown: { email: uniqueEmail("nobody"), password: PASSWORD },
      wrong: { email: adminEmail, password: "Wrong-password-1" },
      notAdmin: { email: plainEmail, password: PASSWORD },
    };
    const times: Record<string, number[]> = { unknown: [], wrong: [], notAdmin: [] };
    for (let i = 0; i < 7; i++) {
      for (const [k, body] of Object.entries(tries)) {
        const started = performance.now();
        const r = await t.call("POST", "/auth/login", body);
        times[k]!.push(performance.now() - started);
        expect(r).toMatchObject({ status: 400, body: { code: "invalid_credentials", message: "Invalid login credentials" } });
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
    // Each does one argon2 verification (~10 ms or more); no path is a fast "no such user".
    expect(m.unknown! / m.wrong!).toBeGreaterThan(0.5);
    expect(m.unknown! / m.wrong!).toBeLessThan(2);
    expect(m.notAdmin! / m.wrong!).toBeGreaterThan(0.5);
    expect(m.notAdmin! / m.wrong!).toBeLessThan(2);
  });

  test("failed sign-ins are audited as denied, naming the identifier tried", async () => {
    const email = uniqueEmail("audited");
    await t.call("POST", "/auth/login", { email, password: "nope" });
    const audit = (await t.call("GET", "/audit?limit=5", undefined, { token: t.keys.service_role })).body;
    expect(audit.find((a: any) => a.target === `email:${email}`)).toMatchObject({ action: "auth.login", outcome: "denied", error_code: "invalid_credentials" });
  });

  test("attempts per address are limited (the password grant's budget): 429 with retry-after", async () => {
    const limited = await adminApp({ rateLimit: { enabled: true }, auth: { rateLimits: { token: { capacity: 3, perSecond: 0.01 } } } });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await limited.call("POST", "/auth/login", { email: "x@example.com", password: "y" }, { ip: "198.51.100.9" })).status);
    expect(statuses).toEqual([400, 400, 400, 429, 429]);
    const other = await limited.call("POST", "/auth/login", { email: "x@example.com", password: "y" }, { ip: "198.51.100.10" });
    expect(other.status).toBe(400);
  });
});

describe("MFA", () => {
  let email: string;
  let secret: string;
  let codes: string[];

  beforeAll(async () => {
    email = uniqueEmail("mfa");
    await t.makeAdmin(email, "admin");
    ({ secret, codes } = await enrollTotp(t, email));
  });

  const start = async () => {
    const r = await t.call("POST", "/auth/login", { email, password: PASSWORD });
    expect(r.status).toBe(200);
    expect(Object.keys(r.body).sort()).toEqual(["challenge_token", "expires_at", "mfa_required"]);
    expect(r.body.mfa_required).toBe(true);
    expect(r.body.challenge_token).toMatch(/^plinth_ac_/);
    return r.body.challenge_token as string;
  };

  test("a verified TOTP factor: the password answers a challenge; a TOTP code finishes it, once", async () => {
    const challenge = await start();
    // The step /auth/v1 used at enrollment is spent; the next one is within the window.
    const code = totp(secret, 1);
    const r = await t.call("POST", "/auth/mfa", { challenge_token: challenge, code });
    expect(r.status).toBe(200);
    // (Read before toMatchObject: bun's asymmetric matchers write themselves into the object matched.)
    const session = r.body.session_token;
    expect(r.body).toMatchObject({ session_token: expect.stringMatching(/^plinth_as_/), admin: { email, level: "admin" } });
    const who = await t.call("GET", "/auth/session", undefined, { token: session });
    expect(who.status).toBe(200);
    // The challenge is single-use; the code too (its time step is spent).
    expect((await t.call("POST", "/auth/mfa", { challenge_token: challenge, code })).body.code).toBe("invalid_challenge");
    const again = await start();
    expect((await t.call("POST", "/auth/mfa", { challenge_token: again, code })).body.code).toBe("mfa_verification_failed");
  });

  test("a recovery code (made by /auth/v1) finishes it, once", async () => {
    const first = await start();
    const r = await t.call("POST", "/auth/mfa", { challenge_token: first, code: codes[0]!.toUpperCase() });
    expect(r.status).toBe(200);
    const second = await start();
    expect((await t.call("POST", "/auth/mfa", { challenge_token: second, code: codes[0] })).body.code).toBe("mfa_verification_failed");
    expect((await t.call("POST", "/auth/mfa", { challenge_token: second, code: codes[1] })).status).toBe(200);
  });

  test("five wrong codes burn the challenge; an expired one is refused", async () => {
    const c = await start();
    for (let i = 0; i < 5; i++) expect((await t.call("POST", "/auth/mfa", { challenge_token: c, code: "000000" })).body.code).toBe("mfa_verification_failed");
    expect((await t.call("POST", "/auth/mfa", { challenge_token: c, code: codes[2] })).body.code).toBe("invalid_challenge");
    const old = await start();
    await t.sql`update plinth.admin_challenges set expires_at = now() - interval '1 second'`;
    expect((await t.call("POST", "/auth/mfa", { challenge_token: old, code: codes[2] })).body.code).toBe("invalid_challenge");
    expect((await t.call("POST", "/auth/mfa", { challenge_token: "plinth_ac_made-up", code: codes[2] })).body.code).toBe("invalid_challenge");
  });

  test("an admin removed between the password and the code gets no session", async () => {
    const other = uniqueEmail("mfa-removed");
    const a = await t.makeAdmin(other, "viewer");
    const f = await enrollTotp(t, other);
    const r = await t.call("POST", "/auth/login", { email: other, password: PASSWORD });
    await t.sql`delete from plinth.admins where user_id = ${a.id}`;
    expect((await t.call("POST", "/auth/mfa", { challenge_token: r.body.challenge_token, code: f.codes[0] })).status).toBe(400);
  });
});

describe("MFA required (production)", () => {
  test("in production an admin without a verified TOTP factor cannot sign in, and is told how", async () => {
    const prod = await adminApp({ env: "production" });
    const email = uniqueEmail("prod");
    await prod.makeAdmin(email, "system_admin");
    const r = await prod.call("POST", "/auth/login", { email, password: PASSWORD });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe("mfa_enrollment_required");
    expect(r.body.message).toContain("/auth/v1/factors");
    // A wrong password still says nothing more than invalid_credentials.
    expect((await prod.call("POST", "/auth/login", { email, password: "Wrong-password-1" })).body.code).toBe("invalid_credentials");
    // Once enrolled, the challenge path works.
    const { secret } = await enrollTotp(prod, email);
    const c = await prod.call("POST", "/auth/login", { email, password: PASSWORD });
    expect(c.body.mfa_required).toBe(true);
    expect((await prod.call("POST", "/auth/mfa", { challenge_token: c.body.challenge_token, code: totp(secret, 1) })).status).toBe(200);
  });

  test("configurable both ways: admin.requireMfa", async () => {
    const strictDev = await adminApp({ admin: { requireMfa: true } });
    const e1 = uniqueEmail("strict");
    await strictDev.makeAdmin(e1, "viewer");
    expect((await strictDev.call("POST", "/auth/login", { email: e1, password: PASSWORD })).body.code).toBe("mfa_enrollment_required");
    const laxProd = await adminApp({ env: "production", admin: { requireMfa: false } });
    const e2 = uniqueEmail("lax");
    await laxProd.makeAdmin(e2, "viewer");
    expect((await laxProd.call("POST", "/auth/login", { email: e2, password: PASSWORD })).status).toBe(200);
  });
});

describe("emergency access", () => {
  test("a code signs in once as a system_admin; used or expired codes are refused; both ends audited with the reason", async () => {
    const issued = await issueEmergencyCode(t.sql, { ttlSeconds: 900, reason: "locked out after MFA phone loss", osUser: "ops" });
    expect(issued.code).toMatch(/^plinth_ae_/);
    const r = await t.call("POST", "/auth/emergency", { code: issued.code });
    expect(r.status).toBe(200);
    const token = r.body.session_token;
    const expiresAt = r.body.expires_at;
    expect(r.body).toMatchObject({
      session_token: expect.stringMatching(/^plinth_as_/),
      emergency: true,
      admin: { id: null, email: null, level: "system_admin", tables: [] },
    });
    // At most an hour, however long normal sessions last.
    expect(Date.parse(expiresAt) - Date.now()).toBeLessThanOrEqual(3600_000);
    // It can repair: make a new system_admin.
    const fresh = await t.call("POST", "/admins", { email: uniqueEmail("rescued"), level: "system_admin", password: PASSWORD }, { token });
    expect(fresh.status).toBe(201);
    expect(fresh.body.created_via).toBe("emergency");
    expect((await t.call("POST", "/auth/emergency", { code: issued.code })).body.code).toBe("invalid_emergency_code");

    const expired = await issueEmergencyCode(t.sql, { ttlSeconds: 60, reason: "expiry test", osUser: "ops" });
    await t.sql`update plinth.admin_emergency_codes set expires_at = now() - interval '1 second' where id = ${expired.id}`;
    expect((await t.call("POST", "/auth/emergency", { code: expired.code })).body.code).toBe("invalid_emergency_code");

    const audit = (await t.call("GET", "/audit?limit=20", undefined, { token: t.keys.service_role })).body;
    const signin = audit.find((a: any) => a.action === "auth.emergency" && a.outcome === "ok");
    expect(signin).toMatchObject({ security: true, reason: "locked out after MFA phone loss", actor: { kind: "emergency", level: "system_admin" } });
    const made = audit.find((a: any) => a.action === "admins.create" && a.actor.kind === "emergency");
    expect(made).toMatchObject({ outcome: "ok", actor: { level: "system_admin", session_id: expect.any(String) } });
    expect(audit.filter((a: any) => a.action === "auth.emergency" && a.outcome === "denied").length).toBeGreaterThanOrEqual(2);
  });

  test("two redemptions of one code at the same moment: exactly one session", async () => {
    const issued = await issueEmergencyCode(t.sql, { ttlSeconds: 900, reason: "race", osUser: "ops" });
    const results = await Promise.all(Array.from({ length: 5 }, () => t.call("POST", "/auth/emergency", { code: issued.code })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
  });
});
