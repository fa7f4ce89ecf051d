// The auth API's ugly cases, over raw HTTP: forged, expired and reused tokens, brute-forced codes,
// concurrent refreshes, malformed and huge bodies, injection-looking input, rate limits, and the
// database side (triggers on auth.users, hashes at rest).
import { afterAll, describe, expect, test } from "bun:test";
import { signJwt } from "../src/lib/jwt.ts";
import { call, claimsOf, codeOf, inProcessAuth, uniqueEmail, uniquePhone } from "./support/auth.ts";
import { tokenFor } from "./support/app.ts";
import { startTestServer } from "./support/server.ts";
import { startSmtpSink } from "./support/smtp-sink.ts";

const smtp = await startSmtpSink();
// Per-code attempt limits are tested here with as many wrong codes as the lockout allows; the
// lockout itself is tested in security.lockout.test.ts.
const srv = await startTestServer({
  smtp: { host: "127.0.0.1", port: smtp.port },
  auth: { autoconfirm: true, enableAnonymous: true, lockout: { maxAttempts: 50 } },
});
const sql = srv.database.db.sql;
const anon = srv.keys.anon;
const service = srv.keys.service_role;
afterAll(() => smtp.stop());

async function signUp(body: Record<string, unknown>) {
  return call(srv.url, "POST", "/signup", { key: anon, body });
}

async function session(email = uniqueEmail()) {
  const res = await signUp({ email, password: "correct horse 1" });
  expect(res.status).toBe(200);
  return res.body as { access_token: string; refresh_token: string; user: { id: string } };
}

const refresh = (token: unknown) => call(srv.url, "POST", "/token?grant_type=refresh_token", { key: anon, body: { refresh_token: token } });

describe("wire shape", () => {
  test("errors carry code, message, x-sb-error-code and the API version", async () => {
    const res = await call(srv.url, "POST", "/token?grant_type=password", { key: anon, body: { email: uniqueEmail(), password: "x" } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: "invalid_credentials", message: "Invalid login credentials", error_code: "invalid_credentials" });
    expect(res.headers.get("x-sb-error-code")).toBe("invalid_credentials");
    expect(res.headers.get("x-supabase-api-version")).toBe("2024-01-01");
  });

  test("the session JSON has GoTrue's fields", async () => {
    const s = (await signUp({ email: uniqueEmail(), password: "correct horse 1" })).body;
    expect(Object.keys(s).sort()).toEqual(["access_token", "expires_at", "expires_in", "refresh_token", "token_type", "user"]);
    expect(s.expires_in).toBe(3600);
    for (const k of ["id", "aud", "role", "email", "phone", "app_metadata", "user_metadata", "identities", "created_at", "updated_at", "is_anonymous"]) {
      expect(s.user).toHaveProperty(k);
    }
    expect(s.user.identities[0]).toMatchObject({ provider: "email", user_id: s.user.id, id: s.user.id });
    expect(s.user.identities[0].identity_id).toBeString();
  });

  test("unsupported grant", async () => {
    const res = await call(srv.url, "POST", "/token?grant_type=magic", { key: anon, body: {} });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("unsupported_grant_type");
  });

  test("missing apikey is refused by the gateway; /verify is open", async () => {
    const res = await fetch(`${srv.url}/auth/v1/user`);
    expect(res.status).toBe(401);
    const v = await fetch(`${srv.url}/auth/v1/verify?token=x&type=signup`, { redirect: "manual" });
    expect(v.status).toBe(303);
    expect(new URLSearchParams(new URL(v.headers.get("location")!).hash.slice(1)).get("error_code")).toBe("otp_expired");
  });
});

