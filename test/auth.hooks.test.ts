// Auth hooks: the custom access token hook as a Postgres function adds a claim that an RLS policy
// then uses through REST (supabase-js); the same hook over HTTPS-style HTTP (loopback) with a
// Standard Webhooks signature the endpoint verifies; and the ugly cases: a hook that times out
// (function and HTTP), a hook that raises, a hook that drops a required claim or tries to stretch
// exp, a hook that refuses with its own error. Each fails the sign-in with a clear error code. The
// send_email / send_sms hooks (function and HTTP) get Supabase's payloads, whose tokens verify.
import { afterAll, describe, expect, test } from "bun:test";
import { createHmac, timingSafeEqual } from "node:crypto";
import postgres from "postgres";
import { claimsOf, client, uniqueEmail } from "./support/auth.ts";
import { waitFor } from "./support/rest.ts";
import { totp } from "./support/auth-totp.ts";
import { startTestServer } from "./support/server.ts";

const SECRET_KEY = Buffer.from("hook-secret-key-0123456789").toString("base64");
let httpMode: "ok" | "slow" | "refuse" = "ok";
const received: { verified: boolean; body: any }[] = [];
const mails: any[] = [];
const texts: any[] = [];
const hookServer = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(req) {
    const body = await req.text();
    const id = req.headers.get("webhook-id")!;
    const ts = req.headers.get("webhook-timestamp")!;
    const sig = (req.headers.get("webhook-signature") ?? "").replace(/^v1,/, "");
    const want = createHmac("sha256", Buffer.from(SECRET_KEY, "base64")).update(`${id}.${ts}.${body}`).digest("base64");
    const verified = sig.length === want.length && timingSafeEqual(Buffer.from(sig), Buffer.from(want));
    const payload = JSON.parse(body);
    received.push({ verified, body: payload });
    if (!verified) return new Response("bad signature", { status: 401 });
    if (new URL(req.url).pathname === "/mail") {
      mails.push(payload);
      return Response.json({});
    }
    if (new URL(req.url).pathname === "/sms") {
      texts.push(payload);
      return Response.json({});
    }
    if (httpMode === "slow") await Bun.sleep(1500);
    if (httpMode === "refuse") return Response.json({ error: { http_code: 403, message: "Accounts on probation cannot sign in" } }, { status: 403 });
    return Response.json({ claims: { ...payload.claims, via: "http", method: payload.authentication_method } });
  },
});
afterAll(() => hookServer.stop(true));

