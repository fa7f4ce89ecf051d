import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { apiKeys, signJwt, verifyJwt } from "../src/lib/jwt.ts";

const secret = "a-secret-of-at-least-thirty-two-characters";

test("sign then verify round-trips the claims", async () => {
  const t = await signJwt({ sub: "u1", role: "authenticated", exp: Math.floor(Date.now() / 1000) + 60 }, secret);
  const r = await verifyJwt(t, secret);
  expect(r.ok && r.claims.sub).toBe("u1");
});

test("a changed payload or signature fails; a different secret fails", async () => {
  const t = await signJwt({ role: "anon" }, secret);
  const [h, p, s] = t.split(".");
  const tampered = `${h}.${Buffer.from('{"role":"service_role"}').toString("base64url")}.${s}`;
  expect(await verifyJwt(tampered, secret)).toEqual({ ok: false, reason: "bad_signature" });
  expect((await verifyJwt(`${h}.${p}.${s!.slice(0, -2)}xx`, secret)).ok).toBe(false);
  expect(await verifyJwt(t, secret + "x")).toEqual({ ok: false, reason: "bad_signature" });
});

test("expiry and not-before honour the leeway", async () => {
  const now = 1_000_000;
  expect((await verifyJwt(await signJwt({ exp: now - 10 }, secret), secret, now)).ok).toBe(true); // within 30 s
  expect(await verifyJwt(await signJwt({ exp: now - 31 }, secret), secret, now)).toEqual({ ok: false, reason: "expired" });
  expect((await verifyJwt(await signJwt({ exp: "soon" as unknown as number }, secret), secret, now)).ok).toBe(false);
  expect(await verifyJwt(await signJwt({ nbf: now + 100 }, secret), secret, now)).toEqual({ ok: false, reason: "not_yet_valid" });
});

test("alg other than HS256 is refused even with a valid-looking MAC", async () => {
  const h = Buffer.from(JSON.stringify({ alg: "HS512", typ: "JWT" })).toString("base64url");
  const p = Buffer.from("{}").toString("base64url");
  expect(await verifyJwt(`${h}.${p}.abc`, secret)).toEqual({ ok: false, reason: "unsupported_alg" });
});

test("malformed input never throws", async () => {
  for (const t of ["", ".", "..", "a.b.c", "e30.e30", "e30.W10.", "bnVsbA.bnVsbA.x", "\u0000.\u0000.\u0000"]) {
    expect((await verifyJwt(t, secret)).ok).toBe(false);
  }
});

test("API keys are stable for a secret and carry the two roles", async () => {
  const a = await apiKeys(secret);
  expect(await apiKeys(secret)).toEqual(a);
  const anon = await verifyJwt(a.anon, secret);
  const service = await verifyJwt(a.service_role, secret);
  expect(anon.ok && anon.claims.role).toBe("anon");
  expect(service.ok && service.claims.role).toBe("service_role");
});

// Computed with the hand-written HS256 code (node:crypto HMAC) before the move to jose: deployed
// clients hold these exact strings, so the same secret must keep producing them byte for byte.
test("the legacy anon/service_role keys are byte-identical to the ones earlier versions issued", async () => {
  const pinned = "pinned-secret-for-the-legacy-key-test-0123456789";
  expect(await apiKeys(pinned)).toEqual({
    anon: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJwbGludGgiLCJyb2xlIjoiYW5vbiIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoyMDE1MzYwMDAwfQ.q4ToGo47gvBHJh698pIprsF-zZ3F17tkxYPeQY2KOw0",
    service_role:
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJwbGludGgiLCJyb2xlIjoic2VydmljZV9yb2xlIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjIwMTUzNjAwMDB9.5s1fkwjrEmLIJbI9vy7OpDHtnyL73p6uTtKMOkRk3GY",
  });
  expect((await apiKeys(pinned, "https://example.test/auth/v1")).anon).toBe(
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2V4YW1wbGUudGVzdC9hdXRoL3YxIiwicm9sZSI6ImFub24iLCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MjAxNTM2MDAwMH0.Lw4Mj4DI31Sw46rtG8Wet0MJ05A43pnj1Dop-28aZ-4",
  );
  // And an independent HMAC over the same bytes agrees (jose signs exactly header.payload).
  const [h, p, sig] = (await apiKeys(pinned)).anon.split(".") as [string, string, string];
  expect(JSON.parse(Buffer.from(h, "base64url").toString())).toEqual({ alg: "HS256", typ: "JWT" });
  expect(createHmac("sha256", pinned).update(`${h}.${p}`).digest("base64url")).toBe(sig);
});