describe("tokens", () => {
  test("GET /user with the anon key, a forged token, an expired token, a token without session", async () => {
    const s = await session();
    expect((await call(srv.url, "GET", "/user", { key: anon })).status).toBe(403);
    const forged = await signJwt(
      { sub: s.user.id, role: "authenticated", session_id: crypto.randomUUID(), exp: Math.floor(Date.now() / 1000) + 60 },
      "another-secret-that-is-long-enough-xxxxx",
    );
    expect((await call(srv.url, "GET", "/user", { key: anon, bearer: forged })).status).toBe(401);
    const expired = await tokenFor({ sub: s.user.id, role: "authenticated", session_id: crypto.randomUUID() }, srv.secret, -3600);
    const e = await call(srv.url, "GET", "/user", { key: anon, bearer: expired });
    expect(e.status).toBe(401);
    const stale = await tokenFor({ sub: s.user.id, role: "authenticated", session_id: crypto.randomUUID() }, srv.secret);
    const st = await call(srv.url, "GET", "/user", { key: anon, bearer: stale });
    expect(st.status).toBe(403);
    expect(st.body.code).toBe("session_not_found");
    const ok = await call(srv.url, "GET", "/user", { key: anon, bearer: s.access_token });
    expect(ok.status).toBe(200);
    expect(ok.body.factors).toEqual([]);
  });

  test("refresh tokens are stored hashed", async () => {
    const s = await session();
    const rows = await sql`select token from auth.refresh_tokens where user_id = ${s.user.id}`;
    expect(rows.length).toBe(1);
    expect(rows[0]!.token).not.toBe(s.refresh_token);
    expect(rows[0]!.token).toMatch(/^[0-9a-f]{64}$/);
  });

  test("unknown, empty and wrong-typed refresh tokens", async () => {
    expect((await refresh("nope")).body.code).toBe("refresh_token_not_found");
    expect((await refresh("")).body.code).toBe("refresh_token_not_found");
    const typed = await refresh(12345);
    expect(typed.status).toBe(400);
    expect(typed.body.code).toBe("validation_failed");
  });

  test("reuse within the interval returns the current token; after it, the family is revoked", async () => {
    const s = await session();
    const first = await refresh(s.refresh_token);
    expect(first.status).toBe(200);
    const retry = await refresh(s.refresh_token);
    expect(retry.status).toBe(200);
    expect(retry.body.refresh_token).toBe(first.body.refresh_token);
    // Age the revocation beyond the reuse interval: reuse now means theft.
    await sql`update auth.refresh_tokens set updated_at = now() - interval '1 hour' where user_id = ${s.user.id} and revoked`;
    const stolen = await refresh(s.refresh_token);
    expect(stolen.status).toBe(400);
    expect(stolen.body.code).toBe("refresh_token_already_used");
    // The legitimate holder's token died with the family, and so did the session.
    expect((await refresh(first.body.refresh_token)).body.code).toBe("refresh_token_not_found");
    const u = await call(srv.url, "GET", "/user", { key: anon, bearer: first.body.access_token });
    expect(u.body.code).toBe("session_not_found");
  });

  test("concurrent refreshes of one token: all succeed with the same successor, one family", async () => {
    const s = await session();
    const results = await Promise.all(Array.from({ length: 8 }, () => refresh(s.refresh_token)));
    for (const r of results) expect(r.status).toBe(200);
    const successors = new Set(results.map((r) => r.body.refresh_token));
    expect(successors.size).toBe(1);
    const [sessions] = await sql`select count(*)::int as n from auth.sessions where user_id = ${s.user.id}`;
    expect(sessions!.n).toBe(1);
    const live = await sql`select count(*)::int as n from auth.refresh_tokens where user_id = ${s.user.id} and not revoked`;
    expect(live[0]!.n).toBe(1);
    // and the successor keeps working
    expect((await refresh([...successors][0])).status).toBe(200);
  });

  test("an expired session refuses refresh", async () => {
    const s = await session();
    await sql`update auth.sessions set not_after = now() - interval '1 second' where user_id = ${s.user.id}`;
    const r = await refresh(s.refresh_token);
    expect(r.body.code).toBe("session_expired");
  });

  test("logout scopes: local, others, global", async () => {
    const email = uniqueEmail();
    await session(email);
    const login = async () => (await call(srv.url, "POST", "/token?grant_type=password", { key: anon, body: { email, password: "correct horse 1" } })).body;
    const [a, b, c] = [await login(), await login(), await login()];
    expect((await call(srv.url, "POST", "/logout?scope=others", { key: anon, bearer: a.access_token })).status).toBe(204);
    expect((await call(srv.url, "GET", "/user", { key: anon, bearer: b.access_token })).body.code).toBe("session_not_found");
    expect((await call(srv.url, "GET", "/user", { key: anon, bearer: a.access_token })).status).toBe(200);
    expect((await call(srv.url, "POST", "/logout?scope=local", { key: anon, bearer: a.access_token })).status).toBe(204);
    expect((await refresh(a.refresh_token)).body.code).toBe("refresh_token_not_found");
    expect((await refresh(c.refresh_token)).body.code).toBe("refresh_token_not_found");
    const bad = await call(srv.url, "POST", "/logout?scope=everything", { key: anon, bearer: a.access_token });
    expect(bad.status).toBe(400);
  });

  test("PKCE exchange with a wrong verifier or an unknown code", async () => {
    const r = await call(srv.url, "POST", "/token?grant_type=pkce", { key: anon, body: { auth_code: crypto.randomUUID(), code_verifier: "x".repeat(50) } });
    expect(r.status).toBe(404);
    expect(r.body.code).toBe("flow_state_not_found");
    const missing = await call(srv.url, "POST", "/token?grant_type=pkce", { key: anon, body: {} });
    expect(missing.status).toBe(400);
  });
});

