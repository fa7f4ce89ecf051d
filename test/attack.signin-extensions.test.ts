// Attacks on sign-in beyond passwords (issue 17), which must keep failing to do harm: forged and
// oversized callback parameters, a session bounced to a foreign redirect_to, an unsigned ("alg":
// "none") or HS256-with-a-guessed-key ID token, ID-token replay into another user's account through
// linking without a session, unlinking someone else's identity, and a malformed PKCE challenge.
import { afterAll, describe, expect, test } from "bun:test";
import { SignJWT } from "jose";
import { call, client, uniqueEmail } from "./support/auth.ts";
import { startIdp } from "./support/oidc-idp.ts";
import { startTestServer } from "./support/server.ts";

const SITE = "http://app.test";
const idp = await startIdp({ eve: { email: "eve@idp.test" } });
const srv = await startTestServer({
  auth: { autoconfirm: true, siteUrl: SITE, external: { oidc: { enabled: true, clientId: idp.clientId, secret: idp.clientSecret, url: idp.issuer } } },
});
idp.start([`${srv.url}/auth/v1/callback`]);
afterAll(() => idp.stop());
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");

describe("OAuth callback and authorize", () => {
  test("oversized or forged callback parameters never reach a 500 and never sign anyone in", async () => {
    for (const q of [`state=${"a".repeat(20_000)}&code=x`, "state=&code=", "code=only", "state=%00%ff&code=%27%3B--", "error=access_denied&state=nope"]) {
      const r = await fetch(`${srv.url}/auth/v1/callback?${q}`, { redirect: "manual" });
      expect([303, 400, 414, 431]).toContain(r.status);
      if (r.status === 303) {
        const loc = new URL(r.headers.get("location")!);
        expect(loc.origin).toBe(SITE);
        expect(loc.hash).not.toContain("access_token");
      }
    }
    const post = await fetch(`${srv.url}/auth/v1/callback`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "state=zzz&code=1",
      redirect: "manual",
    });
    expect(post.status).toBe(303);
  });

  test("a malformed code_challenge is refused before any redirect", async () => {
    const r = await fetch(`${srv.url}/auth/v1/authorize?provider=oidc&code_challenge=short&code_challenge_method=s256`, { redirect: "manual" });
    expect(r.status).toBe(400);
    expect(((await r.json()) as any).code).toBe("validation_failed");
  });

  test("javascript: and credential-bearing redirect_to fall back to the site URL", async () => {
    for (const target of ["javascript:alert(1)", "https://user:pw@app.test/x", "//evil.test"]) {
      const r = await fetch(`${srv.url}/auth/v1/authorize?provider=oidc&redirect_to=${encodeURIComponent(target)}`, { redirect: "manual" });
      expect(r.status).toBe(302);
      const state = new URL(r.headers.get("location")!).searchParams.get("state")!;
      // The stored target is what the callback uses: answer with a forged code to see where errors go.
      const cb = await fetch(`${srv.url}/auth/v1/callback?state=${encodeURIComponent(state)}&code=forged`, { redirect: "manual" });
      expect(new URL(cb.headers.get("location")!).origin).toBe(SITE);
    }
  });
});

describe("ID tokens", () => {
  test("alg none, an HS256 token signed with the client secret, and a token without sub are refused", async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: idp.issuer, aud: idp.clientId, sub: "mallory", email: "victim@idp.test", email_verified: true, iat: now, exp: now + 600 };
    const none = `${b64({ alg: "none", typ: "JWT" })}.${b64(claims)}.`;
    const hs = await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(idp.clientSecret));
    const noSub = await idp.mint({ email: "x@idp.test" });
    for (const token of [none, hs, noSub, "not.a.jwt", "x".repeat(20_000)]) {
      const r = await call(srv.url, "POST", "/token?grant_type=id_token", { key: srv.keys.anon, body: { provider: "oidc", id_token: token } });
      expect([400, 422]).toContain(r.status);
    }
  });

  test("link_identity without a session is refused; a token cannot be linked into someone else's account", async () => {
    const token = await idp.mint({ sub: "eve-native", email: "eve2@idp.test", email_verified: true });
    const r = await call(srv.url, "POST", "/token?grant_type=id_token", {
      key: srv.keys.anon,
      body: { provider: "oidc", id_token: token, link_identity: true },
    });
    expect([401, 403]).toContain(r.status);
    const n = await srv.database.db.sql`select count(*)::int as n from auth.identities where provider_id = 'eve-native'`;
    expect(n[0]!.n).toBe(0);
  });

  test("a user cannot unlink another user's identity, nor pass a non-UUID", async () => {
    const a = client(srv.url, srv.keys.anon);
    const b = client(srv.url, srv.keys.anon);
    const ua = await a.auth.signUp({ email: uniqueEmail("a"), password: "correct horse 1" });
    const ub = await b.auth.signUp({ email: uniqueEmail("b"), password: "correct horse 1" });
    const targetId = ub.data.user!.identities![0]!.identity_id;
    const r = await call(srv.url, "DELETE", `/user/identities/${targetId}`, { key: srv.keys.anon, bearer: ua.data.session!.access_token });
    expect(r.status).toBe(404);
    const bad = await call(srv.url, "DELETE", `/user/identities/'%20or%201=1--`, { key: srv.keys.anon, bearer: ua.data.session!.access_token });
    expect(bad.status).toBe(404);
    const still = await b.auth.getUserIdentities();
    expect(still.data?.identities).toHaveLength(1);
  });
});
