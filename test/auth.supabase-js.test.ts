// Every auth flow through the real @supabase/supabase-js client, against a whole Plinth server with
// a real SMTP sink and an Arkesel-shaped SMS sink.
import { afterAll, describe, expect, test } from "bun:test";
import { claimsOf, client, codeOf, follow, fragmentOf, linkOf, uniqueEmail, uniquePhone } from "./support/auth.ts";
import { startTestServer, type TestServer } from "./support/server.ts";
import { startSmsSink, type SmsSink } from "./support/sms-sink.ts";
import { startSmtpSink, type SmtpSink } from "./support/smtp-sink.ts";

const SITE = "http://app.test";
// Top-level await: the server helper registers its own afterAll, which must belong to the file.
const smtp: SmtpSink = await startSmtpSink();
const sms: SmsSink = await startSmsSink();
const common = { smtp: { host: "127.0.0.1", port: smtp.port }, sms: sms.config("arkesel") };
/** autoconfirm off: confirmations by mail and SMS. */
const confirmSrv: TestServer = await startTestServer({
  ...common,
  auth: { autoconfirm: false, enableAnonymous: true, siteUrl: SITE, redirectUrls: [`${SITE}/*`] },
});
/** The two secure-change switches turned the other way. */
const strictSrv: TestServer = await startTestServer({
  ...common,
  auth: { autoconfirm: false, siteUrl: SITE, secureEmailChange: false, securePasswordChange: true },
});
/** autoconfirm on: sign-ups answer with a session. */
const openSrv: TestServer = await startTestServer({ ...common, auth: { autoconfirm: true, enableAnonymous: true, siteUrl: SITE } });

afterAll(async () => {
  await smtp.stop();
  await sms.stop();
});

const mailTo = (email: string) => smtp.waitFor((m) => m.to.includes(email));
const smsTo = (phone: string) => sms.waitFor((m) => m.to.some((t) => `+${t}` === phone || t === phone));