describe("one-time codes", () => {
  test("codes are stored as HMACs, expire, and burn after the attempt limit", async () => {
    const email = uniqueEmail("brute");
    const created = await call(srv.url, "POST", "/admin/users", { key: service, body: { email, email_confirm: true } });
    expect(created.status).toBe(200);
    expect((await call(srv.url, "POST", "/otp", { key: anon, body: { email } })).status).toBe(200);
    const mail = await smtp.waitFor((m) => m.to.includes(email));
    const code = codeOf(mail.text);
    const [row] = await sql`select token_hash, link_hash from auth.one_time_tokens where user_id = ${created.body.id}`;
    expect(row!.token_hash).not.toContain(code);
    expect(row!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    const wrong = code === "000000" ? "111111" : "000000";
    for (let i = 0; i < 5; i++) {
      const r = await call(srv.url, "POST", "/verify", { key: anon, body: { email, token: wrong, type: "email" } });
      expect(r.status).toBe(403);
      expect(r.body.code).toBe("otp_expired");
    }
    // The right code no longer works: the row was burnt at the limit.
    const late = await call(srv.url, "POST", "/verify", { key: anon, body: { email, token: code, type: "email" } });
    expect(late.body.code).toBe("otp_expired");
  });

  test("an expired code is refused", async () => {
    const email = uniqueEmail("expired");
    const created = await call(srv.url, "POST", "/admin/users", { key: service, body: { email, email_confirm: true } });
    await call(srv.url, "POST", "/otp", { key: anon, body: { email } });
    const code = codeOf((await smtp.waitFor((m) => m.to.includes(email))).text);
    await sql`update auth.one_time_tokens set expires_at = now() - interval '1 second' where user_id = ${created.body.id}`;
    const r = await call(srv.url, "POST", "/verify", { key: anon, body: { email, token: code, type: "email" } });
    expect(r.body.code).toBe("otp_expired");
  });

  test("a code for one purpose does not verify another", async () => {
    const email = uniqueEmail("purpose");
    await call(srv.url, "POST", "/admin/users", { key: service, body: { email, email_confirm: true } });
    await call(srv.url, "POST", "/otp", { key: anon, body: { email } });
    const code = codeOf((await smtp.waitFor((m) => m.to.includes(email))).text);
    const r = await call(srv.url, "POST", "/verify", { key: anon, body: { email, token: code, type: "signup" } });
    expect(r.body.code).toBe("otp_expired");
    const ok = await call(srv.url, "POST", "/verify", { key: anon, body: { email, token: code, type: "magiclink" } });
    expect(ok.status).toBe(200);
  });

  test("verify input errors", async () => {
    expect((await call(srv.url, "POST", "/verify", { key: anon, body: { type: "nope", token: "1" } })).status).toBe(400);
    expect((await call(srv.url, "POST", "/verify", { key: anon, body: { type: "email" } })).status).toBe(400);
    const unknown = await call(srv.url, "POST", "/verify", { key: anon, body: { type: "email", email: uniqueEmail(), token: "123456" } });
    expect(unknown.body.code).toBe("otp_expired");
  });
});

describe("bad input never yields a 500", () => {
  const cases: [string, string, unknown][] = [
    ["/signup", "POST", { email: 42, password: "correct horse 1" }],
    ["/signup", "POST", { email: ["a@b.c"], password: "correct horse 1" }],
    ["/signup", "POST", { email: "not-an-email", password: "correct horse 1" }],
    ["/signup", "POST", { email: "a@b.co", password: { $gt: "" } }],
    ["/signup", "POST", { phone: "+1 not a number", password: "correct horse 1" }],
    ["/signup", "POST", { email: "a@b.co", phone: "+233241234567", password: "correct horse 1" }],
    ["/signup", "POST", { email: "a@b.co", data: "not an object", password: "correct horse 1" }],
    ["/signup", "POST", [1, 2, 3]],
    ["/signup", "POST", "just a string"],
    ["/token?grant_type=password", "POST", { email: null, password: null }],
    ["/token?grant_type=password", "POST", { email: "a@b.co", username: "abc", password: "x" }],
    ["/otp", "POST", { email: "a@b.co", create_user: "yes" }],
    ["/otp", "POST", {}],
    ["/recover", "POST", { email: { a: 1 } }],
    ["/resend", "POST", { type: "bogus", email: "a@b.co" }],
    ["/verify", "POST", { type: "email", email: "a@b.co", token: 123456 }],
  ];
  for (const [path, method, body] of cases) {
    test(`${method} ${path} ${JSON.stringify(body)}`, async () => {
      const r = await call(srv.url, method, path, { key: anon, body });
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(typeof r.body.code).toBe("string");
      expect(JSON.stringify(r.body)).not.toMatch(/at .*\.ts|postgres|syntax error|stack/i);
    });
  }

  test("malformed JSON is a 400", async () => {
    const r = await call(srv.url, "POST", "/signup", { key: anon, rawBody: '{"email": "a@b.c", ' });
    expect(r.status).toBe(400);
  });

  test("a huge body is refused with 413", async () => {
    const r = await call(srv.url, "POST", "/signup", { key: anon, rawBody: JSON.stringify({ email: "a@b.co", password: "x".repeat(2 * 1024 * 1024) }) });
    expect(r.status).toBe(413);
  });

  test("a very long password is refused before hashing", async () => {
    const r = await signUp({ email: uniqueEmail(), password: "x".repeat(5000) });
    expect(r.status).toBe(400);
    const r2 = await signUp({ email: uniqueEmail(), password: "y".repeat(2000) });
    expect(r2.status).toBe(422);
    expect(r2.body.code).toBe("weak_password");
  });

  test("SQL-injection-looking emails are just strings", async () => {
    const email = "o'brien'--drop.table@example.com";
    const refused = await signUp({ email: "x';drop table auth.users;--@example.com", password: "correct horse 1" });
    expect(refused.status).toBe(400);
    const r = await signUp({ email, password: "correct horse 1" });
    expect(r.status).toBe(200);
    expect(r.body.user.email).toBe(email);
    const login = await call(srv.url, "POST", "/token?grant_type=password", { key: anon, body: { email: "' or 1=1 --@x.com", password: "correct horse 1" } });
    expect(login.status).toBe(400);
    const [n] = await sql`select count(*)::int as n from auth.users`;
    expect(n!.n).toBeGreaterThan(0);
  });
});

describe("usernames", () => {
  test("sign-up and sign-in by username, case-insensitive and unique", async () => {
    const name = `Ada_${Date.now().toString(36)}`;
    const r = await signUp({ username: name, password: "correct horse 1" });
    expect(r.status).toBe(200);
    expect(r.body.user.username).toBe(name.toLowerCase());
    expect(r.body.user.app_metadata.provider).toBe("username");
    const login = await call(srv.url, "POST", "/token?grant_type=password", { key: anon, body: { username: name.toUpperCase(), password: "correct horse 1" } });
    expect(login.status).toBe(200);
    const dup = await signUp({ username: name.toLowerCase(), password: "correct horse 1" });
    expect(dup.status).toBe(422);
    expect(dup.body.code).toBe("user_already_exists");
    const bad = await signUp({ username: "a b", password: "correct horse 1" });
    expect(bad.status).toBe(400);
    const wrong = await call(srv.url, "POST", "/token?grant_type=password", { key: anon, body: { username: name, password: "wrong password" } });
    expect(wrong.body.code).toBe("invalid_credentials");
  });

  test("email + username sign-up; sign in with either", async () => {
    const email = uniqueEmail();
    const name = `bob.${Date.now().toString(36)}`;
    expect((await signUp({ email, username: name, password: "correct horse 1" })).status).toBe(200);
    expect((await call(srv.url, "POST", "/token?grant_type=password", { key: anon, body: { username: name, password: "correct horse 1" } })).status).toBe(200);
    expect((await call(srv.url, "POST", "/token?grant_type=password", { key: anon, body: { email, password: "correct horse 1" } })).status).toBe(200);
  });
});

describe("database", () => {
  test("the classic on_auth_user_created trigger fills public.profiles", async () => {
    await sql.unsafe(`
      create table public.profiles (id uuid primary key references auth.users (id) on delete cascade, full_name text);
      create function public.handle_new_user() returns trigger language plpgsql security definer set search_path = '' as $$
      begin
        insert into public.profiles (id, full_name) values (new.id, new.raw_user_meta_data ->> 'full_name');
        return new;
      end $$;
      create trigger on_auth_user_created after insert on auth.users for each row execute function public.handle_new_user();`);
    try {
      const r = await signUp({ email: uniqueEmail("profile"), password: "correct horse 1", data: { full_name: "Grace Hopper" } });
      expect(r.status).toBe(200);
      const [p] = await sql`select full_name from public.profiles where id = ${r.body.user.id}`;
      expect(p!.full_name).toBe("Grace Hopper");
      // A failing trigger fails the sign-up cleanly, with no user left.
      await sql.unsafe(`create or replace function public.handle_new_user() returns trigger language plpgsql as $$ begin raise exception 'nope'; end $$`);
      const email = uniqueEmail("broken");
      const f = await signUp({ email, password: "correct horse 1" });
      expect(f.status).toBe(500);
      expect(f.body.message).toBe("Database error saving new user");
      expect((await sql`select 1 from auth.users where email = ${email}`).length).toBe(0);
    } finally {
      await sql.unsafe(
        `drop trigger if exists on_auth_user_created on auth.users; drop function if exists public.handle_new_user(); drop table if exists public.profiles`,
      );
    }
  });

  test("API roles cannot read auth tables directly", async () => {
    const err = await srv.database.db
      .withPrincipal({ role: "authenticated", claims: {} }, (tx) => tx`select * from auth.users`)
      .catch((e: { code?: string }) => e);
    expect((err as { code?: string }).code).toBe("42501");
  });
});

describe("rate limits", async () => {
  const limited = await startTestServer({
    smtp: { host: "127.0.0.1", port: smtp.port },
    rateLimit: { enabled: true },
    auth: {
      autoconfirm: true,
      rateLimits: {
        token: { capacity: 3, perSecond: 0.001 },
        otp: { capacity: 100, perSecond: 1 },
        recover: { capacity: 100, perSecond: 1 },
        emailSend: { capacity: 2, perSecond: 0.001 },
      },
    },
  });

  test("per-IP limit on /token", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await call(limited.url, "POST", "/token?grant_type=password", { key: limited.keys.anon, body: { email: uniqueEmail(), password: "x" } });
      statuses.push(r.status);
      if (r.status === 429) {
        expect(r.body.code).toBe("over_request_rate_limit");
        expect(r.headers.get("retry-after")).toBeString();
      }
    }
    expect(statuses.slice(0, 3)).toEqual([400, 400, 400]);
    expect(statuses.slice(3)).toEqual([429, 429]);
  });

  test("per-address limit on sends, the same for unknown addresses", async () => {
    const email = uniqueEmail("ratelimit");
    const codes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await call(limited.url, "POST", "/recover", { key: limited.keys.anon, body: { email } });
      codes.push(r.status === 200 ? "ok" : r.body.code);
    }
    expect(codes).toEqual(["ok", "ok", "over_email_send_rate_limit"]);
  });
});

