import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { apiKeys, signJwt, verifyJwt } from "../src/lib/jwt.ts";

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

describe("only canonical unpadded base64url verifies (issue 11)", () => {
  const token = signJwt({ sub: "u1", role: "authenticated", exp: Math.floor(Date.now() / 1000) + 60 }, secret);
  const [h, p, s] = token.split(".") as [string, string, string];
  const std = (seg: string) => seg.replace(/-/g, "+").replace(/_/g, "/");
  const pad = (seg: string) => seg + "=".repeat((4 - (seg.length % 4)) % 4 || 1);

  test("the untouched token verifies (the variants below are refused for their encoding only)", () => {
    expect(verifyJwt(token, secret).ok).toBe(true);
  });

  test("`=` padding in any segment is refused", () => {
    expect(verifyJwt(`${pad(h)}.${p}.${s}`, secret)).toEqual({ ok: false, reason: "malformed" });
    expect(verifyJwt(`${h}.${pad(p)}.${s}`, secret)).toEqual({ ok: false, reason: "malformed" });
    expect(verifyJwt(`${h}.${p}.${s}=`, secret)).toEqual({ ok: false, reason: "malformed" });
    expect(verifyJwt(`${h}.${p}.${s}==`, secret)).toEqual({ ok: false, reason: "malformed" });
  });

  test("the standard alphabet (+ and /) is refused", () => {
    // A signature with a - or _ in it, so the standard-alphabet copy really differs.
    let t = token;
    for (let i = 0; !/[-_]/.test(t.split(".")[2]!); i++) {
      t = signJwt({ sub: "u1", role: "authenticated", n: i, exp: Math.floor(Date.now() / 1000) + 60 }, secret);
    }
    const [th, tp, ts] = t.split(".") as [string, string, string];
    expect(verifyJwt(t, secret).ok).toBe(true);
    expect(verifyJwt(`${th}.${tp}.${std(ts)}`, secret)).toEqual({ ok: false, reason: "malformed" });
    expect(verifyJwt(`${th}.${tp}.${std(ts)}=`, secret)).toEqual({ ok: false, reason: "malformed" });
    expect(verifyJwt(`${th}.${tp}.${ts.slice(0, -1)}+`, secret).ok).toBe(false);
    expect(verifyJwt(`${th}.${tp}.${ts.slice(0, -1)}/`, secret).ok).toBe(false);
  });

  test("non-canonical last characters and stray characters are refused", () => {
    // 32 bytes take 43 characters; the last carries 2 unused bits: flipping them keeps the bytes.
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const last = alphabet.indexOf(s.at(-1)!);
    const twin = `${s.slice(0, -1)}${alphabet[last ^ 1]}`;
    expect(Buffer.from(twin, "base64url").equals(Buffer.from(s, "base64url"))).toBe(true);
    expect(verifyJwt(`${h}.${p}.${twin}`, secret)).toEqual({ ok: false, reason: "malformed" });
    for (const junk of ["!", " ", "\n", "*", "%3D"]) {
      expect(verifyJwt(`${h}.${p}.${s}${junk}`, secret).ok).toBe(false);
      expect(verifyJwt(`${h}${junk}.${p}.${s}`, secret).ok).toBe(false);
      expect(verifyJwt(`${h}.${p.slice(0, 4)}${junk}${p.slice(4)}.${s}`, secret).ok).toBe(false);
    }
  });

  test("a header that is an array or names critical extensions is refused", () => {
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const mac = (hh: string) => createHmac("sha256", secret).update(`${hh}.${p}`).digest("base64url");
    const crit = enc({ alg: "HS256", typ: "JWT", crit: ["exp"] });
    expect(verifyJwt(`${crit}.${p}.${mac(crit)}`, secret)).toEqual({ ok: false, reason: "unsupported_alg" });
    const arr = enc(["HS256"]);
    expect(verifyJwt(`${arr}.${p}.${mac(arr)}`, secret)).toEqual({ ok: false, reason: "malformed" });
  });
});