describe("sign-up and sign-in (autoconfirm on)", () => {
  test("email + password: sign-up answers a session; sign-in, getUser, refresh, sign-out", async () => {
    const sb = client(openSrv.url, openSrv.keys.anon);
    const email = uniqueEmail();
    const { data, error } = await sb.auth.signUp({ email, password: "correct horse 1", options: { data: { name: "Ada" } } });
    expect(error).toBeNull();
    expect(data.session?.access_token).toBeString();
    expect(data.session?.token_type).toBe("bearer");
    expect(data.user?.email).toBe(email);
    expect(data.user?.user_metadata).toEqual({ name: "Ada" });
    expect(data.user?.app_metadata).toEqual({ provider: "email", providers: ["email"] });
    expect(data.user?.identities?.[0]?.provider).toBe("email");
    expect(data.user?.email_confirmed_at).toBeString();

    const signIn = await sb.auth.signInWithPassword({ email: email.toUpperCase(), password: "correct horse 1" });
    expect(signIn.error).toBeNull();
    const session = signIn.data.session!;
    const claims = JSON.parse(Buffer.from(session.access_token.split(".")[1]!, "base64url").toString());
    expect(claims).toMatchObject({ sub: data.user!.id, aud: "authenticated", role: "authenticated", email, aal: "aal1", is_anonymous: false });
    expect(claims.session_id).toBeString();
    expect(claims.amr[0].method).toBe("password");
    expect(session.expires_at! - Math.floor(Date.now() / 1000)).toBeGreaterThan(3500);

    const got = await sb.auth.getUser(session.access_token);
    expect(got.error).toBeNull();
    expect(got.data.user?.id).toBe(data.user!.id);

    const refreshed = await sb.auth.refreshSession({ refresh_token: session.refresh_token });
    expect(refreshed.error).toBeNull();
    expect(refreshed.data.session?.refresh_token).not.toBe(session.refresh_token);

    await sb.auth.setSession({ access_token: refreshed.data.session!.access_token, refresh_token: refreshed.data.session!.refresh_token });
    const out = await sb.auth.signOut();
    expect(out.error).toBeNull();
    const after = await sb.auth.getUser(refreshed.data.session!.access_token);
    expect(after.error?.name).toBe("AuthSessionMissingError");
  });

  test("wrong password and unknown user answer the same", async () => {
    const sb = client(openSrv.url, openSrv.keys.anon);
    const email = uniqueEmail();
    await sb.auth.signUp({ email, password: "correct horse 1" });
    const wrong = await sb.auth.signInWithPassword({ email, password: "nope nope nope" });
    const unknown = await sb.auth.signInWithPassword({ email: uniqueEmail("ghost"), password: "nope nope nope" });
    expect(wrong.error?.code).toBe("invalid_credentials");
    expect(unknown.error?.code).toBe("invalid_credentials");
    expect(wrong.error?.message).toBe(unknown.error!.message);
    expect(wrong.error?.status).toBe(400);
  });

  test("repeated sign-up of a registered email is user_already_exists", async () => {
    const sb = client(openSrv.url, openSrv.keys.anon);
    const email = uniqueEmail();
    await sb.auth.signUp({ email, password: "correct horse 1" });
    const again = await sb.auth.signUp({ email, password: "correct horse 1" });
    expect(again.error?.code).toBe("user_already_exists");
  });

  test("weak password: 422 weak_password with reasons", async () => {
    const sb = client(openSrv.url, openSrv.keys.anon);
    const { error } = await sb.auth.signUp({ email: uniqueEmail(), password: "short" });
    expect(error?.name).toBe("AuthWeakPasswordError");
    expect(error?.code).toBe("weak_password");
    expect((error as unknown as { reasons: string[] }).reasons).toEqual(["length"]);
    expect(error?.status).toBe(422);
  });

  test("phone + password sign-up and sign-in", async () => {
    const sb = client(openSrv.url, openSrv.keys.anon);
    const phone = uniquePhone();
    const { data, error } = await sb.auth.signUp({ phone, password: "correct horse 1" });
    expect(error).toBeNull();
    expect(data.user?.phone).toBe(phone.slice(1));
    const signIn = await sb.auth.signInWithPassword({ phone, password: "correct horse 1" });
    expect(signIn.error).toBeNull();
    expect(signIn.data.user?.phone_confirmed_at).toBeString();
  });

  test("anonymous sign-in, then converting to a permanent user", async () => {
    const sb = client(openSrv.url, openSrv.keys.anon);
    const { data, error } = await sb.auth.signInAnonymously({ options: { data: { theme: "dark" } } });
    expect(error).toBeNull();
    expect(data.user?.is_anonymous).toBe(true);
    expect(data.user?.identities).toEqual([]);
    const claims = JSON.parse(Buffer.from(data.session!.access_token.split(".")[1]!, "base64url").toString());
    expect(claims.is_anonymous).toBe(true);
    // An anonymous user adding an email is confirmed directly under autoconfirm.
    const email = uniqueEmail("anon");
    const upd = await sb.auth.updateUser({ email, password: "correct horse 1" });
    expect(upd.error).toBeNull();
    expect(upd.data.user?.email).toBe(email);
    expect(upd.data.user?.is_anonymous).toBe(false);
    const signIn = await client(openSrv.url, openSrv.keys.anon).auth.signInWithPassword({ email, password: "correct horse 1" });
    expect(signIn.error).toBeNull();
  });

  test("updateUser: metadata merge, password change, same password refused", async () => {
    const sb = client(openSrv.url, openSrv.keys.anon);
    const email = uniqueEmail();
    await sb.auth.signUp({ email, password: "correct horse 1", options: { data: { a: 1, b: 2 } } });
    const md = await sb.auth.updateUser({ data: { b: null, c: 3 } });
    expect(md.error).toBeNull();
    expect(md.data.user?.user_metadata).toEqual({ a: 1, c: 3 });
    const same = await sb.auth.updateUser({ password: "correct horse 1" });
    expect(same.error?.code).toBe("same_password");
    const pw = await sb.auth.updateUser({ password: "battery staple 2" });
    expect(pw.error).toBeNull();
    const old = await client(openSrv.url, openSrv.keys.anon).auth.signInWithPassword({ email, password: "correct horse 1" });
    expect(old.error?.code).toBe("invalid_credentials");
    const fresh = await client(openSrv.url, openSrv.keys.anon).auth.signInWithPassword({ email, password: "battery staple 2" });
    expect(fresh.error).toBeNull();
  });

  test("settings and health", async () => {
    const res = await fetch(`${openSrv.url}/auth/v1/settings`, { headers: { apikey: openSrv.keys.anon } });
    const s = await res.json();
    expect(s.external.email).toBe(true);
    expect(s.external.phone).toBe(true);
    expect(s.external.anonymous_users).toBe(true);
    expect(s.mailer_autoconfirm).toBe(true);
    expect(s.sms_provider).toBe("arkesel");
    const h = await (await fetch(`${openSrv.url}/auth/v1/health`, { headers: { apikey: openSrv.keys.anon } })).json();
    expect(h.name).toBe("GoTrue");
  });
});