const pgHook = await startTestServer({
  auth: { autoconfirm: true, hook: { custom_access_token: { enabled: true, uri: "pg-functions://postgres/public/custom_access_token_hook", timeout: 300 } } },
});
const httpHook = await startTestServer({
  auth: {
    autoconfirm: true,
    hook: {
      custom_access_token: { enabled: true, uri: `http://127.0.0.1:${hookServer.port}/hook`, secrets: `v1,whsec_${SECRET_KEY}`, timeout: 500 },
      send_sms: { enabled: true, uri: `http://127.0.0.1:${hookServer.port}/sms`, secrets: `v1,whsec_${SECRET_KEY}` },
    },
  },
});
const mailHook = await startTestServer({
  auth: {
    autoconfirm: false,
    siteUrl: "http://app.test",
    hook: {
      send_email: { enabled: true, uri: `http://127.0.0.1:${hookServer.port}/mail`, secrets: `v1,whsec_${SECRET_KEY}` },
      send_sms: { enabled: true, uri: "pg-functions://postgres/public/send_sms" },
    },
  },
});
const attemptHook = await startTestServer({
  auth: {
    autoconfirm: true,
    hook: {
      password_verification_attempt: { enabled: true, uri: "pg-functions://postgres/public/password_attempt" },
      send_email: { enabled: true, uri: "pg-functions://postgres/public/send_email" },
    },
  },
});
// Supabase-style delivery hooks as Postgres functions: they keep what they were handed.
await mailHook.database.db.sql.unsafe(`
  create table public.sent_sms (payload jsonb not null);
  create function public.send_sms(event jsonb) returns jsonb language plpgsql as $$
  begin insert into public.sent_sms values (event); return '{}'::jsonb; end $$;
`);
await attemptHook.database.db.sql.unsafe(`
  create function public.password_attempt(event jsonb) returns jsonb language plpgsql as $$
  begin
    if not (event->>'valid')::boolean then
      return jsonb_build_object('decision', 'reject', 'message', 'Locked by the password policy');
    end if;
    if exists (select 1 from auth.users where id = (event->>'user_id')::uuid and email like 'blocked%') then
      return jsonb_build_object('decision', 'reject', 'message', 'This account may not sign in');
    end if;
    return jsonb_build_object('decision', 'continue');
  end $$;
  create table public.sent_mail (payload jsonb not null);
  create function public.send_email(event jsonb) returns jsonb language plpgsql as $$
  begin insert into public.sent_mail values (event); return '{}'::jsonb; end $$;
`);
const mfaHook = await startTestServer({
  auth: { autoconfirm: true, hook: { mfa_verification_attempt: { enabled: true, uri: "pg-functions://postgres/public/mfa_attempt" } } },
});
await mfaHook.database.db.sql.unsafe(`
  create table public.mfa_policy (mode text not null);
  insert into public.mfa_policy values ('continue');
  create function public.mfa_attempt(event jsonb) returns jsonb language plpgsql as $$
  begin
    if not (event->>'valid')::boolean then return jsonb_build_object('decision', 'reject', 'message', 'Too many wrong codes'); end if;
    return jsonb_build_object('decision', (select mode from public.mfa_policy limit 1), 'message', 'MFA is paused for this account');
  end $$;
`);
const admin = postgres(pgHook.database.url, { max: 2, onnotice: () => {} });
afterAll(() => admin.end({ timeout: 1 }));

await admin.unsafe(`
  create table public.perks (id int primary key, tier text not null, label text not null);
  alter table public.perks enable row level security;
  create policy perks_by_tier on public.perks for select to authenticated using (tier = auth.jwt() ->> 'tier');
  grant select on public.perks to authenticated;
  insert into public.perks values (1, 'gold', 'lounge'), (2, 'gold', 'upgrade'), (3, 'silver', 'snack');
  create table public.hook_mode (mode text not null);
  insert into public.hook_mode values ('ok');
  create function public.custom_access_token_hook(event jsonb) returns jsonb language plpgsql as $$
  declare mode text := (select m.mode from public.hook_mode m limit 1);
  begin
    if mode = 'slow' then perform pg_sleep(3); end if;
    if mode = 'raise' then raise exception 'boom'; end if;
    if mode = 'drop_role' then return jsonb_build_object('claims', (event->'claims') - 'role'); end if;
    if mode = 'stretch' then return jsonb_build_object('claims', jsonb_set(event->'claims', '{exp}', to_jsonb(((event->'claims'->>'exp')::bigint + 999999)))); end if;
    if mode = 'refuse' then return jsonb_build_object('error', jsonb_build_object('http_code', 403, 'message', 'Not today')); end if;
    return jsonb_build_object('claims', (event->'claims') || jsonb_build_object('tier',
      case when event->'claims'->>'email' like '%@gold.test' then 'gold' else 'silver' end));
  end $$;
`);
await waitFor(async () => (await fetch(`${pgHook.url}/rest/v1/perks?limit=1`, { headers: { apikey: pgHook.keys.anon } })).status === 200);
const setMode = (m: string) => admin`update public.hook_mode set mode = ${m}`;

async function signUpAndIn(url: string, anon: string, email: string) {
  const sb = client(url, anon);
  const up = await sb.auth.signUp({ email, password: "correct horse 1" });
  if (up.error) throw new Error(`sign-up failed: ${up.error.code} ${up.error.message}`);
  return { sb, res: await sb.auth.signInWithPassword({ email, password: "correct horse 1" }) };
}

