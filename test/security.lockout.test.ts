// Brute-force protection (src/auth/lockout.ts): every rule, through the real endpoints, against a
// real database and a real SMTP sink. The attacks (many addresses, two nodes, enumeration) are in
// attack.lockout.test.ts.
import { afterAll, describe, expect, test } from "bun:test";
import { adminApp, PASSWORD } from "./support/admin.ts";
import { totp } from "./support/auth-totp.ts";
import { codeOf, linkOf, uniqueEmail } from "./support/auth.ts";
import { startSmtpSink } from "./support/smtp-sink.ts";

const sink = await startSmtpSink();
afterAll(() => sink.stop());
const t = await adminApp({
  smtp: { host: "127.0.0.1", port: sink.port },
  auth: { lockout: { maxAttempts: 5, baseLock: 60, maxLock: 200, burstThreshold: 1000 } },
  security: { alerts: { pollInterval: 600 } },
});
const PW = "Correct-horse-1";
const WRONG = "Wrong-password-1";

const auth = (path: string, body: unknown, opts: { ip?: string; bearer?: string; ua?: string } = {}) =>
  t.call("POST", `/auth/v1${path}`, body, { apikey: t.keys.anon, token: opts.bearer, ip: opts.ip, headers: opts.ua ? { "user-agent": opts.ua } : {} });
const signIn = (body: Record<string, string>, opts: { ip?: string; ua?: string } = {}) => auth("/token?grant_type=password", body, opts);

async function signUp(email = uniqueEmail("lock")): Promise<{ id: string; email: string; access: string }> {
  const r = await auth("/signup", { email, password: PW });
  expect(r.status).toBe(200);
  return { id: r.body.user.id, email, access: r.body.access_token };
}

async function fail(n: number, body: Record<string, string>, opts: { ip?: string } = {}) {
  for (let i = 0; i < n; i++) {
    const r = await signIn(body, opts);
    expect(r.status).toBe(400);
    expect(r.body.error_code).toBe("invalid_credentials");
  }
}

/** Ends a lock now (as time passing would), keeping its count of locks. */
const expire = (key: string) => t.sql`update plinth.auth_lockouts set locked_until = now() - interval '1 second' where key = ${key}`;
const row = async (key: string) => (await t.sql`select * from plinth.auth_lockouts where key = ${key}`)[0];

function expectLocked(r: { status: number; body: any; headers: Headers }, min = 1, max = 60) {
  expect(r.status).toBe(429);
  expect(r.body).toMatchObject({ code: "user_locked", error_code: "user_locked", msg: expect.any(String), message: expect.any(String) });
  expect(r.headers.get("x-sb-error-code")).toBe("user_locked");
  const after = Number(r.headers.get("retry-after"));
  expect(after).toBeGreaterThanOrEqual(min);
  expect(after).toBeLessThanOrEqual(max);
}