describe("confirmations (autoconfirm off)", () => {
  test("email sign-up: user without session; confirmation by the 6-digit code", async () => {
    const sb = client(confirmSrv.url, confirmSrv.keys.anon);
    const email = uniqueEmail();
    const { data, error } = await sb.auth.signUp({ email, password: "correct horse 1" });
    expect(error).toBeNull();
    expect(data.session).toBeNull();
    expect(data.user?.email).toBe(email);
    expect(data.user?.confirmation_sent_at).toBeString();
    const early = await sb.auth.signInWithPassword({ email, password: "correct horse 1" });
    expect(early.error?.code).toBe("email_not_confirmed");

    const mail = await mailTo(email);
    expect(mail.subject).toBe("Confirm your email");
    const code = codeOf(mail.text);
    const v = await sb.auth.verifyOtp({ email, token: code, type: "signup" });
    expect(v.error).toBeNull();
    expect(v.data.session?.access_token).toBeString();
    expect(v.data.user?.email_confirmed_at).toBeString();
    // single use
    const again = await sb.auth.verifyOtp({ email, token: code, type: "signup" });
    expect(again.error?.code).toBe("otp_expired");
    const signIn = await sb.auth.signInWithPassword({ email, password: "correct horse 1" });
    expect(signIn.error).toBeNull();
  });

  test("email sign-up confirmed by following the link (implicit flow fragment)", async () => {
    const sb = client(confirmSrv.url, confirmSrv.keys.anon);
    const email = uniqueEmail();
    await sb.auth.signUp({ email, password: "correct horse 1", options: { emailRedirectTo: `${SITE}/welcome` } });
    const mail = await mailTo(email);
    const link = linkOf(mail);
    expect(link.searchParams.get("type")).toBe("signup");
    const { status, location } = await follow(link);
    expect(status).toBe(303);
    expect(location.origin + location.pathname).toBe(`${SITE}/welcome`);
    const frag = fragmentOf(location);
    expect(frag.get("token_type")).toBe("bearer");
    expect(frag.get("type")).toBe("signup");
    const got = await sb.auth.getUser(frag.get("access_token")!);
    expect(got.data.user?.email).toBe(email);
    // followed twice: error in the fragment
    const second = await follow(link);
    expect(fragmentOf(second.location).get("error_code")).toBe("otp_expired");
  });

  test("a redirect_to outside the allow list falls back to the site URL", async () => {
    const sb = client(confirmSrv.url, confirmSrv.keys.anon);
    const email = uniqueEmail();
    await sb.auth.signUp({ email, password: "correct horse 1", options: { emailRedirectTo: "https://evil.test/steal" } });
    const { location } = await follow(linkOf(await mailTo(email)));
    expect(location.origin).toBe(SITE);
  });

  test("PKCE: sign-up link yields ?code=, exchanged for a session", async () => {
    const sb = client(confirmSrv.url, confirmSrv.keys.anon, "pkce");
    // PKCE keeps the verifier in storage: give the client an in-memory one.
    const email = uniqueEmail("pkce");
    const { error } = await sb.auth.signUp({ email, password: "correct horse 1", options: { emailRedirectTo: `${SITE}/cb` } });
    expect(error).toBeNull();
    const { location } = await follow(linkOf(await mailTo(email)));
    const code = location.searchParams.get("code");
    expect(code).toBeString();
    const ex = await sb.auth.exchangeCodeForSession(code!);
    expect(ex.error).toBeNull();
    expect(ex.data.session?.user.email).toBe(email);
  });

  test("magic link / email OTP for an existing user, and shouldCreateUser:false", async () => {
    const sb = client(confirmSrv.url, confirmSrv.keys.service_role);
    const email = uniqueEmail("otp");
    await sb.auth.admin.createUser({ email, email_confirm: true });
    smtp.clear();
    const anon = client(confirmSrv.url, confirmSrv.keys.anon);
    const sent = await anon.auth.signInWithOtp({ email });
    expect(sent.error).toBeNull();
    const mail = await mailTo(email);
    expect(mail.subject).toBe("Your sign-in link");
    expect(linkOf(mail).searchParams.get("type")).toBe("magiclink");
    const v = await anon.auth.verifyOtp({ email, token: codeOf(mail.text), type: "email" });
    expect(v.error).toBeNull();
    expect(v.data.session).not.toBeNull();

    const none = await anon.auth.signInWithOtp({ email: uniqueEmail("nobody"), options: { shouldCreateUser: false } });
    expect(none.error?.code).toBe("otp_disabled");
  });

  test("email OTP creates the user when allowed; token_hash verification", async () => {
    const anon = client(confirmSrv.url, confirmSrv.keys.anon);
    const email = uniqueEmail("new-otp");
    const sent = await anon.auth.signInWithOtp({ email, options: { data: { plan: "free" } } });
    expect(sent.error).toBeNull();
    const mail = await mailTo(email);
    const tokenHash = linkOf(mail).searchParams.get("token")!;
    const v = await anon.auth.verifyOtp({ token_hash: tokenHash, type: "email" });
    expect(v.error).toBeNull();
    expect(v.data.user?.email).toBe(email);
    expect(v.data.user?.user_metadata).toEqual({ plan: "free" });
    expect(v.data.user?.email_confirmed_at).toBeString();
  });

  test("password recovery: same answer for unknown emails; recovery code signs in, then a new password", async () => {
    const admin = client(confirmSrv.url, confirmSrv.keys.service_role);
    const email = uniqueEmail("rec");
    await admin.auth.admin.createUser({ email, password: "correct horse 1", email_confirm: true });
    const anon = client(confirmSrv.url, confirmSrv.keys.anon);
    const unknown = await anon.auth.resetPasswordForEmail(uniqueEmail("ghost"));
    expect(unknown.error).toBeNull();
    const known = await anon.auth.resetPasswordForEmail(email, { redirectTo: `${SITE}/reset` });
    expect(known.error).toBeNull();
    expect(known.data).toEqual(unknown.data);
    const mail = await mailTo(email);
    expect(mail.subject).toBe("Reset your password");
    const v = await anon.auth.verifyOtp({ email, token: codeOf(mail.text), type: "recovery" });
    expect(v.error).toBeNull();
    const upd = await anon.auth.updateUser({ password: "new password 2" });
    expect(upd.error).toBeNull();
    const s = await client(confirmSrv.url, confirmSrv.keys.anon).auth.signInWithPassword({ email, password: "new password 2" });
    expect(s.error).toBeNull();
  });

  test("resend of a signup confirmation issues a new code; the old one stops working", async () => {
    const anon = client(confirmSrv.url, confirmSrv.keys.anon);
    const email = uniqueEmail("resend");
    await anon.auth.signUp({ email, password: "correct horse 1" });
    const first = codeOf((await mailTo(email)).text);
    smtp.clear();
    const r = await anon.auth.resend({ type: "signup", email });
    expect(r.error).toBeNull();
    const second = codeOf((await mailTo(email)).text);
    if (first !== second) {
      const old = await anon.auth.verifyOtp({ email, token: first, type: "signup" });
      expect(old.error?.code).toBe("otp_expired");
    }
    const ok = await anon.auth.verifyOtp({ email, token: second, type: "signup" });
    expect(ok.error).toBeNull();
  });

  test("secure email change: codes to both addresses, the change applies at the second", async () => {
    const admin = client(confirmSrv.url, confirmSrv.keys.service_role);
    const email = uniqueEmail("old");
    await admin.auth.admin.createUser({ email, password: "correct horse 1", email_confirm: true });
    const sb = client(confirmSrv.url, confirmSrv.keys.anon);
    await sb.auth.signInWithPassword({ email, password: "correct horse 1" });
    const newEmail = uniqueEmail("new");
    const upd = await sb.auth.updateUser({ email: newEmail });
    expect(upd.error).toBeNull();
    expect(upd.data.user?.email).toBe(email);
    expect(upd.data.user?.new_email).toBe(newEmail);
    const [toNew, toOld] = [await mailTo(newEmail), await mailTo(email)];
    expect(toNew.subject).toBe("Confirm your new email address");
    expect(toOld.subject).toBe("Confirm your new email address");
    expect(codeOf(toOld.text)).not.toBe(linkOf(toNew).searchParams.get("token"));

    const first = await sb.auth.verifyOtp({ email: newEmail, token: codeOf(toNew.text), type: "email_change" });
    expect(first.error).toBeNull();
    expect(first.data.session).toBeNull();
    expect(first.data.user).toBeNull();
    expect((await sb.auth.getUser()).data.user?.email).toBe(email);
    const early = await client(confirmSrv.url, confirmSrv.keys.anon).auth.signInWithPassword({ email: newEmail, password: "correct horse 1" });
    expect(early.error?.code).toBe("invalid_credentials");

    const second = await sb.auth.verifyOtp({ email, token: codeOf(toOld.text), type: "email_change" });
    expect(second.error).toBeNull();
    expect(second.data.session?.user.email).toBe(newEmail);
    const s = await client(confirmSrv.url, confirmSrv.keys.anon).auth.signInWithPassword({ email: newEmail, password: "correct horse 1" });
    expect(s.error).toBeNull();
    const old = await client(confirmSrv.url, confirmSrv.keys.anon).auth.signInWithPassword({ email, password: "correct horse 1" });
    expect(old.error?.code).toBe("invalid_credentials");
  });

  test("secure email change by links with PKCE: message, then ?code=; a spent link's error is in the query", async () => {
    const admin = client(confirmSrv.url, confirmSrv.keys.service_role);
    const email = uniqueEmail("pold");
    await admin.auth.admin.createUser({ email, password: "correct horse 1", email_confirm: true });
    const sb = client(confirmSrv.url, confirmSrv.keys.anon, "pkce");
    await sb.auth.signInWithPassword({ email, password: "correct horse 1" });
    const newEmail = uniqueEmail("pnew");
    expect((await sb.auth.updateUser({ email: newEmail }, { emailRedirectTo: `${SITE}/cb` })).error).toBeNull();
    const [linkNew, linkOld] = [linkOf(await mailTo(newEmail)), linkOf(await mailTo(email))];
    expect(linkNew.searchParams.get("token")).toStartWith("pkce_");

    const first = await follow(linkOld);
    expect(first.location.origin + first.location.pathname).toBe(`${SITE}/cb`);
    const message = "Confirmation link accepted. Please proceed to confirm link sent to the other email";
    expect(first.location.searchParams.get("message")).toBe(message);
    expect(fragmentOf(first.location).get("message")).toBe(message);
    expect(first.location.searchParams.get("code")).toBeNull();

    const second = await follow(linkNew);
    const code = second.location.searchParams.get("code");
    expect(code).toBeString();
    const ex = await sb.auth.exchangeCodeForSession(code!);
    expect(ex.error).toBeNull();
    expect(ex.data.session?.user.email).toBe(newEmail);

    const spent = await follow(linkOld);
    expect(spent.location.searchParams.get("error_code")).toBe("otp_expired");
    expect(spent.location.searchParams.get("error_description")).toBe("Token has expired or is invalid");
    expect(fragmentOf(spent.location).get("error_code")).toBe("otp_expired");
  });

  test("SMS: phone sign-up confirmed by code over Arkesel, then OTP sign-in", async () => {
    const anon = client(confirmSrv.url, confirmSrv.keys.anon);
    const phone = uniquePhone();
    const { data, error } = await anon.auth.signUp({ phone, password: "correct horse 1" });
    expect(error).toBeNull();
    expect(data.session).toBeNull();
    const msg = await smsTo(phone);
    expect(msg.provider).toBe("arkesel");
    expect(msg.to).toEqual([phone.slice(1)]);
    const v = await anon.auth.verifyOtp({ phone, token: codeOf(msg.message), type: "sms" });
    expect(v.error).toBeNull();
    expect(v.data.user?.phone_confirmed_at).toBeString();

    sms.clear();
    const otp = await anon.auth.signInWithOtp({ phone });
    expect(otp.error).toBeNull();
    const msg2 = await smsTo(phone);
    const v2 = await anon.auth.verifyOtp({ phone, token: codeOf(msg2.message), type: "sms" });
    expect(v2.error).toBeNull();
  });

  test("phone change by SMS code", async () => {
    const admin = client(confirmSrv.url, confirmSrv.keys.service_role);
    const email = uniqueEmail("phonechange");
    await admin.auth.admin.createUser({ email, password: "correct horse 1", email_confirm: true });
    const sb = client(confirmSrv.url, confirmSrv.keys.anon);
    await sb.auth.signInWithPassword({ email, password: "correct horse 1" });
    const phone = uniquePhone();
    const upd = await sb.auth.updateUser({ phone });
    expect(upd.error).toBeNull();
    expect(upd.data.user?.new_phone).toBe(phone.slice(1));
    const msg = await smsTo(phone);
    const v = await sb.auth.verifyOtp({ phone, token: codeOf(msg.message), type: "phone_change" });
    expect(v.error).toBeNull();
    expect(v.data.user?.phone).toBe(phone.slice(1));
  });

  test("a failed SMS leaves no user behind", async () => {
    const anon = client(confirmSrv.url, confirmSrv.keys.anon);
    const phone = uniquePhone();
    sms.failNext(500);
    const { error } = await anon.auth.signUp({ phone, password: "correct horse 1" });
    expect(error?.status).toBe(502);
    const rows = await confirmSrv.database.db.sql`select id from auth.users where phone = ${phone.slice(1)}`;
    expect(rows.length).toBe(0);
    // and it works on retry
    const retry = await anon.auth.signUp({ phone, password: "correct horse 1" });
    expect(retry.error).toBeNull();
  });
});

