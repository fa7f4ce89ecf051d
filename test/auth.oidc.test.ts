// Sign-in with an OpenID Connect provider through the real redirect flow: a real IdP (oidc-provider,
// run by this file), a whole Plinth server, and the real supabase-js client (PKCE and implicit),
// plus signInWithIdToken, linkIdentity/unlinkIdentity, /settings, and the ugly cases: state
// mismatch, a replayed callback (code), a replayed PKCE code, a wrong issuer on the callback and in
// an ID token, an expired ID token, a nonce mismatch, an unknown provider, a foreign redirect_to.
import { afterAll, describe, expect, test } from "bun:test";
import { call, claimsOf, client, fragmentOf, uniqueEmail } from "./support/auth.ts";
import { browse, startIdp } from "./support/oidc-idp.ts";
import { startTestServer } from "./support/server.ts";

const SITE = "http://app.test";
const atApp = (u: URL) => u.origin === SITE;
const atCallback = (u: URL) => u.pathname === "/auth/v1/callback";

const idp = await startIdp({
  alice: { email: "alice@idp.test", name: "Alice" },
  bob: { email: "bob@idp.test" },
  carol: { email: "carol@idp.test" },
  dave: { email: "dave@idp.test" },
});
const srv = await startTestServer({
  auth: {
    autoconfirm: true,
    siteUrl: SITE,
    redirectUrls: [`${SITE}/*`],
    external: { oidc: { enabled: true, clientId: idp.clientId, secret: idp.clientSecret, url: idp.issuer } },
  },
});
idp.start([`${srv.url}/auth/v1/callback`]);
afterAll(() => idp.stop());
const sql = srv.database.db.sql;

describe("redirect flow with supabase-js", () => {
  test("/settings lists the enabled provider", async () => {
    const r = await call(srv.url, "GET", "/settings", { key: srv.keys.anon });
    expect(r.body.external.oidc).toBe(true);
    expect(r.body.external.github).toBe(false);
  });

  test("PKCE: signInWithOAuth → IdP login → ?code= → exchangeCodeForSession; identity as GoTrue writes it; code cannot be replayed", async () => {
    const sb = client(srv.url, srv.keys.anon, "pkce");
    const { data, error } = await sb.auth.signInWithOAuth({ provider: "oidc" as any, options: { redirectTo: `${SITE}/done`, skipBrowserRedirect: true } });
    expect(error).toBeNull();
    const start = new URL(data.url!);
    expect(start.searchParams.get("code_challenge")).toBeString();
    const hops: string[] = [];
    const back = await browse(data.url!, "alice", atApp, hops);
    expect(hops.some((h) => h.startsWith(`GET ${idp.issuer}/auth`))).toBe(true);
    expect(back.pathname).toBe("/done");
    const code = back.searchParams.get("code")!;
    expect(code).toBeString();
    expect(back.hash).toBe("");

    const ex = await sb.auth.exchangeCodeForSession(code);
    expect(ex.error).toBeNull();
    const user = ex.data.user!;
    expect(user.email).toBe("alice@idp.test");
    expect(user.app_metadata).toMatchObject({ provider: "oidc", providers: ["oidc"] });
    expect(user.user_metadata).toMatchObject({ email: "alice@idp.test", name: "Alice", sub: "alice", iss: idp.issuer });
    expect(user.identities).toHaveLength(1);
    expect(user.identities![0]).toMatchObject({
      provider: "oidc",
      id: "alice",
      identity_data: { sub: "alice", email: "alice@idp.test", email_verified: true },
    });
    expect(claimsOf(ex.data.session!.access_token).amr[0].method).toBe("oauth");
    const [row] = await sql`select provider_id, provider, email, last_sign_in_at from auth.identities where user_id = ${user.id}`;
    expect(row).toMatchObject({ provider_id: "alice", provider: "oidc", email: "alice@idp.test" });
    expect(row!.last_sign_in_at).toBeInstanceOf(Date);

    // The same authorisation code again: the flow is gone.
    const again = await call(srv.url, "POST", "/token?grant_type=pkce", { key: srv.keys.anon, body: { auth_code: code, code_verifier: "x".repeat(43) } });
    expect(again.status).toBe(404);
    expect(again.body.code).toBe("flow_state_not_found");

    // Signing in again finds the same user.
    const sb2 = client(srv.url, srv.keys.anon, "pkce");
    const second = await sb2.auth.signInWithOAuth({ provider: "oidc" as any, options: { redirectTo: `${SITE}/done`, skipBrowserRedirect: true } });
    const back2 = await browse(second.data.url!, "alice", atApp);
    const ex2 = await sb2.auth.exchangeCodeForSession(back2.searchParams.get("code")!);
    expect(ex2.data.user?.id).toBe(user.id);
  });

  test("implicit: the session comes back in the fragment", async () => {
    const sb = client(srv.url, srv.keys.anon, "implicit");
    const { data } = await sb.auth.signInWithOAuth({ provider: "oidc" as any, options: { redirectTo: `${SITE}/home`, skipBrowserRedirect: true } });
    const back = await browse(data.url!, "bob", atApp);
    const f = fragmentOf(back);
    expect(f.get("token_type")).toBe("bearer");
    expect(f.get("provider_token")).toBeString();
    const got = await sb.auth.getUser(f.get("access_token")!);
    expect(got.data.user?.email).toBe("bob@idp.test");
  });

  test("a verified address at the provider joins the existing account of that address", async () => {
    const sb = client(srv.url, srv.keys.anon);
    const signup = await sb.auth.signUp({ email: "carol@idp.test", password: "correct horse 1" });
    expect(signup.error).toBeNull();
    const { data } = await sb.auth.signInWithOAuth({ provider: "oidc" as any, options: { redirectTo: `${SITE}/x`, skipBrowserRedirect: true } });
    const back = await browse(data.url!, "carol", atApp);
    const got = await sb.auth.getUser(fragmentOf(back).get("access_token")!);
    expect(got.data.user?.id).toBe(signup.data.user!.id);
    expect(got.data.user?.identities?.map((i) => i.provider).sort()).toEqual(["email", "oidc"]);
  });
});