describe("password sign-in", () => {
  test("five failures lock the identifier; the right password is refused while locked, 429 user_locked in GoTrue's shape", async () => {
    const u = await signUp();
    await fail(5, { email: u.email, password: WRONG });
    expectLocked(await signIn({ email: u.email, password: PW }), 55, 60);
    // A lockout event names the account and the identifier, never the password.
    const [ev] = await t.sql`select * from plinth.security_events where kind = 'lockout' and user_id = ${u.id}`;
    expect(ev).toMatchObject({ severity: "medium", address: "127.0.0.1" });
    expect(ev!.details).toMatchObject({ identifier: `email:${u.email}`, flow: "password", lock_number: 1 });
    expect(JSON.stringify(ev)).not.toContain(WRONG);
    // Once the lock has passed, the right password works again and forgets the history.
    await expire(`email:${u.email}`);
    expect((await signIn({ email: u.email, password: PW })).status).toBe(200);
    expect(await row(`email:${u.email}`)).toBeUndefined();
  });

  test("the email is counted normalised: case and spaces are no way around the count", async () => {
    const u = await signUp();
    const variants = [u.email, u.email.toUpperCase(), ` ${u.email} `, u.email.replace(/^./, (c) => c.toUpperCase()), u.email];
    for (const v of variants) expect((await signIn({ email: v, password: WRONG })).status).toBe(400);
    expectLocked(await signIn({ email: u.email, password: PW }));
  });

  test("locks double with each further lock, up to auth.lockout.maxLock", async () => {
    const u = await signUp();
    const key = `email:${u.email}`;
    const lengths: number[] = [];
    for (let lock = 0; lock < 4; lock++) {
      await fail(5, { email: u.email, password: WRONG });
      const r = await signIn({ email: u.email, password: PW });
      expect(r.status).toBe(429);
      lengths.push(Number(r.headers.get("retry-after")));
      await expire(key);
    }
    // 60, 120, 240 → capped at 200 (maxLock), 200.
    expect(lengths[0]).toBeWithin(55, 61);
    expect(lengths[1]).toBeWithin(115, 121);
    expect(lengths[2]).toBeWithin(195, 201);
    expect(lengths[3]).toBeWithin(195, 201);
    expect((await row(key))!.locks).toBe(4);
  });

  test("a success before the limit forgets the failures; failures outside the window do not count", async () => {
    const u = await signUp();
    const key = `email:${u.email}`;
    await fail(4, { email: u.email, password: WRONG });
    expect((await signIn({ email: u.email, password: PW })).status).toBe(200);
    await fail(4, { email: u.email, password: WRONG });
    expect((await signIn({ email: u.email, password: PW })).status).toBe(200);
    // Four failures, then the window (900 s by default) passes: the fifth starts a new count.
    await fail(4, { email: u.email, password: WRONG });
    await t.sql`update plinth.auth_lockouts set window_started_at = now() - interval '901 seconds' where key = ${key}`;
    await fail(1, { email: u.email, password: WRONG });
    expect((await row(key))!.failures).toBe(1);
    expect((await signIn({ email: u.email, password: PW })).status).toBe(200);
  });

  test("username and phone sign-ins are counted under their own normalised identifier", async () => {
    const u = await signUp();
    const username = `Lock_${Date.now().toString(36)}`;
    await t.sql`update auth.users set username = ${username.toLowerCase()} where id = ${u.id}`;
    for (let i = 0; i < 5; i++) expect((await signIn({ username: i % 2 ? username : username.toUpperCase(), password: WRONG })).status).toBe(400);
    expectLocked(await signIn({ username, password: PW }));
    expect(await row(`username:${username.toLowerCase()}`)).toMatchObject({ locks: 1 });
    // The email is another identifier: not locked by the username's failures.
    expect((await signIn({ email: u.email, password: PW })).status).toBe(200);

    const phone = "+233241234567";
    const created = await t.call(
      "POST",
      "/auth/v1/admin/users",
      { phone, password: PW, phone_confirm: true },
      { token: t.keys.service_role, apikey: t.keys.anon },
    );
    expect(created.status).toBe(200);
    for (const v of ["+233241234567", "233241234567", "+233 24 123 4567", "+233241234567", "+233241234567"]) {
      expect((await signIn({ phone: v, password: WRONG })).status).toBe(400);
    }
    expectLocked(await signIn({ phone, password: PW }));
    expect(await row("phone:233241234567")).toMatchObject({ locks: 1 });
  });
});