describe("admin", () => {
  test("create, list with paging, get, update (ban, metadata, password), delete", async () => {
    const admin = client(confirmSrv.url, confirmSrv.keys.service_role);
    const emails = [uniqueEmail("a1"), uniqueEmail("a2"), uniqueEmail("a3")];
    const ids: string[] = [];
    for (const email of emails) {
      const { data, error } = await admin.auth.admin.createUser({
        email,
        password: "correct horse 1",
        email_confirm: true,
        user_metadata: { n: 1 },
        app_metadata: { tier: "gold" },
      });
      expect(error).toBeNull();
      expect(data.user?.app_metadata).toMatchObject({ tier: "gold", provider: "email" });
      ids.push(data.user!.id);
    }
    const dup = await admin.auth.admin.createUser({ email: emails[0]!, password: "correct horse 1" });
    expect(dup.error?.code).toBe("email_exists");

    const page = await admin.auth.admin.listUsers({ page: 1, perPage: 2 });
    expect(page.error).toBeNull();
    expect(page.data.users.length).toBe(2);
    expect((page.data as unknown as { total: number }).total).toBeGreaterThanOrEqual(3);
    expect((page.data as unknown as { nextPage: number }).nextPage).toBe(2);

    const got = await admin.auth.admin.getUserById(ids[0]!);
    expect(got.data.user?.email).toBe(emails[0]);

    const ban = await admin.auth.admin.updateUserById(ids[1]!, { ban_duration: "24h", user_metadata: { n: 2 } });
    expect(ban.error).toBeNull();
    expect(ban.data.user?.banned_until).toBeString();
    expect(ban.data.user?.user_metadata).toEqual({ n: 2 });
    const banned = await client(confirmSrv.url, confirmSrv.keys.anon).auth.signInWithPassword({ email: emails[1]!, password: "correct horse 1" });
    expect(banned.error?.code).toBe("user_banned");
    await admin.auth.admin.updateUserById(ids[1]!, { ban_duration: "none", password: "another pass 3" });
    const unbanned = await client(confirmSrv.url, confirmSrv.keys.anon).auth.signInWithPassword({ email: emails[1]!, password: "another pass 3" });
    expect(unbanned.error).toBeNull();

    const del = await admin.auth.admin.deleteUser(ids[2]!);
    expect(del.error).toBeNull();
    const gone = await admin.auth.admin.getUserById(ids[2]!);
    expect(gone.error?.code).toBe("user_not_found");
  });

  test("admin endpoints refuse the anon key and user tokens", async () => {
    const anon = client(confirmSrv.url, confirmSrv.keys.anon);
    const { error } = await anon.auth.admin.listUsers();
    expect(error?.status).toBe(403);
    expect(error?.code).toBe("not_admin");
  });

  test("generate_link: magiclink and signup links verify without any mail", async () => {
    const admin = client(confirmSrv.url, confirmSrv.keys.service_role);
    const email = uniqueEmail("gen");
    const signup = await admin.auth.admin.generateLink({ type: "signup", email, password: "correct horse 1", options: { redirectTo: `${SITE}/x` } });
    expect(signup.error).toBeNull();
    expect(signup.data.properties?.verification_type).toBe("signup");
    expect(signup.data.properties?.email_otp).toMatch(/^\d{6}$/);
    expect(signup.data.properties?.redirect_to).toBe(`${SITE}/x`);
    expect(signup.data.user?.email).toBe(email);
    const { location } = await follow(new URL(signup.data.properties!.action_link));
    expect(fragmentOf(location).get("access_token")).toBeString();

    const magic = await admin.auth.admin.generateLink({ type: "magiclink", email });
    const v = await client(confirmSrv.url, confirmSrv.keys.anon).auth.verifyOtp({ token_hash: magic.data.properties!.hashed_token, type: "magiclink" });
    expect(v.error).toBeNull();
    expect(smtp.messages.some((m) => m.to.includes(email))).toBe(false);
  });

  test("invite: mail with a link that signs the invited user in", async () => {
    const admin = client(confirmSrv.url, confirmSrv.keys.service_role);
    const email = uniqueEmail("invited");
    const inv = await admin.auth.admin.inviteUserByEmail(email, { data: { team: "x" } });
    expect(inv.error).toBeNull();
    expect(inv.data.user?.invited_at).toBeString();
    const mail = await mailTo(email);
    expect(mail.subject).toBe("You have been invited");
    const { location } = await follow(linkOf(mail));
    const frag = fragmentOf(location);
    expect(frag.get("type")).toBe("invite");
    const u = await client(confirmSrv.url, confirmSrv.keys.anon).auth.getUser(frag.get("access_token")!);
    expect(u.data.user?.email_confirmed_at).toBeString();
  });
});