describe("races and failures", () => {
  test("concurrent sign-ups of one email: one user, the rest user_already_exists, no 500", async () => {
    const email = uniqueEmail("race");
    const results = await Promise.all(Array.from({ length: 6 }, () => signUp({ email, password: "correct horse 1" })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200).length).toBe(1);
    for (const r of results.filter((r) => r.status !== 200)) expect(r.body.code).toBe("user_already_exists");
    expect((await sql`select 1 from auth.users where email = ${email}`).length).toBe(1);
  });

  test("unknown user and wrong password take the same time class", async () => {
    const email = uniqueEmail("timing");
    await session(email);
    const time = async (body: Record<string, unknown>) => {
      const t = performance.now();
      await call(srv.url, "POST", "/token?grant_type=password", { key: anon, body });
      return performance.now() - t;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 7; i++) {
      known.push(await time({ email, password: "wrong password" }));
      unknown.push(await time({ email: uniqueEmail("nobody"), password: "wrong password" }));
    }
    const med = (xs: number[]) => xs.sort((a, b) => a - b)[3]!;
    const ratio = med(unknown) / med(known);
    // Both run one argon2 verification (~10 ms); without the dummy hash the unknown user would be ~10x faster.
    expect(ratio).toBeGreaterThan(0.4);
    expect(ratio).toBeLessThan(2.5);
  });

  test("a failed confirmation mail leaves no user and no code behind (injected mailer)", async () => {
    const { PlinthError } = await import("../src/errors.ts");
    const sent: string[] = [];
    let fail = true;
    const mailer = {
      async send(m: { to: string }) {
        if (fail) throw new PlinthError(502, "email_send_failed", "Error sending email");
        sent.push(m.to);
      },
    };
    const app = await inProcessAuth(srv, { auth: { autoconfirm: false } }, { mailer });
    try {
      const email = uniqueEmail("mailfail");
      const r = await app.call("POST", "/signup", { email, password: "correct horse 1" });
      expect(r.status).toBe(502);
      expect(r.body.code).toBe("email_send_failed");
      expect((await sql`select 1 from auth.users where email = ${email}`).length).toBe(0);
      // An existing user's code is removed too, the user stays.
      const created = await call(srv.url, "POST", "/admin/users", { key: service, body: { email, email_confirm: true } });
      const o = await app.call("POST", "/otp", { email });
      expect(o.status).toBe(502);
      expect((await sql`select 1 from auth.one_time_tokens where user_id = ${created.body.id}`).length).toBe(0);
      expect((await sql`select 1 from auth.users where id = ${created.body.id}`).length).toBe(1);
      fail = false;
      expect((await app.call("POST", "/otp", { email })).status).toBe(200);
      expect(sent).toEqual([email]);
    } finally {
      await app.stop();
    }
  });
});