describe("linkIdentity / unlinkIdentity", () => {
  test("a signed-in user links the provider, then unlinks it; the last identity cannot go", async () => {
    const sb = client(srv.url, srv.keys.anon);
    const email = uniqueEmail("linker");
    await sb.auth.signUp({ email, password: "correct horse 1" });
    await sb.auth.signInWithPassword({ email, password: "correct horse 1" });
    const link = await sb.auth.linkIdentity({ provider: "oidc" as any, options: { redirectTo: `${SITE}/linked` } });
    expect(link.error).toBeNull();
    const back = await browse(link.data.url!, "dave", atApp);
    expect(back.searchParams.get("error")).toBeNull();
    const after = await sb.auth.getUserIdentities();
    expect(after.data?.identities.map((i) => i.provider).sort()).toEqual(["email", "oidc"]);
    const daveIdentity = after.data!.identities.find((i) => i.provider === "oidc")!;
    expect(daveIdentity.identity_data?.email).toBe("dave@idp.test");

    // The same IdP account cannot be linked to a second user.
    const other = client(srv.url, srv.keys.anon);
    const otherEmail = uniqueEmail("other");
    await other.auth.signUp({ email: otherEmail, password: "correct horse 1" });
    const link2 = await other.auth.linkIdentity({ provider: "oidc" as any, options: { redirectTo: `${SITE}/linked` } });
    const back2 = await browse(link2.data.url!, "dave", atApp);
    expect(back2.searchParams.get("error_code")).toBe("identity_already_exists");

    const un = await sb.auth.unlinkIdentity(daveIdentity);
    expect(un.error).toBeNull();
    const left = await sb.auth.getUserIdentities();
    expect(left.data?.identities.map((i) => i.provider)).toEqual(["email"]);
    const last = await sb.auth.unlinkIdentity(left.data!.identities[0]!);
    expect(last.error?.code).toBe("single_identity_not_deletable");
    // Someone else's identity is not found for this caller.
    const { data: s } = await other.auth.getSession();
    const foreign = await call(srv.url, "DELETE", `/user/identities/${left.data!.identities[0]!.identity_id}`, {
      key: srv.keys.anon,
      bearer: s.session!.access_token,
    });
    expect(foreign.status).toBe(404);
    expect(foreign.body.code).toBe("identity_not_found");
  });
});

describe("signInWithIdToken", () => {
  test("a valid ID token signs in; expired, foreign-issuer, wrong-audience and wrong-nonce tokens are refused", async () => {
    const sb = client(srv.url, srv.keys.anon);
    const ok = await sb.auth.signInWithIdToken({
      provider: "oidc" as any,
      token: await idp.mint({ sub: "native-1", email: "native@idp.test", email_verified: true }),
    });
    expect(ok.error).toBeNull();
    expect(ok.data.user?.identities?.[0]).toMatchObject({ provider: "oidc", id: "native-1" });

    const expired = await sb.auth.signInWithIdToken({ provider: "oidc" as any, token: await idp.mint({ sub: "native-2" }, { expiresIn: -300 }) });
    expect(expired.error?.code).toBe("bad_id_token");
    const foreign = await sb.auth.signInWithIdToken({
      provider: "oidc" as any,
      token: await idp.mint({ sub: "native-3" }, { issuer: "http://127.0.0.1:9/evil" }),
    });
    expect(foreign.error?.code).toBe("bad_id_token");
    const aud = await sb.auth.signInWithIdToken({ provider: "oidc" as any, token: await idp.mint({ sub: "native-4" }, { audience: "someone-else" }) });
    expect(aud.error?.code).toBe("bad_id_token");
    const nonce = await sb.auth.signInWithIdToken({ provider: "oidc" as any, token: await idp.mint({ sub: "native-5", nonce: "abc" }), nonce: "xyz" });
    expect(nonce.error?.code).toBe("bad_id_token");
    const nonceOk = await sb.auth.signInWithIdToken({ provider: "oidc" as any, token: await idp.mint({ sub: "native-6", nonce: "abc" }), nonce: "abc" });
    expect(nonceOk.error).toBeNull();
    const forged = (await idp.mint({ sub: "native-7" })).slice(0, -4) + "AAAA";
    expect((await sb.auth.signInWithIdToken({ provider: "oidc" as any, token: forged })).error?.code).toBe("bad_id_token");
    const c = await sql`select count(*)::int as n from auth.identities where provider_id in ('native-2','native-3','native-4','native-5','native-7')`;
    expect(c[0]!.n).toBe(0);
  });
});