describe("one-time codes and links", () => {
  test("wrong typed codes are counted and lock the identifier; a locked identifier refuses codes and passwords", async () => {
    const u = await signUp();
    sink.clear();
    expect((await auth("/otp", { email: u.email, create_user: false })).status).toBe(200);
    const mail = await sink.waitFor((m) => m.to.includes(u.email));
    const code = codeOf(mail.text);
    const wrong = code === "000000" ? "111111" : "000000";
    for (let i = 0; i < 5; i++) {
      const r = await auth("/verify", { type: "email", email: u.email, token: wrong });
      expect(r.body.error_code).toBe("otp_expired");
    }
    const [ev] = await t.sql`select details from plinth.security_events where kind = 'lockout' and details->>'identifier' = ${`email:${u.email}`}`;
    expect(ev!.details.flow).toBe("otp");
    expectLocked(await auth("/verify", { type: "email", email: u.email, token: code }));
    expectLocked(await signIn({ email: u.email, password: PW }));
  });

  test("a magic-link sign-in through the account's own mailbox clears the lock", async () => {
    const u = await signUp();
    await fail(5, { email: u.email, password: WRONG });
    expectLocked(await signIn({ email: u.email, password: PW }));
    sink.clear();
    // Asking for a link is allowed while locked (it goes to the owner's mailbox).
    expect((await auth("/otp", { email: u.email, create_user: false })).status).toBe(200);
    const link = linkOf(await sink.waitFor((m) => m.to.includes(u.email)));
    const v = await auth("/verify", { type: "magiclink", token_hash: link.searchParams.get("token") });
    expect(v.status).toBe(200);
    expect(v.body.user.id).toBe(u.id);
    expect(await row(`email:${u.email}`)).toBeUndefined();
    expect((await signIn({ email: u.email, password: PW })).status).toBe(200);
  });

  test("a password reset through the mailbox clears the lock, and the new password signs in", async () => {
    const u = await signUp();
    await fail(5, { email: u.email, password: WRONG });
    sink.clear();
    expect((await auth("/recover", { email: u.email })).status).toBe(200);
    const link = linkOf(await sink.waitFor((m) => m.to.includes(u.email)));
    const v = await auth("/verify", { type: "recovery", token_hash: link.searchParams.get("token") });
    expect(v.status).toBe(200);
    const NEW = "Brand-new-password-2";
    const put = await t.call("PUT", "/auth/v1/user", { password: NEW }, { apikey: t.keys.anon, token: v.body.access_token });
    expect(put.status).toBe(200);
    expect((await signIn({ email: u.email, password: NEW })).status).toBe(200);
  });

  test("a wrong link token counts against the address only (a link names no identifier)", async () => {
    const ip = "198.51.100.77";
    for (let i = 0; i < 3; i++) expect((await auth("/verify", { type: "magiclink", token_hash: "x".repeat(43) }, { ip })).status).toBe(403);
    expect(await row(`address:${ip}`)).toMatchObject({ failures: 3, locked_until: null });
  });
});

describe("second factors", () => {
  async function withTotp() {
    const u = await signUp();
    const f = await auth("/factors", { factor_type: "totp", friendly_name: "phone" }, { bearer: u.access });
    expect(f.status).toBe(200);
    const ch = await auth(`/factors/${f.body.id}/challenge`, {}, { bearer: u.access });
    const ok = await auth(`/factors/${f.body.id}/verify`, { challenge_id: ch.body.id, code: totp(f.body.totp.secret) }, { bearer: u.access });
    expect(ok.status).toBe(200);
    // A fresh aal1 session, as after a password sign-in on another device.
    const aal1 = (await signIn({ email: u.email, password: PW })).body.access_token as string;
    return { ...u, factorId: f.body.id as string, secret: f.body.totp.secret as string, aal1, aal2: ok.body.access_token as string };
  }

  test("wrong TOTP codes lock the user's second factor; the right code is refused while locked", async () => {
    const u = await withTotp();
    for (let i = 0; i < 5; i++) {
      // A new challenge each time: per-challenge limits are not what stops this.
      const ch = await auth(`/factors/${u.factorId}/challenge`, {}, { bearer: u.aal1 });
      const bad = totp(u.secret, 7);
      const r = await auth(`/factors/${u.factorId}/verify`, { challenge_id: ch.body.id, code: bad }, { bearer: u.aal1 });
      expect(r.body.error_code).toBe("mfa_verification_failed");
    }
    const ch = await auth(`/factors/${u.factorId}/challenge`, {}, { bearer: u.aal1 });
    expectLocked(await auth(`/factors/${u.factorId}/verify`, { challenge_id: ch.body.id, code: totp(u.secret) }, { bearer: u.aal1 }));
    expect(await row(`user:${u.id}`)).toMatchObject({ locks: 1 });
  });

  test("recovery codes: wrong ones count and lock; a used one raises recovery_code_used", async () => {
    const u = await withTotp();
    const gen = await auth("/factors/recovery_codes", {}, { bearer: u.aal2 });
    expect(gen.status).toBe(200);
    const codes: string[] = gen.body.codes;
    const used = await auth("/factors/recovery", { code: codes[0] }, { bearer: u.aal1 });
    expect(used.status).toBe(200);
    const [ev] = await t.sql`select * from plinth.security_events where kind = 'recovery_code_used' and user_id = ${u.id}`;
    expect(ev).toMatchObject({ severity: "medium" });
    const aal1 = (await signIn({ email: u.email, password: PW })).body.access_token as string;
    for (const bad of ["aaaa-aaaa", "not a code", "bbbb-bbbb", "cccc-cccc", "dddd-dddd"]) {
      expect((await auth("/factors/recovery", { code: bad }, { bearer: aal1 })).body.error_code).toBe("mfa_verification_failed");
    }
    expectLocked(await auth("/factors/recovery", { code: codes[1] }, { bearer: aal1 }));
  });
});