describe("sweep", () => {
  test("expired codes, stale flows and long-revoked refresh tokens are deleted", async () => {
    const { sweepExpired } = await import("../src/auth/otp.ts");
    const { testConfig } = await import("./support/app.ts");
    const email = uniqueEmail("sweep");
    const created = await call(srv.url, "POST", "/admin/users", { key: service, body: { email, email_confirm: true, password: "correct horse 1" } });
    await call(srv.url, "POST", "/otp", { key: anon, body: { email } });
    await smtp.waitFor((m) => m.to.includes(email));
    const s = (await call(srv.url, "POST", "/token?grant_type=password", { key: anon, body: { email, password: "correct horse 1" } })).body;
    await refresh(s.refresh_token);
    await sql`update auth.one_time_tokens set expires_at = now() - interval '1 minute' where user_id = ${created.body.id}`;
    await sql`update auth.refresh_tokens set updated_at = now() - interval '2 days' where user_id = ${created.body.id} and revoked`;
    await sweepExpired(sql, testConfig());
    expect((await sql`select 1 from auth.one_time_tokens where user_id = ${created.body.id}`).length).toBe(0);
    expect((await sql`select 1 from auth.refresh_tokens where user_id = ${created.body.id} and revoked`).length).toBe(0);
    expect((await sql`select 1 from auth.refresh_tokens where user_id = ${created.body.id} and not revoked`).length).toBe(1);
  });
});

/** A confirmed email + password account, signed in. */
async function signedIn(email = uniqueEmail(), password = "correct horse 1") {
  const created = await call(srv.url, "POST", "/admin/users", { key: service, body: { email, password, email_confirm: true } });
  expect(created.status).toBe(200);
  const s = await call(srv.url, "POST", "/token?grant_type=password", { key: anon, body: { email, password } });
  expect(s.status).toBe(200);
  return s.body as { access_token: string; refresh_token: string; user: { id: string; email: string } };
}

const mailFor = (email: string) => smtp.waitFor((m) => m.to.includes(email));
const linkTokenOf = (text: string) => new URL(/(https?:\/\/\S+\/auth\/v1\/verify\?\S+)/.exec(text)![1]!).searchParams.get("token")!;

