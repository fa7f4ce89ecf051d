import { expect, test } from "bun:test";
import { apiKeys, signJwt, verifyJwt } from "../src/auth/jwt.ts";

const secret = "a-secret-of-at-least-thirty-two-characters";

test("sign then verify round-trips the claims", () => {
  const t = signJwt({ sub: "u1", role: "authenticated", exp: Math.floor(Date.now() / 1000) + 60 }, secret);
  const r = verifyJwt(t, secret);
  expect(r.ok && r.claims.sub).toBe("u1");
});

test("a changed payload or signature fails; a different secret fails", () => {
  const t = signJwt({ role: "anon" }, secret);
  const [h, p, s] = t.split(".");
  const tampered = `${h}.${Buffer.from('{"role":"service_role"}').toString("base64url")}.${s}`;
  expect(verifyJwt(tampered, secret)).toEqual({ ok: false, reason: "bad_signature" });
  expect(verifyJwt(`${h}.${p}.${s!.slice(0, -2)}xx`, secret).ok).toBe(false);
  expect(verifyJwt(t, secret + "x")).toEqual({ ok: false, reason: "bad_signature" });
});

test("expiry and not-before honour the leeway", () => {
  const now = 1_000_000;
  expect(verifyJwt(signJwt({ exp: now - 10 }, secret), secret, now).ok).toBe(true); // within 30 s
  expect(verifyJwt(signJwt({ exp: now - 31 }, secret), secret, now)).toEqual({ ok: false, reason: "expired" });
  expect(verifyJwt(signJwt({ exp: "soon" as unknown as number }, secret), secret, now).ok).toBe(false);
  expect(verifyJwt(signJwt({ nbf: now + 100 }, secret), secret, now)).toEqual({ ok: false, reason: "not_yet_valid" });
});

test("alg other than HS256 is refused even with a valid-looking MAC", () => {
  const h = Buffer.from(JSON.stringify({ alg: "HS512", typ: "JWT" })).toString("base64url");
  const p = Buffer.from("{}").toString("base64url");
  expect(verifyJwt(`${h}.${p}.abc`, secret)).toEqual({ ok: false, reason: "unsupported_alg" });
});

test("malformed input never throws", () => {
  for (const t of ["", ".", "..", "a.b.c", "e30.e30", "e30.W10.", "bnVsbA.bnVsbA.x", "\u0000.\u0000.\u0000"]) {
    expect(verifyJwt(t, secret).ok).toBe(false);
  }
});

test("API keys are stable for a secret and carry the two roles", () => {
  const a = apiKeys(secret);
  expect(apiKeys(secret)).toEqual(a);
  const anon = verifyJwt(a.anon, secret);
  const service = verifyJwt(a.service_role, secret);
  expect(anon.ok && anon.claims.role).toBe("anon");
  expect(service.ok && service.claims.role).toBe("service_role");
});