describe("admin sign-in and the admin API", () => {
  test("the admin sign-in counts under the same identifier; admins list and clear locks", async () => {
    const email = uniqueEmail("lockadmin");
    await t.makeAdmin(email, "viewer");
    for (let i = 0; i < 5; i++) expect((await t.call("POST", "/auth/login", { email, password: WRONG })).body.code).toBe("invalid_credentials");
    const locked = await t.call("POST", "/auth/login", { email, password: PASSWORD });
    expect(locked.status).toBe(429);
    expect(locked.body.code).toBe("user_locked");
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
    // The audit log counts a locked sign-in among the denied ones, like a wrong password.
    const outcomes =
      await t.sql`select outcome, error_code from plinth.audit_log where action = 'auth.login' and error_code in ('user_locked', 'invalid_credentials') order by id desc limit 6`;
    expect(outcomes.map((r) => r.outcome)).toEqual(Array(6).fill("denied"));
    // The same user on /auth/v1 is locked too: one identifier, one count.
    expectLocked(await signIn({ email, password: PASSWORD }));

    const list = await t.call("GET", "/security/locks", undefined, { token: t.keys.service_role });
    expect(list.status).toBe(200);
    const mine = list.body.locks.find((l: any) => l.identifier === `email:${email}`);
    expect(mine).toMatchObject({ kind: "identifier", locked: true, locks: 1, last_address: "127.0.0.1" });
    expect(new Date(mine.locked_until).getTime()).toBeGreaterThan(Date.now());

    // A viewer cannot clear it; the service key (or an admin) can, by the identifier as listed.
    const viewer = await t.call("DELETE", `/security/locks/${encodeURIComponent(`email:${email}`)}`, undefined, { token: await signInOther("viewer") });
    expect(viewer.status).toBe(403);
    const cleared = await t.call("DELETE", `/security/locks/${encodeURIComponent(`email:${email}`)}`, undefined, { token: t.keys.service_role });
    expect(cleared.status).toBe(204);
    expect((await t.call("DELETE", `/security/locks/${encodeURIComponent(email.toUpperCase())}`, undefined, { token: t.keys.service_role })).status).toBe(404);
    expect((await t.call("POST", "/auth/login", { email, password: PASSWORD })).status).toBe(200);
    // The clearing is audited.
    const [a] = await t.sql`select action, target, outcome from plinth.audit_log where action = 'security.locks.clear' and target = ${`lock:email:${email}`}`;
    expect(a).toMatchObject({ outcome: "ok" });
  });

  test("GET /security/locks shows only current locks unless all=true; bad parameters are 400", async () => {
    const u = await signUp();
    await fail(2, { email: u.email, password: WRONG });
    const locked = await t.call("GET", "/security/locks", undefined, { token: t.keys.service_role });
    expect(locked.body.locks.some((l: any) => l.identifier === `email:${u.email}`)).toBe(false);
    const all = await t.call("GET", "/security/locks?all=true", undefined, { token: t.keys.service_role });
    expect(all.body.locks.find((l: any) => l.identifier === `email:${u.email}`)).toMatchObject({ failures: 2, locked: false, locked_until: null });
    expect((await t.call("GET", "/security/locks?all=maybe", undefined, { token: t.keys.service_role })).body.code).toBe("validation_failed");
    expect((await t.call("GET", "/security/locks?limit=-1", undefined, { token: t.keys.service_role })).body.code).toBe("validation_failed");
  });
});

async function signInOther(level: "viewer"): Promise<string> {
  const email = uniqueEmail(`other-${level}`);
  await t.makeAdmin(email, level);
  return t.login(email);
}