describe("secure email change", () => {
  test("both addresses get a mail; the first confirmation answers GoTrue's message, the second applies the change", async () => {
    const oldEmail = uniqueEmail("old");
    const s = await signedIn(oldEmail);
    const newEmail = uniqueEmail("new");
    const upd = await call(srv.url, "PUT", "/user", { key: anon, bearer: s.access_token, body: { email: newEmail } });
    expect(upd.status).toBe(200);
    expect(upd.body).toMatchObject({ email: oldEmail, new_email: newEmail });
    const [toNew, toOld] = [await mailFor(newEmail), await mailFor(oldEmail)];
    for (const m of [toNew, toOld]) {
      expect(m.subject).toBe("Confirm your new email address");
      expect(m.text).toContain(`from ${oldEmail} to ${newEmail}`);
    }
    const tokens = await sql`select token_type::text as t, relates_to, token_hash from auth.one_time_tokens where user_id = ${s.user.id} order by 1`;
    expect(tokens.map((r) => [r.t, r.relates_to])).toEqual([
      ["email_change_token_current", oldEmail],
      ["email_change_token_new", newEmail],
    ]);
    for (const [r, m] of [
      [tokens[0]!, toOld],
      [tokens[1]!, toNew],
    ] as const)
      expect(r.token_hash).not.toContain(codeOf(m.text));

    // Either address may be named with either code (here: the current address's code, the new address).
    const first = await call(srv.url, "POST", "/verify", { key: anon, body: { type: "email_change", email: newEmail, token: codeOf(toOld.text) } });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ msg: "Confirmation link accepted. Please proceed to confirm link sent to the other email", code: "200" });
    const [mid] = await sql`select email, email_change, email_change_confirm_status from auth.users where id = ${s.user.id}`;
    expect(mid).toMatchObject({ email: oldEmail, email_change: newEmail, email_change_confirm_status: 1 });
    const again = await call(srv.url, "POST", "/verify", { key: anon, body: { type: "email_change", email: newEmail, token: codeOf(toOld.text) } });
    expect(again.body.code).toBe("otp_expired");

    const second = await call(srv.url, "POST", "/verify", { key: anon, body: { type: "email_change", email: oldEmail, token: codeOf(toNew.text) } });
    expect(second.status).toBe(200);
    expect(second.body.access_token).toBeString();
    expect(second.body.user.email).toBe(newEmail);
    expect(second.body.user.new_email).toBeUndefined();
    expect(second.body.user.identities.find((i: { provider: string }) => i.provider === "email").identity_data.email).toBe(newEmail);
    const [done] = await sql`select email_change, email_change_confirm_status from auth.users where id = ${s.user.id}`;
    expect(done).toMatchObject({ email_change: "", email_change_confirm_status: 0 });
    expect((await sql`select 1 from auth.one_time_tokens where user_id = ${s.user.id}`).length).toBe(0);
  });

  test("links: the first redirect carries the message (fragment only, implicit flow), the second the session", async () => {
    const oldEmail = uniqueEmail("lold");
    const s = await signedIn(oldEmail);
    const newEmail = uniqueEmail("lnew");
    await call(srv.url, "PUT", "/user", { key: anon, bearer: s.access_token, body: { email: newEmail } });
    const follow = async (text: string) =>
      new URL((await fetch(/(https?:\/\/\S+\/auth\/v1\/verify\?\S+)/.exec(text)![1]!, { redirect: "manual" })).headers.get("location")!);
    const first = await follow((await mailFor(newEmail)).text);
    expect(first.search).toBe("");
    const frag = new URLSearchParams(first.hash.slice(1));
    expect(frag.get("message")).toBe("Confirmation link accepted. Please proceed to confirm link sent to the other email");
    expect(frag.get("access_token")).toBeNull();
    const second = new URLSearchParams((await follow((await mailFor(oldEmail)).text)).hash.slice(1));
    expect(claimsOf(second.get("access_token")!).email).toBe(newEmail);
  });

  test("asking again (resend or a new PUT) restarts the count: one address twice never completes it", async () => {
    const oldEmail = uniqueEmail("rold");
    const s = await signedIn(oldEmail);
    const newEmail = uniqueEmail("rnew");
    await call(srv.url, "PUT", "/user", { key: anon, bearer: s.access_token, body: { email: newEmail } });
    const verifyHash = (text: string) => call(srv.url, "POST", "/verify", { key: anon, body: { type: "email_change", token_hash: linkTokenOf(text) } });
    expect((await verifyHash((await mailFor(newEmail)).text)).body.msg).toBeString();
    smtp.clear();
    expect((await call(srv.url, "POST", "/resend", { key: anon, body: { type: "email_change", email: newEmail } })).status).toBe(200);
    const [resentNew, resentOld] = [await mailFor(newEmail), await mailFor(oldEmail)];
    // The new address again: still only the first confirmation of this round.
    const r = await verifyHash(resentNew.text);
    expect(r.body.msg).toBeString();
    expect(r.body.access_token).toBeUndefined();
    const [u] = await sql`select email from auth.users where id = ${s.user.id}`;
    expect(u!.email).toBe(oldEmail);
    const done = await verifyHash(resentOld.text);
    expect(done.body.user.email).toBe(newEmail);
  });

  test("an account without a current email confirms only the new address", async () => {
    const phone = uniquePhone();
    await call(srv.url, "POST", "/admin/users", { key: service, body: { phone, password: "correct horse 1", phone_confirm: true } });
    const s = (await call(srv.url, "POST", "/token?grant_type=password", { key: anon, body: { phone, password: "correct horse 1" } })).body;
    const email = uniqueEmail("first");
    smtp.clear();
    expect((await call(srv.url, "PUT", "/user", { key: anon, bearer: s.access_token, body: { email } })).status).toBe(200);
    const mail = await mailFor(email);
    const v = await call(srv.url, "POST", "/verify", { key: anon, body: { type: "email_change", email, token: codeOf(mail.text) } });
    expect(v.body.user.email).toBe(email);
    expect(smtp.messages.length).toBe(1);
  });

  test("generate_link: email_change_current and email_change_new are both needed", async () => {
    const oldEmail = uniqueEmail("gold");
    const { user } = await signedIn(oldEmail);
    const newEmail = uniqueEmail("gnew");
    const gen = async (type: string) =>
      (await call(srv.url, "POST", "/admin/generate_link", { key: service, body: { type, email: oldEmail, new_email: newEmail } })).body;
    const [cur, nu] = [await gen("email_change_current"), await gen("email_change_new")];
    expect(cur.verification_type).toBe("email_change");
    expect(nu.new_email).toBe(newEmail);
    const v1 = await call(srv.url, "POST", "/verify", { key: anon, body: { type: "email_change", token_hash: nu.hashed_token } });
    expect(v1.body.msg).toBeString();
    const v2 = await call(srv.url, "POST", "/verify", { key: anon, body: { type: "email_change", token_hash: cur.hashed_token } });
    expect(v2.body.user.email).toBe(newEmail);
    expect(v2.body.user.id).toBe(user.id);
  });
});