describe("custom access token hook (Postgres function)", () => {
  test("adds a claim that an RLS policy then uses through REST", async () => {
    await setMode("ok");
    const gold = await signUpAndIn(pgHook.url, pgHook.keys.anon, `g.${Date.now()}@gold.test`);
    expect(gold.res.error).toBeNull();
    expect(claimsOf(gold.res.data.session!.access_token).tier).toBe("gold");
    const rows = await gold.sb.from("perks").select("label").order("id");
    expect(rows.error).toBeNull();
    expect(rows.data).toEqual([{ label: "lounge" }, { label: "upgrade" }]);

    const plain = await signUpAndIn(pgHook.url, pgHook.keys.anon, uniqueEmail("plain"));
    expect(claimsOf(plain.res.data.session!.access_token).tier).toBe("silver");
    expect((await plain.sb.from("perks").select("label")).data).toEqual([{ label: "snack" }]);

    // Refreshed tokens go through the hook too.
    const refreshed = await gold.sb.auth.refreshSession();
    expect(claimsOf(refreshed.data.session!.access_token).tier).toBe("gold");
  });

  test("a hook that times out, raises, drops a required claim, stretches exp or refuses fails the sign-in clearly", async () => {
    const email = uniqueEmail("ugly");
    await signUpAndIn(pgHook.url, pgHook.keys.anon, email);
    const sb = client(pgHook.url, pgHook.keys.anon);
    const expectFail = async (mode: string, code: string, status: number) => {
      await setMode(mode);
      const started = Date.now();
      const r = await sb.auth.signInWithPassword({ email, password: "correct horse 1" });
      expect(r.error?.code).toBe(code);
      expect(r.error?.status).toBe(status);
      expect(r.data.session).toBeNull();
      return Date.now() - started;
    };
    const ms = await expectFail("slow", "hook_timeout", 422);
    expect(ms).toBeLessThan(2500);
    await expectFail("raise", "hook_failed", 422);
    await expectFail("drop_role", "hook_bad_response", 422);
    await expectFail("stretch", "hook_bad_response", 422);
    await expectFail("refuse", "hook_refused", 403);
    await setMode("ok");
    expect((await sb.auth.signInWithPassword({ email, password: "correct horse 1" })).error).toBeNull();
  });
});

describe("custom access token hook (HTTP, Standard Webhooks)", () => {
  test("signed payload, claims from the answer; timeout and refusal fail clearly", async () => {
    httpMode = "ok";
    const email = uniqueEmail("http");
    const { res } = await signUpAndIn(httpHook.url, httpHook.keys.anon, email);
    expect(res.error).toBeNull();
    const claims = claimsOf(res.data.session!.access_token);
    expect(claims).toMatchObject({ via: "http", method: "password", email });
    const last = received[received.length - 1]!;
    expect(last.verified).toBe(true);
    expect(last.body.user_id).toBe(res.data.user!.id);

    const sb = client(httpHook.url, httpHook.keys.anon);
    httpMode = "slow";
    const slow = await sb.auth.signInWithPassword({ email, password: "correct horse 1" });
    expect(slow.error?.code).toBe("hook_timeout");
    httpMode = "refuse";
    const refused = await sb.auth.signInWithPassword({ email, password: "correct horse 1" });
    expect(refused.error?.code).toBe("hook_refused");
    expect(refused.error?.message).toBe("Accounts on probation cannot sign in");
    httpMode = "ok";
  });
});

