// Auth hooks: the custom access token hook as a Postgres function adds a claim that an RLS policy
// then uses through REST (supabase-js); the same hook over HTTPS-style HTTP (loopback) with a
// Standard Webhooks signature the endpoint verifies; and the ugly cases: a hook that times out
// (function and HTTP), a hook that raises, a hook that drops a required claim or tries to stretch
// exp, a hook that refuses with its own error. Each fails the sign-in with a clear error code.
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
    hook: { custom_access_token: { enabled: true, uri: `http://127.0.0.1:${hookServer.port}/hook`, secrets: `v1,whsec_${SECRET_KEY}`, timeout: 500 } },
  },
});
const mailHook = await startTestServer({
  auth: {
    autoconfirm: false,
    siteUrl: "http://app.test",
    hook: { send_email: { enabled: true, uri: `http://127.0.0.1:${hookServer.port}/mail`, secrets: `v1,whsec_${SECRET_KEY}` } },
  },
});
const attemptHook = await startTestServer({
  auth: { autoconfirm: true, hook: { password_verification_attempt: { enabled: true, uri: "pg-functions://postgres/public/password_attempt" } } },
});
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
    expect(mail.email_data.subject).toBeString();
    expect(received[received.length - 1]!.verified).toBe(true);
    const link = /(https?:\/\/\S+\/auth\/v1\/verify\?[^\s"<]+)/.exec(mail.email_data.text)![1]!;
    const res = await fetch(link.replace(/&amp;/g, "&"), { redirect: "manual" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toContain("access_token=");
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