describe("GET /verify redirects", () => {
  test("a PKCE link's error is in the query string as well as the fragment; an implicit one's only in the fragment", async () => {
    const go = async (token: string) =>
      new URL((await fetch(`${srv.url}/auth/v1/verify?token=${token}&type=signup`, { redirect: "manual" })).headers.get("location")!);
    const pkce = await go(`pkce_${"a".repeat(43)}`);
    expect(Object.fromEntries(pkce.searchParams)).toEqual({
      error: "access_denied",
      error_code: "otp_expired",
      error_description: "Token has expired or is invalid",
    });
    expect(new URLSearchParams(pkce.hash.slice(1)).get("error_code")).toBe("otp_expired");
    const implicit = await go("a".repeat(43));
    expect(implicit.search).toBe("");
    expect(new URLSearchParams(implicit.hash.slice(1)).get("error_description")).toBe("Token has expired or is invalid");
  });
});

describe("reauthentication", () => {
  test("needs an email or a phone, and a confirmed one", async () => {
    const a = (await signUp({})).body;
    const none = await call(srv.url, "GET", "/reauthenticate", { key: anon, bearer: a.access_token });
    expect(none.status).toBe(400);
    expect(none.body.code).toBe("validation_failed");
    const phone = uniquePhone();
    await call(srv.url, "POST", "/admin/users", {
      key: service,
      body: { email: uniqueEmail("unconf"), phone, password: "correct horse 1", phone_confirm: true },
    });
    const s = (await call(srv.url, "POST", "/token?grant_type=password", { key: anon, body: { phone, password: "correct horse 1" } })).body;
    const unconfirmed = await call(srv.url, "GET", "/reauthenticate", { key: anon, bearer: s.access_token });
    expect(unconfirmed.status).toBe(422);
    expect(unconfirmed.body.code).toBe("email_not_confirmed");
    expect((await call(srv.url, "GET", "/reauthenticate", { key: anon })).status).toBe(403);
  });

  test("with securePasswordChange off, an old session changes its password without a nonce", async () => {
    const s = await signedIn();
    await sql`update auth.sessions set created_at = now() - interval '30 days' where user_id = ${s.user.id}`;
    const r = await call(srv.url, "PUT", "/user", { key: anon, bearer: s.access_token, body: { password: "battery staple 2" } });
    expect(r.status).toBe(200);
  });
});