describe("send_email hook", () => {
  test("replaces SMTP: the confirmation mail goes to the hook, signed, and its link confirms the account", async () => {
    const email = uniqueEmail("mailhook");
    const sb = client(mailHook.url, mailHook.keys.anon);
    const up = await sb.auth.signUp({ email, password: "correct horse 1" });
    expect(up.error).toBeNull();
    expect(up.data.session).toBeNull();
    let mail: any;
    for (let i = 0; i < 200 && !mail; i++) {
      mail = mails.find((m) => m.user?.email === email);
      if (!mail) await Bun.sleep(25);
    }
    expect(received[received.length - 1]!.verified).toBe(true);
    // Supabase's SendEmailInput: the account as GoTrue's user JSON and the token fields, no rendered text.
    expect(mail.user).toMatchObject({ email, aud: "authenticated", role: "authenticated" });
    expect(mail.user.id).toBe(up.data.user!.id);
    expect(Object.keys(mail.email_data).sort()).toEqual(
      ["email_action_type", "redirect_to", "site_url", "token", "token_hash", "token_hash_new", "token_new"].sort(),
    );
    expect(mail.email_data).toMatchObject({ email_action_type: "signup", site_url: mailHook.url, token_new: "", token_hash_new: "" });
    expect(mail.email_data.token).toMatch(/^\d{6}$/);
    expect(mail.email_data.token_hash).toBeString();
    expect(mail.email_data.token_hash).not.toBe(mail.email_data.token);
    // The link a Supabase hook builds (as in Supabase's send-email hook guide) confirms the account.
    const d = mail.email_data;
    const link = `${d.site_url}/auth/v1/verify?token=${d.token_hash}&type=${d.email_action_type}&redirect_to=${encodeURIComponent(d.redirect_to)}`;
    const res = await fetch(link, { redirect: "manual" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toContain("access_token=");
  });

  test("the code (token) from a magic-link call verifies with verifyOtp; an email change is one call with GoTrue's pairing", async () => {
    const email = uniqueEmail("otphook");
    const sb = client(mailHook.url, mailHook.keys.anon);
    const seen = mails.length;
    expect((await sb.auth.signInWithOtp({ email, options: { shouldCreateUser: true } })).error).toBeNull();
    const waitMail = async (pred: (m: any) => boolean) => {
      for (let i = 0; i < 200; i++) {
        const m = mails.slice(seen).find(pred);
        if (m) return m;
        await Bun.sleep(25);
      }
      throw new Error("no hook call");
    };
    const first = await waitMail((m) => m.user?.email === email);
    const v = await sb.auth.verifyOtp({ email, token: first.email_data.token, type: first.email_data.email_action_type === "signup" ? "signup" : "email" });
    expect(v.error).toBeNull();
    expect(v.data.session).not.toBeNull();

    const newEmail = uniqueEmail("moved");
    const before = mails.length;
    expect((await sb.auth.updateUser({ email: newEmail })).error).toBeNull();
    await Bun.sleep(100);
    const calls = mails.slice(before).filter((m) => m.email_data?.email_action_type === "email_change");
    expect(calls.length).toBe(1);
    const change = calls[0];
    expect(change.user).toMatchObject({ email, new_email: newEmail });
    // Secure email change: token / token_hash_new for the current address, token_new / token_hash for the new one.
    expect(change.email_data.token).toMatch(/^\d{6}$/);
    expect(change.email_data.token_new).toMatch(/^\d{6}$/);
    expect(change.email_data.token_hash_new).toBeString();
    expect(change.email_data.token_hash_new).not.toBe("");
    const cur = await sb.auth.verifyOtp({ email, token: change.email_data.token, type: "email_change" });
    expect(cur.error).toBeNull();
    const nu = await sb.auth.verifyOtp({ email: newEmail, token: change.email_data.token_new, type: "email_change" });
    expect(nu.error).toBeNull();
    expect(nu.data.user?.email).toBe(newEmail);
  });

  test("as a Postgres function: the recovery mail's payload is Supabase's and its token_hash link works", async () => {
    const email = uniqueEmail("pgmail");
    const sb = client(attemptHook.url, attemptHook.keys.anon);
    expect((await sb.auth.signUp({ email, password: "correct horse 1" })).error).toBeNull();
    expect((await sb.auth.resetPasswordForEmail(email, { redirectTo: "http://localhost:3000/reset" })).error).toBeNull();
    // Recovery is answered before the mail goes out (a timing-safe answer): wait for the hook's row.
    let row: { payload: any } | undefined;
    for (let i = 0; i < 200 && !row; i++) {
      [row] = await attemptHook.database.db.sql<{ payload: any }[]>`
        select payload from public.sent_mail where payload->'user'->>'email' = ${email}`;
      if (!row) await Bun.sleep(25);
    }
    expect(row!.payload.email_data).toMatchObject({ email_action_type: "recovery", site_url: attemptHook.url, redirect_to: "http://localhost:3000/reset" });
    expect(row!.payload.user.identities[0].provider).toBe("email");
    const d = row!.payload.email_data;
    const res = await fetch(`${d.site_url}/auth/v1/verify?token=${d.token_hash}&type=${d.email_action_type}&redirect_to=${encodeURIComponent(d.redirect_to)}`, {
      redirect: "manual",
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toStartWith("http://localhost:3000/reset#access_token=");
  });

  test("a failing send_email hook fails the request clearly and leaves no half-made user", async () => {
    await attemptHook.database.db.sql.unsafe(`create or replace function public.send_email(event jsonb) returns jsonb language plpgsql as $$
      begin raise exception 'mail relay down'; end $$`);
    try {
      const email = uniqueEmail("pgmailfail");
      const sb = client(attemptHook.url, attemptHook.keys.anon);
      const r = await sb.auth.signInWithOtp({ email, options: { shouldCreateUser: true } });
      expect(r.error?.code).toBe("hook_failed");
      expect(r.error?.status).toBe(422);
      expect((await attemptHook.database.db.sql`select count(*)::int as n from auth.users where email = ${email}`)[0]!.n).toBe(0);
    } finally {
      await attemptHook.database.db.sql.unsafe(`create or replace function public.send_email(event jsonb) returns jsonb language plpgsql as $$
        begin insert into public.sent_mail values (event); return '{}'::jsonb; end $$`);
    }
  });
});

describe("send_sms hook", () => {
  test("as a Postgres function: { user, sms: { otp } }, and the otp verifies", async () => {
    const phone = `+23324${String(Date.now()).slice(-7)}`; // +233 24…: a valid Ghanaian mobile range whatever the clock says
    const sb = client(mailHook.url, mailHook.keys.anon);
    expect((await sb.auth.signInWithOtp({ phone })).error).toBeNull();
    const [row] = await mailHook.database.db.sql<{ payload: any }[]>`
      select payload from public.sent_sms where payload->'sms'->>'phone' = ${phone}`;
    expect(row!.payload.sms.otp).toMatch(/^\d{6}$/);
    expect(row!.payload.user.phone).toBe(phone.slice(1));
    expect(row!.payload.user.id).toBeString();
    const v = await sb.auth.verifyOtp({ phone, token: row!.payload.sms.otp, type: "sms" });
    expect(v.error).toBeNull();
    expect(v.data.user?.id).toBe(row!.payload.user.id);
  });

  test("over HTTP, signed: the sign-in code reaches the hook and signs the new user in", async () => {
    const phone = `+23324${String(Date.now() + 7).slice(-7)}`;
    const sb = client(httpHook.url, httpHook.keys.anon);
    const seen = texts.length;
    expect((await sb.auth.signInWithOtp({ phone })).error).toBeNull();
    let text: any;
    for (let i = 0; i < 200 && !text; i++) {
      text = texts.slice(seen).find((t) => t.sms?.phone === phone);
      if (!text) await Bun.sleep(25);
    }
    expect(text).toBeDefined();
    expect(received.find((r) => r.body === text)?.verified).toBe(true);
    expect(Object.keys(text.sms).sort()).toEqual(["otp", "phone"]);
    const v = await sb.auth.verifyOtp({ phone, token: text.sms.otp, type: "sms" });
    expect(v.error).toBeNull();
    expect(v.data.session).not.toBeNull();
    expect(text.user.id).toBe(v.data.user!.id);
  });
});

describe("password_verification_attempt hook", () => {
  test("continue signs in; reject of a valid attempt leaves no session; reject of an invalid attempt carries the hook's message", async () => {
    const ok = await signUpAndIn(attemptHook.url, attemptHook.keys.anon, uniqueEmail("fine"));
    expect(ok.res.error).toBeNull();

    const email = uniqueEmail("blocked");
    const blocked = await signUpAndIn(attemptHook.url, attemptHook.keys.anon, email);
    expect(blocked.res.error?.code).toBe("password_attempt_rejected");
    expect(blocked.res.error?.status).toBe(403);
    expect(blocked.res.error?.message).toBe("This account may not sign in");
    const id = (await attemptHook.database.db.sql`select id from auth.users where email = ${email}`)[0]!.id;
    // Only the sign-up's own session (autoconfirm) exists; the refused sign-in left none.
    expect((await attemptHook.database.db.sql`select count(*)::int as n from auth.sessions where user_id = ${id}`)[0]!.n).toBe(1);

    const sb = client(attemptHook.url, attemptHook.keys.anon);
    const wrong = await sb.auth.signInWithPassword({ email, password: "wrong wrong" });
    expect(wrong.error?.message).toBe("Locked by the password policy");
    const ghost = await sb.auth.signInWithPassword({ email: uniqueEmail("ghost"), password: "wrong wrong" });
    expect(ghost.error?.code).toBe("invalid_credentials");
  });
});

describe("mfa_verification_attempt hook", () => {
  test("a wrong code is refused with the hook's message; a rejected valid code leaves no aal2 session; continue verifies", async () => {
    const { sb, res } = await signUpAndIn(mfaHook.url, mfaHook.keys.anon, uniqueEmail("mfa"));
    expect(res.error).toBeNull();
    expect((await sb.auth.getSession()).data.session).not.toBeNull();
    const { data: f, error } = await sb.auth.mfa.enroll({ factorType: "totp", friendlyName: "app" });
    expect(error).toBeNull();
    const verifyWith = async (code: string) => {
      const ch = await sb.auth.mfa.challenge({ factorId: f!.id });
      if (!ch.data)
        throw new Error(`challenge for ${code}: ${ch.error?.code} ${ch.error?.message} ${JSON.stringify((await sb.auth.getSession()).data.session?.user?.id)}`);
      return sb.auth.mfa.verify({ factorId: f!.id, challengeId: ch.data!.id, code });
    };
    const wrong = await verifyWith("000000" === totp(f!.totp.secret) ? "111111" : "000000");
    expect(wrong.error?.code).toBe("mfa_verification_rejected");
    expect(wrong.error?.message).toBe("Too many wrong codes");
    await mfaHook.database.db.sql`update public.mfa_policy set mode = 'reject'`;
    // A second pending factor: a refused first verification must not clean it up either.
    const other = await sb.auth.mfa.enroll({ factorType: "totp", friendlyName: "spare" });
    expect(other.error).toBeNull();
    const paused = await verifyWith(totp(f!.totp.secret));
    expect(paused.error?.code).toBe("mfa_verification_rejected");
    expect(paused.error?.message).toBe("MFA is paused for this account");
    expect((await mfaHook.database.db.sql`select count(*)::int as n from auth.sessions where aal = 'aal2'`)[0]!.n).toBe(0);
    // The refusal on the factor's FIRST verification leaves it unverified (and the spare in place),
    // the session at aal1, and the code unspent.
    const factors = await mfaHook.database.db.sql<{ id: string; status: string; last_used_step: string | null }[]>`
      select id, status::text, last_used_step from auth.mfa_factors where id in (${f!.id}, ${other.data!.id})`;
    expect(factors.find((r) => r.id === f!.id)).toMatchObject({ status: "unverified", last_used_step: null });
    expect(factors.find((r) => r.id === other.data!.id)?.status).toBe("unverified");
    const aal = await sb.auth.mfa.getAuthenticatorAssuranceLevel();
    expect(aal.data?.currentLevel).toBe("aal1");
    const listed = await sb.auth.mfa.listFactors();
    expect(listed.data?.totp.length).toBe(0); // supabase-js lists verified factors only
    await sb.auth.mfa.unenroll({ factorId: other.data!.id });
    await mfaHook.database.db.sql`update public.mfa_policy set mode = 'continue'`;
    await Bun.sleep(50);
    const ok = await verifyWith(totp(f!.totp.secret, 1));
    expect(ok.error).toBeNull();
  });
});