test("alg none, an empty signature and an HS256 token made with the wrong algorithm name are refused", async () => {
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const p = enc({ role: "service_role", exp: Math.floor(Date.now() / 1000) + 60 });
  for (const alg of ["none", "None", "NONE", "", "RS256", "ES256", "HS384"]) {
    const h = enc({ alg, typ: "JWT" });
    expect(await verifyJwt(`${h}.${p}.`, secret)).toEqual({ ok: false, reason: "unsupported_alg" });
    const mac = createHmac("sha256", secret).update(`${h}.${p}`).digest("base64url");
    expect(await verifyJwt(`${h}.${p}.${mac}`, secret)).toEqual({ ok: false, reason: "unsupported_alg" });
  }
  const h = enc({ alg: "HS256", typ: "JWT" });
  expect(await verifyJwt(`${h}.${p}.`, secret)).toEqual({ ok: false, reason: "bad_signature" });
});

const canonicalToken = await signJwt({ sub: "u1", role: "authenticated", exp: Math.floor(Date.now() / 1000) + 60 }, secret);

describe("only canonical unpadded base64url verifies (issue 11)", () => {
  const token = canonicalToken;
  const [h, p, s] = token.split(".") as [string, string, string];
  const std = (seg: string) => seg.replace(/-/g, "+").replace(/_/g, "/");
  const pad = (seg: string) => seg + "=".repeat((4 - (seg.length % 4)) % 4 || 1);

  test("the untouched token verifies (the variants below are refused for their encoding only)", async () => {
    expect((await verifyJwt(token, secret)).ok).toBe(true);
  });

  test("`=` padding in any segment is refused", async () => {
    expect(await verifyJwt(`${pad(h)}.${p}.${s}`, secret)).toEqual({ ok: false, reason: "malformed" });
    expect(await verifyJwt(`${h}.${pad(p)}.${s}`, secret)).toEqual({ ok: false, reason: "malformed" });
    expect(await verifyJwt(`${h}.${p}.${s}=`, secret)).toEqual({ ok: false, reason: "malformed" });
    expect(await verifyJwt(`${h}.${p}.${s}==`, secret)).toEqual({ ok: false, reason: "malformed" });
  });

  test("the standard alphabet (+ and /) is refused", async () => {
    // A signature with a - or _ in it, so the standard-alphabet copy really differs.
    let t = token;
    for (let i = 0; !/[-_]/.test(t.split(".")[2]!); i++) {
      t = await signJwt({ sub: "u1", role: "authenticated", n: i, exp: Math.floor(Date.now() / 1000) + 60 }, secret);
    }
    const [th, tp, ts] = t.split(".") as [string, string, string];
    expect((await verifyJwt(t, secret)).ok).toBe(true);
    expect(await verifyJwt(`${th}.${tp}.${std(ts)}`, secret)).toEqual({ ok: false, reason: "malformed" });
    expect(await verifyJwt(`${th}.${tp}.${std(ts)}=`, secret)).toEqual({ ok: false, reason: "malformed" });
    expect((await verifyJwt(`${th}.${tp}.${ts.slice(0, -1)}+`, secret)).ok).toBe(false);
    expect((await verifyJwt(`${th}.${tp}.${ts.slice(0, -1)}/`, secret)).ok).toBe(false);
  });

  test("non-canonical last characters and stray characters are refused", async () => {
    // 32 bytes take 43 characters; the last carries 2 unused bits: flipping them keeps the bytes.
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const last = alphabet.indexOf(s.at(-1)!);
    const twin = `${s.slice(0, -1)}${alphabet[last ^ 1]}`;
    expect(Buffer.from(twin, "base64url").equals(Buffer.from(s, "base64url"))).toBe(true);
    expect(await verifyJwt(`${h}.${p}.${twin}`, secret)).toEqual({ ok: false, reason: "malformed" });
    for (const junk of ["!", " ", "\n", "*", "%3D"]) {
      expect((await verifyJwt(`${h}.${p}.${s}${junk}`, secret)).ok).toBe(false);
      expect((await verifyJwt(`${h}${junk}.${p}.${s}`, secret)).ok).toBe(false);
      expect((await verifyJwt(`${h}.${p.slice(0, 4)}${junk}${p.slice(4)}.${s}`, secret)).ok).toBe(false);
    }
  });

  test("a header that is an array or names critical extensions is refused", async () => {
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const mac = (hh: string) => createHmac("sha256", secret).update(`${hh}.${p}`).digest("base64url");
    const crit = enc({ alg: "HS256", typ: "JWT", crit: ["exp"] });
    expect(await verifyJwt(`${crit}.${p}.${mac(crit)}`, secret)).toEqual({ ok: false, reason: "unsupported_alg" });
    const arr = enc(["HS256"]);
    expect(await verifyJwt(`${arr}.${p}.${mac(arr)}`, secret)).toEqual({ ok: false, reason: "malformed" });
  });
});