describe("ugly cases", () => {
  test("state mismatch: an invented state goes back to the site URL with bad_oauth_state", async () => {
    const res = await fetch(`${srv.url}/auth/v1/callback?code=abc&state=forged`, { redirect: "manual" });
    expect(res.status).toBe(303);
    const loc = new URL(res.headers.get("location")!);
    expect(loc.origin).toBe(SITE);
    expect(loc.searchParams.get("error_code")).toBe("bad_oauth_state");
  });

  test("a replayed callback (same state and code) is refused; the first one worked", async () => {
    const sb = client(srv.url, srv.keys.anon);
    const { data } = await sb.auth.signInWithOAuth({ provider: "oidc" as any, options: { redirectTo: `${SITE}/r`, skipBrowserRedirect: true } });
    const cb = await browse(data.url!, "alice", atCallback);
    const first = await fetch(cb, { redirect: "manual" });
    expect(new URL(first.headers.get("location")!).hash).toContain("access_token=");
    const replay = await fetch(cb, { redirect: "manual" });
    expect(new URL(replay.headers.get("location")!).searchParams.get("error_code")).toBe("bad_oauth_state");
  });

  test("a different state than the one issued for this browser, or a wrong issuer on the callback, is refused", async () => {
    const sb = client(srv.url, srv.keys.anon);
    const { data } = await sb.auth.signInWithOAuth({ provider: "oidc" as any, options: { redirectTo: `${SITE}/w`, skipBrowserRedirect: true } });
    const cb = await browse(data.url!, "alice", atCallback);
    expect(cb.searchParams.get("iss")).toBe(idp.issuer);
    const wrong = new URL(cb);
    wrong.searchParams.set("iss", "http://127.0.0.1:9/evil");
    const res = await fetch(wrong, { redirect: "manual" });
    const loc = new URL(res.headers.get("location")!);
    expect(loc.pathname).toBe("/w");
    expect(loc.searchParams.get("error_code")).toBe("bad_oauth_callback");
    expect(loc.hash).toBe("");
    // The state was used up by the refused attempt: the genuine callback now fails too.
    const genuine = await fetch(cb, { redirect: "manual" });
    expect(new URL(genuine.headers.get("location")!).searchParams.get("error_code")).toBe("bad_oauth_state");

    // The IdP's code with another flow's state: the code was issued for a different PKCE verifier and nonce.
    const a = await sb.auth.signInWithOAuth({ provider: "oidc" as any, options: { redirectTo: `${SITE}/w`, skipBrowserRedirect: true } });
    const b = await sb.auth.signInWithOAuth({ provider: "oidc" as any, options: { redirectTo: `${SITE}/w`, skipBrowserRedirect: true } });
    const cbA = await browse(a.data.url!, "alice", atCallback);
    const stateB = new URL(new URL((await fetch(b.data.url!, { redirect: "manual" })).headers.get("location")!)).searchParams.get("state")!;
    const mixed = new URL(cbA);
    mixed.searchParams.set("state", stateB);
    const res2 = await fetch(mixed, { redirect: "manual" });
    expect(new URL(res2.headers.get("location")!).searchParams.get("error_code")).toBe("bad_oauth_callback");
  });

  test("unknown provider, disabled provider, foreign redirect_to", async () => {
    const r = await fetch(`${srv.url}/auth/v1/authorize?provider=myspace`, { redirect: "manual" });
    expect(r.status).toBe(400);
    expect((await r.json()).code).toBe("validation_failed");
    const g = await fetch(`${srv.url}/auth/v1/authorize?provider=github`, { redirect: "manual" });
    expect(g.status).toBe(400);
    const evil = await fetch(`${srv.url}/auth/v1/authorize?provider=oidc&redirect_to=${encodeURIComponent("https://evil.test/steal")}`, { redirect: "manual" });
    expect(evil.status).toBe(302);
    const back = await browse(evil.headers.get("location")!, "bob", (u) => u.origin !== idp.issuer && !u.pathname.startsWith("/auth/v1"));
    expect(back.origin).toBe(SITE);
  });
});