describe("secureEmailChange off, securePasswordChange on", () => {
  test("email change: only the new address confirms", async () => {
    const admin = client(strictSrv.url, strictSrv.keys.service_role);
    const email = uniqueEmail("sold");
    await admin.auth.admin.createUser({ email, password: "correct horse 1", email_confirm: true });
    const sb = client(strictSrv.url, strictSrv.keys.anon);
    await sb.auth.signInWithPassword({ email, password: "correct horse 1" });
    const newEmail = uniqueEmail("snew");
    smtp.clear();
    expect((await sb.auth.updateUser({ email: newEmail })).error).toBeNull();
    const mail = await mailTo(newEmail);
    const v = await sb.auth.verifyOtp({ email: newEmail, token: codeOf(mail.text), type: "email_change" });
    expect(v.error).toBeNull();
    expect(v.data.session?.user.email).toBe(newEmail);
    expect(smtp.messages.filter((m) => m.to.includes(email))).toEqual([]);
    // and generate_link refuses a link for the current address
    const gen = await admin.auth.admin.generateLink({ type: "email_change_current", email: newEmail, newEmail: uniqueEmail("x") });
    expect(gen.error?.code).toBe("validation_failed");
  });

  test("reauthenticate() mails a nonce; an old session needs it to change the password", async () => {
    const admin = client(strictSrv.url, strictSrv.keys.service_role);
    const email = uniqueEmail("reauth");
    const { data: created } = await admin.auth.admin.createUser({ email, password: "correct horse 1", email_confirm: true });
    const sb = client(strictSrv.url, strictSrv.keys.anon);
    const { data: signedIn } = await sb.auth.signInWithPassword({ email, password: "correct horse 1" });

    // A fresh sign-in is recent enough (GoTrue: 24 hours).
    expect((await sb.auth.updateUser({ password: "battery staple 2" })).error).toBeNull();
    await strictSrv.database.db
      .sql`update auth.sessions set created_at = now() - interval '25 hours' where id = ${claimsOf(signedIn.session!.access_token).session_id}`;
    const needed = await sb.auth.updateUser({ password: "third pass 3" });
    expect(needed.error?.code).toBe("reauthentication_needed");
    expect(needed.error?.status).toBe(400);

    const re = await sb.auth.reauthenticate();
    expect(re.error).toBeNull();
    const mail = await mailTo(email);
    expect(mail.subject).toBe("Confirm reauthentication");
    const nonce = codeOf(mail.text);
    const [row] = await strictSrv.database.db
      .sql`select token_hash from auth.one_time_tokens where user_id = ${created.user!.id} and token_type = 'reauthentication_token'`;
    expect(row!.token_hash).not.toContain(nonce);
    expect((await sb.auth.getUser()).data.user as unknown as { reauthentication_sent_at?: string }).toHaveProperty("reauthentication_sent_at");

    const wrong = await sb.auth.updateUser({ password: "third pass 3", nonce: nonce === "000000" ? "111111" : "000000" });
    expect(wrong.error?.code).toBe("reauthentication_not_valid");
    expect(wrong.error?.status).toBe(422);
    // A weak password is refused before the nonce is spent.
    expect((await sb.auth.updateUser({ password: "short", nonce })).error?.code).toBe("weak_password");
    const ok = await sb.auth.updateUser({ password: "third pass 3", nonce });
    expect(ok.error).toBeNull();
    const reused = await sb.auth.updateUser({ password: "fourth pass 4", nonce });
    expect(reused.error?.code).toBe("reauthentication_not_valid");
    const s = await client(strictSrv.url, strictSrv.keys.anon).auth.signInWithPassword({ email, password: "third pass 3" });
    expect(s.error).toBeNull();
  });

  test("password recovery still works: the recovery session is recent", async () => {
    const admin = client(strictSrv.url, strictSrv.keys.service_role);
    const email = uniqueEmail("srec");
    await admin.auth.admin.createUser({ email, password: "correct horse 1", email_confirm: true });
    const anon = client(strictSrv.url, strictSrv.keys.anon);
    await anon.auth.resetPasswordForEmail(email);
    const v = await anon.auth.verifyOtp({ email, token: codeOf((await mailTo(email)).text), type: "recovery" });
    expect(v.error).toBeNull();
    expect((await anon.auth.updateUser({ password: "new password 2" })).error).toBeNull();
  });
});