describe("phone numbers", () => {
  test("stored, returned and put in the JWT as E.164 digits without '+'; sign-in with any form of the number", async () => {
    const phone = uniquePhone();
    const digits = phone.slice(1);
    const r = await signUp({ phone: `+233 ${digits.slice(3, 5)} ${digits.slice(5, 8)} ${digits.slice(8)}`, password: "correct horse 1" });
    expect(r.status).toBe(200);
    expect(r.body.user.phone).toBe(digits);
    expect(claimsOf(r.body.access_token).phone).toBe(digits);
    expect(r.body.user.identities[0].identity_data.phone).toBe(digits);
    const [row] = await sql`select phone from auth.users where id = ${r.body.user.id}`;
    expect(row!.phone).toBe(digits);
    for (const form of [phone, digits, `00${digits}`, `+233-${digits.slice(3)}`]) {
      const s = await call(srv.url, "POST", "/token?grant_type=password", { key: anon, body: { phone: form, password: "correct horse 1" } });
      expect(s.status).toBe(200);
      expect(s.body.user.id).toBe(r.body.user.id);
    }
    // A national number means nothing without sms.defaultCountry: it matches nobody.
    const national = await call(srv.url, "POST", "/token?grant_type=password", {
      key: anon,
      body: { phone: `0${digits.slice(3)}`, password: "correct horse 1" },
    });
    expect(national.body.code).toBe("invalid_credentials");
    // Admin search finds it from the "+" form.
    const found = await call(srv.url, "GET", `/admin/users?filter=${encodeURIComponent(phone)}`, { key: service });
    expect(found.body.users.map((u: { id: string }) => u.id)).toEqual([r.body.user.id]);
  });

  test("every SMS is handed to the provider as +E.164, whatever form the number came in (injected sender)", async () => {
    const sent: { to: string; body: string }[] = [];
    const sms = {
      name: "record",
      async send(m: { to: string; body: string }) {
        sent.push(m);
        return { messageId: `m${sent.length}` };
      },
    };
    const app = await inProcessAuth(srv, { auth: { autoconfirm: false, securePasswordChange: true }, sms: { defaultCountry: "GH" } }, { sms });
    const lastCode = () => codeOf(sent[sent.length - 1]!.body);
    try {
      const phone = uniquePhone();
      const digits = phone.slice(1);
      const national = `0${digits.slice(3)}`;
      const up = await app.call("POST", "/signup", { phone: national, password: "correct horse 1" });
      expect(up.status).toBe(200);
      expect(up.body.phone).toBe(digits);
      const v = await app.call("POST", "/verify", { type: "sms", phone: digits, token: lastCode() });
      expect(v.status).toBe(200);
      expect(claimsOf(v.body.access_token).phone).toBe(digits);
      expect((await app.call("POST", "/otp", { phone: digits })).body).toEqual({ message_id: "m2" });
      const otp = await app.call("POST", "/verify", { type: "sms", phone: national, token: lastCode() });
      expect(otp.status).toBe(200);

      // An unconfirmed second number: resend by its digits.
      const other = uniquePhone();
      await app.call("POST", "/signup", { phone: other, password: "correct horse 1" });
      expect((await app.call("POST", "/resend", { type: "sms", phone: other.slice(1) })).status).toBe(200);
      // The resend is sent after its answer (it must not time differently for unknown numbers).
      for (let i = 0; i < 200 && sent.length < 4; i++) await Bun.sleep(10);

      // Phone change, given in national form, verified in "+" form.
      const next = uniquePhone();
      const change = await app.call("PUT", "/user", { phone: `0${next.slice(4)}` }, otp.body.access_token);
      expect(change.body.new_phone).toBe(next.slice(1));
      const changed = await app.call("POST", "/verify", { type: "phone_change", phone: next, token: lastCode() });
      expect(changed.body.user.phone).toBe(next.slice(1));

      // Reauthentication by SMS to the (new) number; the nonce changes the password.
      const re = await app.call("GET", "/reauthenticate", undefined, changed.body.access_token);
      expect(re.status).toBe(200);
      expect(re.body.message_id).toBeString();
      const pw = await app.call("PUT", "/user", { password: "battery staple 2", nonce: lastCode() }, changed.body.access_token);
      expect(pw.status).toBe(200);
      const signIn = await app.call("POST", "/token?grant_type=password", { phone: `0${next.slice(4)}`, password: "battery staple 2" });
      expect(signIn.status).toBe(200);

      expect(sent.map((m) => m.to)).toEqual([phone, phone, other, other, next, next]);
    } finally {
      await app.stop();
    }
  });
});

describe("admin user list: filter and sort", () => {
  test("filter is a case-insensitive substring of the email (or full_name); paging headers carry it", async () => {
    const tag = `flt${Date.now().toString(36)}`;
    const ids: string[] = [];
    for (const email of [`${tag}.a@example.com`, `b.${tag}@example.com`, `c@${tag}.example.com`]) {
      ids.push((await call(srv.url, "POST", "/admin/users", { key: service, body: { email } })).body.id);
    }
    ids.push(
      (
        await call(srv.url, "POST", "/admin/users", {
          key: service,
          body: { email: uniqueEmail("named"), user_metadata: { full_name: `Grace ${tag.toUpperCase()}` } },
        })
      ).body.id,
    );
    const list = (query: string) => call(srv.url, "GET", `/admin/users?${query}`, { key: service });

    const p1 = await list(`page=1&per_page=3&filter=${tag.toUpperCase()}`);
    expect(p1.status).toBe(200);
    expect(p1.headers.get("x-total-count")).toBe("4");
    expect(p1.body.users.length).toBe(3);
    const link = p1.headers.get("link")!;
    const next = /<([^>]+)>; rel="next"/.exec(link)![1]!;
    expect(next).toStartWith("/admin/users?page=2&");
    expect(new URL(next, "http://x").searchParams.get("filter")).toBe(tag.toUpperCase());
    const p2 = await list(next.split("?")[1]!);
    expect(p2.body.users.length).toBe(1);
    expect(new Set([...p1.body.users, ...p2.body.users].map((u: { id: string }) => u.id))).toEqual(new Set(ids));

    // Default order is newest first; sort=created_at asc reverses it.
    const desc = (await list(`filter=${tag}`)).body.users.map((u: { id: string }) => u.id);
    expect(desc).toEqual([...ids].reverse());
    const asc = await list(`filter=${tag}&sort=${encodeURIComponent("created_at asc")}`);
    expect(asc.body.users.map((u: { id: string }) => u.id)).toEqual(ids);
    const byEmail = (await list(`filter=${tag}&sort=email`)).body.users.map((u: { email: string }) => u.email);
    expect(byEmail).toEqual([...byEmail].sort().reverse());

    // LIKE's wildcards are plain characters; bad sorts are 400s.
    expect((await list(`filter=${encodeURIComponent("%")}`)).headers.get("x-total-count")).toBe("0");
    expect((await list(`filter=${tag.slice(0, 3)}_${tag.slice(4)}`)).headers.get("x-total-count")).toBe("0");
    for (const bad of ["password", "created_at sideways", "created_at;drop"]) {
      const r = await list(`sort=${encodeURIComponent(bad)}`);
      expect(r.status).toBe(400);
      expect(r.body.code).toBe("validation_failed");
    }
  });
});
